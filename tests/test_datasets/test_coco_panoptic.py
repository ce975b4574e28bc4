"""The COCO-panoptic data pipeline on real COCO ground truth and on the
synthetic dataset: dataset + train/test pipelines of the configs, checked
against the JSON and the PNGs."""
import copy
import json
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine import Config

from mmpfcn.datasets.synthetic import synthetic_metainfo
from mmpfcn.registry import DATASETS
from mmpfcn.testing.dataset_checks import (
    logged_warnings,
    nearest_resize_area_bound,
    read_ids,
)
from mmpfcn.utils import register_all_modules

PROJECT_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(PROJECT_ROOT, 'configs', '_base_', 'datasets')
COCO_LAYOUT = dict(
    ann_file='panoptic_examples.json',
    data_prefix=dict(img='images/', seg='panoptic/'))


@pytest.fixture(scope='module', autouse=True)
def _registry():
    register_all_modules()


def _config(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIG_DIR, f'{name}.py'))


def _build(config: str, split: str, data_root: str, **overrides):
    """The dataset of a config's train or val loader at ``data_root``."""
    loader = _config(config)[f'{split}_dataloader']
    cfg = copy.deepcopy(loader.dataset)
    cfg.update(data_root=data_root, **overrides)
    return DATASETS.build(cfg)


def _datasets(coco_sample_dir, synthetic_dataset_dir, split, **overrides):
    return [
        _build('coco_panoptic', split, coco_sample_dir, **COCO_LAYOUT,
               **overrides),
        _build('synthetic_panoptic', split, synthetic_dataset_dir,
               **overrides),
    ]


class _GroundTruth:
    """A dataset's JSON and PNGs, read independently of the code under test.

    Labels are the JSON category ids in file order, things first.
    """

    def __init__(self, dataset) -> None:
        with open(dataset.ann_file) as f:
            content = json.load(f)
        cats = content['categories']
        ordered = ([c for c in cats if c['isthing']] +
                   [c for c in cats if not c['isthing']])
        self.label = {c['id']: i for i, c in enumerate(ordered)}
        self.num_things = sum(c['isthing'] for c in cats)
        self.thing_ids = {c['id'] for c in cats if c['isthing']}
        self.segments = {
            a['image_id']: a['segments_info']
            for a in content['annotations']
        }
        self.seg_dir = dataset.data_prefix['seg']

    def image(self, img_id: int, img_path: str) -> tuple:
        """Segments and (H, W) ids of one image."""
        stem = osp.splitext(osp.basename(img_path))[0]
        ids = read_ids(osp.join(self.seg_dir, f'{stem}.png'))
        return self.segments[img_id], ids

    def stuff_value(self, cat_id: int) -> int:
        """Stuff-map value: 0 for things, 1..S for stuff classes."""
        if cat_id in self.thing_ids:
            return 0
        return self.label[cat_id] - self.num_things + 1


def _check_sample(gt: _GroundTruth, sample, exact: bool) -> None:
    """Instances and stuff map of one packed sample against JSON and PNG.

    Args:
        exact: the ground truth is at the original size (test pipeline);
            otherwise it was resized and the areas must lie within
            :func:`nearest_resize_area_bound` of the scaled JSON area.
    """
    segments, ids = gt.image(sample.img_id, sample.img_path)
    things = [s for s in segments if s['category_id'] in gt.thing_ids]
    for key, crowd in (('gt_instances', 0), ('ignored_instances', 1)):
        expected = [s for s in things if s['iscrowd'] == crowd]
        instances = sample.get(key)
        assert instances.labels.tolist() == [
            gt.label[s['category_id']] for s in expected
        ]
        masks = instances.masks.masks
        out_h, out_w = masks.shape[1:]
        for seg, mask in zip(expected, masks):
            if exact:
                assert mask.sum() == seg['area']
                np.testing.assert_array_equal(mask, ids == seg['id'])
            else:
                scaled = seg['area'] * out_h * out_w / ids.size
                bound = nearest_resize_area_bound(ids == seg['id'], out_h,
                                                  out_w)
                assert abs(int(mask.sum()) - scaled) <= bound

    stuff = sample.gt_sem_seg.sem_seg[0].numpy()
    values = np.zeros(ids.shape, dtype=np.int64) + 255
    for seg in segments:
        values[ids == seg['id']] = gt.stuff_value(seg['category_id'])
    expected_values = {gt.stuff_value(s['category_id']) for s in segments}
    if (ids == 0).any():
        expected_values.add(255)
    found = set(np.unique(stuff).tolist())
    if exact:
        assert found == expected_values
        np.testing.assert_array_equal(stuff, values)
        for seg in segments:
            if seg['category_id'] not in gt.thing_ids:
                assert (stuff == gt.stuff_value(
                    seg['category_id'])).sum() == seg['area']
    else:
        # a class may vanish when shrinking, never appear
        assert found <= expected_values
        out_h, out_w = stuff.shape
        for value in expected_values:
            area = (values == value).sum() * out_h * out_w / ids.size
            bound = nearest_resize_area_bound(values == value, out_h, out_w)
            assert abs(int((stuff == value).sum()) - area) <= bound


def test_coco_labels_follow_the_133_categories_things_first(coco_sample_dir):
    dataset = _build('coco_panoptic', 'train', coco_sample_dir,
                     **COCO_LAYOUT)
    with open(osp.join(coco_sample_dir, 'panoptic_coco_categories.json')) as f:
        categories = json.load(f)
    assert dataset.cat_ids == [c['id'] for c in categories]
    assert dataset.metainfo['classes'] == tuple(c['name'] for c in categories)
    assert len(dataset.metainfo['thing_classes']) == 80
    assert len(dataset) == 2
    # image 439180: 13 persons, 2 trucks (id 8), 11 horses (id 19) and a
    # crowd of persons and one of horses (label 17: category
    # id 12 is unused); 4 stuff segments, 32 segments in all
    info = next(
        info for info in map(dataset.get_data_info, range(len(dataset)))
        if info['img_id'] == 439180)
    flags = [i['ignore_flag'] for i in info['instances']]
    assert (len(flags), sum(flags)) == (28, 2)
    assert [i['bbox_label'] for i in info['instances'] if i['ignore_flag']
            ] == [0, 17]
    assert len(info['segments_info']) == 32
    assert info['seg_map_path'].endswith('panoptic/000000439180.png')


@pytest.mark.parametrize('name, split', [('coco', 'val'),
                                         ('synthetic', 'val'),
                                         ('synthetic', 'train')])
def test_test_pipeline_gives_the_exact_ground_truth(name, split,
                                                    coco_sample_dir,
                                                    synthetic_dataset_dir):
    if name == 'coco':
        dataset = _build('coco_panoptic', 'val', coco_sample_dir,
                         **COCO_LAYOUT)
    else:
        dataset = _build(
            'synthetic_panoptic', 'val', synthetic_dataset_dir,
            ann_file=f'annotations/panoptic_{split}.json',
            data_prefix=dict(img=f'{split}/',
                             seg=f'annotations/panoptic_{split}/'))
    gt = _GroundTruth(dataset)
    num_crowd = 0
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        _check_sample(gt, sample, exact=True)
        num_crowd += len(sample.ignored_instances)
    assert num_crowd == sum(
        s['iscrowd'] for segs in gt.segments.values() for s in segs
        if s['category_id'] in gt.thing_ids)
    # crowds really went through: 1 + 2 in the COCO images, some among the
    # synthetic training images (seed 0)
    if (name, split) != ('synthetic', 'val'):
        assert num_crowd >= (3 if name == 'coco' else 1)


@pytest.mark.parametrize('name', ['coco', 'synthetic'])
def test_train_pipeline_resizes_within_the_configured_range(
        name, coco_sample_dir, synthetic_dataset_dir):
    datasets = _datasets(coco_sample_dir, synthetic_dataset_dir, 'train')
    dataset = datasets[name == 'synthetic']
    scales = _config(f'{name}_panoptic').train_pipeline[2]['scales']
    longest = max(s[0] for s in scales)
    shorts = {s[1] for s in scales}
    gt = _GroundTruth(dataset)
    np.random.seed(0)
    for index in range(min(len(dataset), 4)):
        packed = dataset[index]
        sample = packed['data_samples']
        height, width = sample.img_shape
        assert tuple(packed['inputs'].shape) == (3, height, width)
        assert max(height, width) <= longest
        # keep_ratio: the short side hits the chosen scale unless the long
        # side limit binds first
        assert min(height, width) in shorts or max(height, width) >= \
            longest - 1
        assert sample.gt_sem_seg.sem_seg.shape[1:] == (height, width)
        if sample.flip:
            sample = _unflip(sample)
        _check_sample(gt, sample, exact=False)


def _unflip(sample):
    """Undo a horizontal flip of masks and stuff map (areas are kept)."""
    sample = sample.clone()
    for key in ('gt_instances', 'ignored_instances'):
        sample.get(key).masks = sample.get(key).masks.flip('horizontal')
    sample.gt_sem_seg.sem_seg = sample.gt_sem_seg.sem_seg.flip(-1)
    return sample


@pytest.mark.parametrize('name', ['coco', 'synthetic'])
def test_flip_mirrors_masks_boxes_and_stuff_map(name, coco_sample_dir,
                                                synthetic_dataset_dir):
    root = dict(coco=coco_sample_dir, synthetic=synthetic_dataset_dir)[name]
    layout = COCO_LAYOUT if name == 'coco' else {}
    pipeline = copy.deepcopy(_config(f'{name}_panoptic').train_pipeline)
    pipeline[2]['scales'] = pipeline[2]['scales'][-1:]  # the largest
    samples = []
    for prob in (0.0, 1.0):
        pipeline[3]['prob'] = prob
        dataset = _build(f'{name}_panoptic', 'train', root, **layout,
                         pipeline=pipeline)
        samples.append(dataset[0]['data_samples'])
    plain, flipped = samples
    assert (plain.flip, flipped.flip) == (False, True)
    width = plain.img_shape[1]
    for key in ('gt_instances', 'ignored_instances'):
        np.testing.assert_array_equal(
            flipped.get(key).masks.masks,
            plain.get(key).masks.masks[..., ::-1])
        boxes = plain.get(key).bboxes.tensor
        mirrored = boxes[:, [2, 1, 0, 3]] * boxes.new_tensor([-1, 1, -1, 1])
        mirrored[:, 0::2] += width
        np.testing.assert_allclose(
            flipped.get(key).bboxes.tensor.numpy(), mirrored.numpy())
    np.testing.assert_array_equal(flipped.gt_sem_seg.sem_seg.numpy(),
                                  plain.gt_sem_seg.sem_seg.flip(-1).numpy())
    _check_sample(_GroundTruth(dataset), _unflip(flipped), exact=False)


def test_synthetic_config_metainfo_matches_the_generator():
    cfg = _config('synthetic_panoptic')
    expected = synthetic_metainfo()
    assert cfg.metainfo['classes'] == expected['classes']
    assert cfg.metainfo['thing_classes'] == expected['thing_classes']
    assert cfg.metainfo['stuff_classes'] == expected['stuff_classes']
    assert [tuple(c) for c in cfg.metainfo['palette']] == expected['palette']
    assert cfg.num_things_classes == len(expected['thing_classes'])
    assert cfg.num_stuff_classes == len(expected['stuff_classes'])


@pytest.mark.parametrize('metainfo_order', ['file', 'config'])
def test_json_with_stuff_first_is_remapped_things_first(
        metainfo_order, synthetic_dataset_dir, tmp_path):
    root = tmp_path / 'stuff_first'
    shutil.copytree(synthetic_dataset_dir, root)
    ann_file = root / 'annotations' / 'panoptic_val.json'
    content = json.loads(ann_file.read_text())
    cats = content['categories']
    content['categories'] = [c for c in cats if not c['isthing']] + \
        [c for c in cats if c['isthing']]
    ann_file.write_text(json.dumps(content))
    overrides = {}
    if metainfo_order == 'file':
        names = tuple(c['name'] for c in content['categories'])
        overrides['metainfo'] = dict(
            classes=names, thing_classes=names[4:], stuff_classes=names[:4])
    with logged_warnings() as warnings:
        dataset = _build('synthetic_panoptic', 'val', str(root), **overrides)
    assert any('does not list its thing categories first' in w and
               str(ann_file) in w for w in warnings)
    reordered = any('metainfo classes' in w for w in warnings)
    assert reordered == (metainfo_order == 'file')
    # the things-first labels of the original file, names reordered to match
    assert dataset.cat_ids == [c['id'] for c in cats]
    assert dataset.metainfo['classes'] == synthetic_metainfo()['classes']
    assert dataset.metainfo['thing_classes'] == ('disc', 'square',
                                                 'triangle', 'ring')
    gt = _GroundTruth(dataset)
    assert gt.label == {c['id']: i for i, c in enumerate(cats)}
    _check_sample(gt, dataset[0]['data_samples'], exact=True)
