"""Things from a COCO instances file (the reference's
``coco_2017_train_panoptic_separated``), stuff from the panoptic PNG, on
the two real COCO images with an instances JSON written from their PNGs."""
import copy
import json
import os.path as osp

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from mmpfcn.registry import DATASETS
from mmpfcn.testing.dataset_checks import logged_warnings, read_ids
from mmpfcn.utils import register_all_modules

PIPELINE = [dict(type='LoadPanopticFCNAnnotations')]
BICYCLE = 2  # COCO category id; label 1 (things first, file order)


@pytest.fixture(scope='module', autouse=True)
def _registry():
    register_all_modules()


def _panoptic(coco_sample_dir):
    with open(osp.join(coco_sample_dir, 'panoptic_examples.json')) as f:
        return json.load(f)


def _box_polygon(bbox):
    x, y, w, h = bbox
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def _instances_content(coco_sample_dir):
    """An instances JSON for the two images, written from their panoptic
    segments in the formats COCO uses, and different from the PNG where
    the test can tell: even-numbered things get their box as polygon (not
    their PNG shape), odd-numbered ones their PNG mask as compressed RLE,
    crowds an uncompressed RLE; the first thing of each image is relabelled
    bicycle and the last non-crowd thing of each image is left out. Each
    annotation notes its ``panoptic_segment`` (a field COCO ignores)."""
    panoptic = _panoptic(coco_sample_dir)
    things = {c['id'] for c in panoptic['categories'] if c['isthing']}
    annotations = []
    for pan in panoptic['annotations']:
        ids = read_ids(
            osp.join(coco_sample_dir, 'panoptic', pan['file_name']))
        segments = [s for s in pan['segments_info']
                    if s['category_id'] in things]
        last = max(i for i, s in enumerate(segments) if not s['iscrowd'])
        for i, seg in enumerate(segments):
            if i == last:
                continue
            mask = np.asfortranarray((ids == seg['id']).astype(np.uint8))
            if seg['iscrowd']:
                # uncompressed RLE: run lengths, column-major, zeros first
                flat = mask.flatten(order='F')
                starts = np.flatnonzero(np.diff(flat)) + 1
                runs = np.diff(np.r_[0, starts, flat.size])
                if flat[0]:
                    runs = np.r_[0, runs]
                segm = dict(counts=runs.tolist(), size=list(mask.shape))
            elif i % 2 == 0:
                segm = _box_polygon(seg['bbox'])
            else:
                rle = mask_utils.encode(mask)
                segm = dict(counts=rle['counts'].decode(),
                            size=list(mask.shape))
            annotations.append(
                dict(id=len(annotations) + 1, image_id=pan['image_id'],
                     category_id=BICYCLE if i == 0 else seg['category_id'],
                     iscrowd=seg['iscrowd'], area=seg['area'],
                     bbox=seg['bbox'], segmentation=segm,
                     panoptic_segment=seg['id']))
    return dict(
        images=copy.deepcopy(panoptic['images']), annotations=annotations,
        categories=[
            dict(id=c['id'], name=c['name'],
                 supercategory=c['supercategory'])
            for c in panoptic['categories'] if c['isthing']
        ])


@pytest.fixture
def instances(tmp_path, coco_sample_dir):
    """(path of the instances JSON, its content)."""
    content = _instances_content(coco_sample_dir)
    path = tmp_path / 'instances_examples.json'
    path.write_text(json.dumps(content))
    return path, content


def _build(coco_sample_dir, instances_file=None, test_mode=False,
           **overrides):
    cfg = dict(
        type='PanopticFCNCocoDataset', data_root=coco_sample_dir,
        ann_file='panoptic_examples.json',
        data_prefix=dict(img='images/', seg='panoptic/'),
        instances_file=instances_file, pipeline=PIPELINE,
        test_mode=test_mode,
        filter_cfg=dict(filter_empty_gt=True, min_size=32))
    cfg.update(overrides)
    return DATASETS.build(cfg)


def _decode(segm, height, width):
    if isinstance(segm, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segm, height, width))
    else:
        rle = mask_utils.frPyObjects(segm, height, width) if isinstance(
            segm['counts'], list) else segm
    return mask_utils.decode(rle)


def test_things_from_the_instances_file_stuff_from_the_png(
        coco_sample_dir, instances):
    path, content = instances
    panoptic = _panoptic(coco_sample_dir)
    things = [c['id'] for c in panoptic['categories'] if c['isthing']]
    separated = _build(coco_sample_dir, str(path))
    from_png = _build(coco_sample_dir)
    assert len(separated) == len(from_png) == 2
    for index in range(2):
        ours, ref = separated[index], from_png[index]
        img_id = ours['img_id']
        anns = [a for a in content['annotations'] if a['image_id'] == img_id]
        height, width = ours['height'], ours['width']
        assert len(anns) == len(ours['gt_bboxes']) == \
            len(ref['gt_bboxes']) - 1
        x, y, w, h = np.array([a['bbox'] for a in anns], np.float32).T
        np.testing.assert_array_equal(ours['gt_bboxes'].numpy(),
                                      np.stack([x, y, x + w, y + h], 1))
        np.testing.assert_array_equal(
            ours['gt_bboxes_labels'],
            [things.index(a['category_id']) for a in anns])
        assert ours['gt_bboxes_labels'][0] == 1  # relabelled bicycle
        np.testing.assert_array_equal(ours['gt_ignore_flags'],
                                      [a['iscrowd'] for a in anns])
        ids = read_ids(ours['seg_map_path'])
        masks = ours['gt_masks'].masks
        assert masks.shape == (len(anns), height, width)
        for mask, ann in zip(masks, anns):
            np.testing.assert_array_equal(
                mask, _decode(ann['segmentation'], height, width))
            # the box polygons differ from the PNG's shapes; RLEs were
            # written from them
            png_mask = ids == ann['panoptic_segment']
            assert np.array_equal(mask, png_mask) == isinstance(
                ann['segmentation'], dict)
        # stuff and thing pixels of the semantic map: the panoptic PNG
        np.testing.assert_array_equal(ours['gt_seg_map'], ref['gt_seg_map'])


def test_config_example_reads_the_instances_file(coco_sample_dir, instances):
    from mmengine.config import Config
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(
        osp.join(root, 'configs/panoptic_fcn',
                 'panoptic-fcn_r50_fpn_3x_coco-panoptic-separated.py'))
    dataset_cfg = cfg.train_dataloader.dataset
    assert dataset_cfg.instances_file == \
        'annotations/instances_train2017.json'
    dataset_cfg.update(
        data_root=coco_sample_dir, ann_file='panoptic_examples.json',
        data_prefix=dict(img='images/', seg='panoptic/'),
        instances_file=str(instances[0]))
    sample = DATASETS.build(dataset_cfg)[0]['data_samples']
    assert len(sample.gt_instances) > 0
    assert sample.gt_instances.masks.masks.shape[0] == len(
        sample.gt_instances)


def test_training_filter_uses_the_instances_file(coco_sample_dir, instances,
                                                 tmp_path):
    path, content = instances
    first = content['images'][0]['id']
    for ann in content['annotations']:
        if ann['image_id'] == first:
            ann['iscrowd'] = 1  # only crowds left in the first image
    path.write_text(json.dumps(content))
    with logged_warnings() as warnings:
        kept = _build(coco_sample_dir, str(path))
    assert len(kept) == 1
    assert kept.get_data_info(0)['img_id'] == content['images'][1]['id']
    assert any('drops 1 of 2 training images' in w for w in warnings)
    assert len(_build(coco_sample_dir, str(path), test_mode=True)) == 2


def test_degenerate_annotations_are_skipped(coco_sample_dir, instances):
    path, content = instances
    anns = content['annotations']
    anns[0]['bbox'][2] = 0.5  # a box under one pixel
    anns[1]['segmentation'] = [[1, 2, 3, 4]]  # a polygon of two points
    path.write_text(json.dumps(content))
    with logged_warnings() as warnings:
        dataset = _build(coco_sample_dir, str(path))
    assert any('skipped 2 annotation(s)' in w for w in warnings)
    first = [a for a in anns if a['image_id'] == anns[0]['image_id']]
    assert len(dataset.get_data_info(0)['instances']) == len(first) - 2


@pytest.mark.parametrize('change, error, message', [
    ('missing_file', FileNotFoundError,
     r'instances_file .*no_such\.json does not exist'),
    ('image_absent', ValueError,
     r'instances_examples\.json has no image 439180 '
     r'\(.*000000439180\.jpg\), which .*panoptic_examples\.json lists'),
    ('unknown_category', ValueError,
     r'instances_examples\.json: annotation 1 of image 142238 has '
     r'category_id 999, which is not a thing class'),
    ('stuff_category', ValueError,
     r'annotation 1 of image 142238 has category_id 184, which is not a '
     r'thing class'),
    ('renamed_category', ValueError,
     r"name categories differently \(id: \(instances, panoptic\)\) "
     r"\{1: \('pedestrian', 'person'\)\}"),
    ('bad_segmentation', ValueError,
     r'annotation 1 of image 142238: a segmentation must be an RLE dict'),
    ('rle_of_another_size', ValueError,
     r'annotation 1 of image 142238: an RLE segmentation needs "counts" '
     r'and "size" \[427, 640\]'),
    ('missing_field', ValueError,
     r"annotation 1 of image 142238 lacks field\(s\) \['bbox'\]"),
    ('not_instances', ValueError,
     r"instances_examples\.json has no 'annotations' field"),
])
def test_bad_instances_file(coco_sample_dir, instances, change, error,
                            message):
    path, content = instances
    first = content['annotations'][0]
    assert first['image_id'] == 142238
    if change == 'image_absent':
        content['images'] = content['images'][:1]
        content['annotations'] = [
            a for a in content['annotations'] if a['image_id'] == 142238
        ]
    elif change == 'unknown_category':
        first['category_id'] = 999
    elif change == 'stuff_category':
        first['category_id'] = 184  # 'tree-merged', a panoptic stuff class
    elif change == 'renamed_category':
        content['categories'][0]['name'] = 'pedestrian'
    elif change == 'bad_segmentation':
        first['segmentation'] = [[1, 2, 3, 4, 5]]
    elif change == 'rle_of_another_size':
        first['segmentation'] = dict(counts='abc', size=[10, 10])
    elif change == 'missing_field':
        del first['bbox']
    elif change == 'not_instances':
        del content['annotations']
    path.write_text(json.dumps(content))
    instances_file = (str(path.parent / 'no_such.json')
                      if change == 'missing_file' else str(path))
    with pytest.raises(error, match=message):
        _build(coco_sample_dir, instances_file)
