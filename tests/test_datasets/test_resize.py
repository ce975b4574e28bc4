"""PanopticResize against PIL (detectron2's resize) and cv2 directly, on the
real COCO sample and on hand-made arrays."""
import copy
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine import Config
from PIL import Image

from mmpfcn.datasets.transforms import PanopticResize
from mmpfcn.datasets.transforms.resize import (
    nearest_indices,
    shortest_edge_size,
)
from mmpfcn.registry import DATASETS, TRANSFORMS
from mmpfcn.utils import register_all_modules

PROJECT_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
COCO_CONFIG = osp.join(PROJECT_ROOT, 'configs', '_base_', 'datasets',
                       'coco_panoptic.py')


@pytest.fixture(scope='module', autouse=True)
def _registry():
    register_all_modules()


@pytest.fixture(scope='module')
def coco_samples(coco_sample_dir):
    """The two real images with their masks and semantic map, unresized."""
    cfg = copy.deepcopy(Config.fromfile(COCO_CONFIG).train_dataloader.dataset)
    cfg.update(
        data_root=coco_sample_dir,
        ann_file='panoptic_examples.json',
        data_prefix=dict(img='images/', seg='panoptic/'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadPanopticFCNAnnotations')
        ])
    dataset = DATASETS.build(cfg)
    return [dataset[i] for i in range(len(dataset))]


def pil_resize(array: np.ndarray, size_hw, resample) -> np.ndarray:
    """What detectron2's ResizeTransform does to a uint8 array."""
    return np.asarray(
        Image.fromarray(array).resize(size_hw[::-1], resample))


def test_output_size_is_detectron2s_resize_shortest_edge():
    assert shortest_edge_size(480, 640, 800, 1333) == (800, 1067)
    assert shortest_edge_size(640, 480, 800, 1333) == (1067, 800)
    # the long side bound wins
    assert shortest_edge_size(300, 1000, 800, 1333) == (400, 1333)
    # 100 x 400 -> 213.5 x 854: detectron2 rounds up, mmcv's rescale_size
    # (a different order of products) gives 213
    assert shortest_edge_size(100, 400, 512, 854) == (214, 854)


@pytest.mark.parametrize('backend', ['pillow', 'cv2'])
@pytest.mark.parametrize('src, dst', [(427, 800), (640, 1333), (30, 7),
                                      (9, 9), (5, 13)])
def test_nearest_indices_equal_the_backends_nearest_resize(
        backend, src, dst):
    array = np.random.default_rng(src).integers(
        0, 256, (src, 3), dtype=np.uint8)
    if backend == 'pillow':
        expected = pil_resize(array, (dst, 3), Image.NEAREST)
    else:
        expected = cv2.resize(array, (3, dst),
                              interpolation=cv2.INTER_NEAREST)
    out = array.take(nearest_indices(src, dst, backend), axis=0)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize('scale', [(1333, 800), (854, 512), (1000, 440)])
def test_real_images_equal_pil_bit_for_bit(coco_samples, scale):
    for sample in coco_samples:
        results = PanopticResize(scale=scale, keep_ratio=True)(
            copy.deepcopy(sample))
        height, width = sample['img'].shape[:2]
        size = shortest_edge_size(height, width, min(scale), max(scale))
        assert results['img_shape'] == size
        np.testing.assert_array_equal(
            results['img'], pil_resize(sample['img'], size, Image.BILINEAR))
        masks = results['gt_masks'].masks
        assert masks.shape == (len(sample['gt_masks']), *size)
        for mask, original in zip(masks, sample['gt_masks'].masks):
            np.testing.assert_array_equal(
                mask, pil_resize(original, size, Image.NEAREST))
        np.testing.assert_array_equal(
            results['gt_seg_map'],
            pil_resize(sample['gt_seg_map'], size, Image.NEAREST))
        new_h, new_w = size
        assert results['scale_factor'] == (new_w / width, new_h / height)
        np.testing.assert_allclose(
            results['gt_bboxes'].tensor.numpy(),
            sample['gt_bboxes'].tensor.numpy() *
            np.array([new_w / width, new_h / height] * 2),
            rtol=1e-6)


def test_cv2_backend_equals_cv2(coco_samples):
    sample = coco_samples[0]
    results = PanopticResize(
        scale=(1333, 800), keep_ratio=True, backend='cv2')(
            copy.deepcopy(sample))
    new_h, new_w = results['img_shape']
    np.testing.assert_array_equal(
        results['img'],
        cv2.resize(sample['img'], (new_w, new_h),
                   interpolation=cv2.INTER_LINEAR))
    for mask, original in zip(results['gt_masks'].masks,
                              sample['gt_masks'].masks):
        np.testing.assert_array_equal(
            mask,
            cv2.resize(original, (new_w, new_h),
                       interpolation=cv2.INTER_NEAREST))
    np.testing.assert_array_equal(
        results['gt_seg_map'],
        cv2.resize(sample['gt_seg_map'], (new_w, new_h),
                   interpolation=cv2.INTER_NEAREST))
    # the two backends differ: this is the choice the config makes
    pil = PanopticResize(scale=(1333, 800), keep_ratio=True)(
        copy.deepcopy(sample))
    assert not np.array_equal(pil['img'], results['img'])


def test_fixed_size_without_keep_ratio_and_empty_masks(coco_samples):
    sample = copy.deepcopy(coco_samples[1])
    sample['gt_masks'] = sample['gt_masks'][[]]
    results = PanopticResize(scale=(50, 30))(sample)
    assert results['img'].shape == (30, 50, 3)
    assert results['gt_masks'].masks.shape == (0, 30, 50)
    assert results['gt_seg_map'].shape == (30, 50)


def test_training_scales_through_random_choice_resize(coco_samples):
    resize = TRANSFORMS.build(
        dict(type='RandomChoiceResize', scales=[(1333, 640)],
             keep_ratio=True, resize_type='PanopticResize'))
    results = resize(copy.deepcopy(coco_samples[0]))
    height, width = coco_samples[0]['img'].shape[:2]
    assert results['img_shape'] == shortest_edge_size(height, width, 640,
                                                      1333)
    assert results['gt_masks'].masks.shape[1:] == results['img_shape']


def test_bad_backend_and_missing_image():
    with pytest.raises(ValueError, match="backend must be one of"):
        PanopticResize(scale=(10, 10), backend='turbojpeg')
    with pytest.raises(KeyError, match=r'needs results\["img"\].*x\.jpg'):
        PanopticResize(scale=(10, 10))(dict(img_path='x.jpg'))
    float_img = dict(img=np.zeros((4, 4, 3), np.float32), img_path='y.jpg')
    with pytest.raises(ValueError, match='y.jpg is float32'):
        PanopticResize(scale=(10, 10))(float_img)
    out = PanopticResize(scale=(10, 10), backend='cv2')(float_img)
    assert out['img'].shape == (10, 10, 3)


def _resizes(pipeline):
    """The resize configs of a pipeline (RandomChoiceResize: its inner)."""
    out = []
    for step in pipeline:
        if step['type'] == 'RandomChoiceResize':
            out.append(dict(step, type=step['resize_type']))
        elif 'Resize' in step['type']:
            out.append(step)
    return out


@pytest.mark.parametrize('name', [
    osp.basename(p) for p in sorted(
        glob.glob(osp.join(PROJECT_ROOT, 'configs/panoptic_fcn/*coco*.py')))
] + ['../_base_/datasets/coco_panoptic_test_dev.py'])
def test_every_coco_config_resizes_as_detectron2(name):
    cfg = Config.fromfile(osp.join(PROJECT_ROOT, 'configs/panoptic_fcn',
                                   name))
    pipelines = [cfg.test_dataloader.dataset.pipeline]
    if 'test_dev' not in name:
        pipelines += [cfg.train_dataloader.dataset.pipeline,
                      cfg.val_dataloader.dataset.pipeline]
    for pipeline in pipelines:
        resizes = _resizes(pipeline)
        assert len(resizes) == 1, name
        assert resizes[0]['type'] == 'PanopticResize', name
        assert resizes[0]['backend'] == 'pillow', name
