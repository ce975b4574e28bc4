"""GenerateStuffMap and LoadPanopticFCNAnnotations on hand-made inputs."""
import numpy as np
import pytest
from mmcv.transforms import Compose

from mmpfcn.datasets.transforms import (
    GenerateStuffMap,
    LoadPanopticFCNAnnotations,
)
from mmpfcn.testing.dataset_checks import write_ids
from mmpfcn.utils import register_all_modules


@pytest.fixture(scope='module', autouse=True)
def _registry():
    register_all_modules()


# 2 thing classes (0, 1) and 3 stuff classes (2, 3, 4) in mmdet's labels
SEG_MAP = np.array([[0, 1, 2, 3],
                    [4, 255, 1, 4],
                    [2, 2, 0, 255]], dtype=np.uint8)


def test_stuff_map_relabels_things_stuff_and_void():
    results = GenerateStuffMap(2, 3)(dict(gt_seg_map=SEG_MAP.copy()))
    expected = np.array([[0, 0, 1, 2],
                         [3, 255, 0, 3],
                         [1, 1, 0, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(results['gt_seg_map'], expected)
    assert results['gt_seg_map'].dtype == np.uint8
    assert results['ignore_index'] == 255


def test_stuff_map_custom_ignore_index_and_int64_input():
    results = GenerateStuffMap(2, 3, ignore_index=9)(
        dict(gt_seg_map=SEG_MAP.astype(np.int64)))
    assert results['gt_seg_map'][1, 1] == 9
    assert results['gt_seg_map'][2, 3] == 9
    assert results['ignore_index'] == 9
    assert np.count_nonzero(results['gt_seg_map'] == 3) == 2


def test_stuff_map_without_map_is_noop():
    assert GenerateStuffMap(2, 3)(dict(img_id=1)) == dict(img_id=1)


def test_stuff_map_rejects_labels_beyond_the_classes():
    bad = SEG_MAP.copy()
    bad[0, 0] = 5  # 2 things + 3 stuff: 5 is no class and not void
    with pytest.raises(ValueError, match=r'x\.jpg holds labels \[5\]'):
        GenerateStuffMap(2, 3)(dict(gt_seg_map=bad, img_path='x.jpg'))
    with pytest.raises(ValueError, match='labels \\[-1\\]'):
        GenerateStuffMap(2, 3)(
            dict(gt_seg_map=np.full((2, 2), -1, dtype=np.int64)))
    with pytest.raises(ValueError, match='dtype float32'):
        GenerateStuffMap(2, 3)(
            dict(gt_seg_map=SEG_MAP.astype(np.float32)))


@pytest.mark.parametrize('args, message', [
    ((-1, 3), 'class counts'),
    ((200, 56), 'at most 255 classes'),
    ((2, 3, 3), r'ignore_index must lie in \[4, 255\]'),
])
def test_stuff_map_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        GenerateStuffMap(*args)


# segment ids using all three PNG channels: id = R + 256 G + 256^2 B
PERSON, CROWD, ROAD = 7 + 256 * 3, 5 + 256**2 * 2, 9
IDS = np.array([[PERSON, PERSON, 0, ROAD, ROAD],
                [CROWD, PERSON, ROAD, ROAD, ROAD],
                [CROWD, CROWD, ROAD, 0, ROAD],
                [CROWD, 0, ROAD, ROAD, ROAD]], dtype=np.int64)


def _results(png_path: str) -> dict:
    """A data_info as PanopticFCNCocoDataset gives it, crowd listed first
    (the order mmdet's packing must keep aligned with the masks)."""
    return dict(
        img_path='img.jpg',
        seg_map_path=png_path,
        height=4,
        width=5,
        ori_shape=(4, 5),
        instances=[
            dict(bbox=[0, 1, 2, 4], bbox_label=1, ignore_flag=1,
                 segment_id=CROWD),
            dict(bbox=[0, 0, 2, 2], bbox_label=0, ignore_flag=0,
                 segment_id=PERSON),
        ],
        segments_info=[
            dict(id=CROWD, category=1, is_thing=False, iscrowd=True),
            dict(id=PERSON, category=0, is_thing=True, iscrowd=False),
            dict(id=ROAD, category=3, is_thing=False, iscrowd=False),
        ])


def test_loader_masks_follow_instances_and_seg_map_uses_mmdet_labels(
        tmp_path):
    png = str(tmp_path / 'pan.png')
    write_ids(png, IDS)
    results = LoadPanopticFCNAnnotations()(_results(png))
    masks = results['gt_masks'].masks
    np.testing.assert_array_equal(masks[0], IDS == CROWD)
    np.testing.assert_array_equal(masks[1], IDS == PERSON)
    np.testing.assert_array_equal(results['gt_ignore_flags'], [True, False])
    np.testing.assert_array_equal(results['gt_bboxes_labels'], [1, 0])
    expected = np.select([IDS == PERSON, IDS == CROWD, IDS == ROAD],
                         [0, 1, 3], 255)
    np.testing.assert_array_equal(results['gt_seg_map'], expected)
    assert results['gt_seg_map'].dtype == np.uint8


def test_loader_then_stuff_map_then_pack_splits_crowd(tmp_path):
    png = str(tmp_path / 'pan.png')
    write_ids(png, IDS)
    pipeline = Compose([
        dict(type='LoadPanopticFCNAnnotations'),
        dict(type='GenerateStuffMap', num_things_classes=2,
             num_stuff_classes=3),
        dict(type='PackDetInputs', meta_keys=('img_path', ))
    ])
    sample = pipeline(_results(png))['data_samples']
    # the non-crowd person is the only thing target ...
    assert sample.gt_instances.labels.tolist() == [0]
    np.testing.assert_array_equal(sample.gt_instances.masks.masks[0],
                                  IDS == PERSON)
    assert sample.gt_instances.bboxes.tensor.tolist() == [[0, 0, 2, 2]]
    # ... the crowd keeps box, label and mask among the ignored instances
    assert sample.ignored_instances.labels.tolist() == [1]
    np.testing.assert_array_equal(sample.ignored_instances.masks.masks[0],
                                  IDS == CROWD)
    # stuff map: things (crowd included) 0, road (label 3 = stuff 2) 2
    stuff = sample.gt_sem_seg.sem_seg
    assert tuple(stuff.shape) == (1, 4, 5)
    expected = np.select([(IDS == PERSON) | (IDS == CROWD), IDS == ROAD],
                         [0, 2], 255)
    np.testing.assert_array_equal(stuff[0].numpy(), expected)
    assert sample.gt_sem_seg.metainfo['ignore_index'] == 255


def test_loader_without_seg_map_path_loads_boxes_only():
    results = _results(None)
    results = LoadPanopticFCNAnnotations()(results)
    assert 'gt_masks' not in results and 'gt_seg_map' not in results
    assert results['gt_bboxes'].tensor.tolist() == [[0, 1, 2, 4],
                                                    [0, 0, 2, 2]]


@pytest.mark.parametrize('with_others', [True, False])
def test_loader_eval_rle_reaches_the_data_sample(tmp_path, with_others):
    """``with_eval_rle`` adds the PNG's RLEs (alone or with the masks and
    the semantic map); listed in ``meta_keys`` they reach the metric."""
    from pycocotools import mask as mask_utils
    png = str(tmp_path / 'pan.png')
    write_ids(png, IDS)
    flags = dict(with_bbox=with_others, with_label=with_others,
                 with_mask=with_others, with_seg=with_others)
    pipeline = Compose([
        dict(type='LoadPanopticFCNAnnotations', with_eval_rle=True,
             **flags),
        dict(type='PackDetInputs', meta_keys=('img_path', 'gt_panoptic_rle'))
    ])
    sample = pipeline(_results(png))['data_samples']
    assert ('gt_sem_seg' in sample) == with_others
    rle = sample.metainfo['gt_panoptic_rle']
    np.testing.assert_array_equal(rle['ids'], [0, ROAD, PERSON, CROWD])
    assert rle['rles'] == [
        mask_utils.encode(np.asfortranarray(IDS == i, np.uint8))
        for i in rle['ids']
    ]
    np.testing.assert_array_equal(rle['areas'], [3, 10, 3, 4])
    assert 'with_eval_rle=True' in repr(pipeline.transforms[0])
    # off by default
    results = LoadPanopticFCNAnnotations()(_results(png))
    assert 'gt_panoptic_rle' not in results
