"""RandomCropWithInstance on crafted images: an instance cut by the window
edge, a crowd region, an image without things, windows larger than the
image, and the retry that finds the only instance."""
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks

from mmpfcn.datasets.transforms import RandomCropWithInstance
from mmpfcn.utils import register_all_modules


@pytest.fixture(scope='module', autouse=True)
def _registry():
    register_all_modules()


def _results(masks: np.ndarray, ignore: list, height: int = 20,
             width: int = 40) -> dict:
    """A pipeline dict with an image whose pixel (y, x) holds y * 100 + x,
    the given (n, H, W) masks and a semantic map 7 (stuff) under 0/1 (the
    thing labels of the masks)."""
    yy, xx = np.mgrid[:height, :width]
    img = np.stack([yy * 100 + xx] * 3, axis=-1).astype(np.int32)
    seg = np.full((height, width), 7, dtype=np.uint8)
    labels = np.arange(len(masks)) % 2
    for mask, label in zip(masks, labels):
        seg[mask.astype(bool)] = label
    boxes = BitmapMasks(masks, height, width).get_bboxes(HorizontalBoxes)
    return dict(img=img, img_shape=(height, width), img_path='x.png',
                gt_masks=BitmapMasks(masks.astype(np.uint8), height, width),
                gt_bboxes=boxes, gt_bboxes_labels=labels,
                gt_ignore_flags=np.array(ignore, dtype=bool),
                gt_seg_map=seg)


def _check_consistent(out: dict) -> None:
    """Image, map, masks and boxes all show the same window."""
    y, x = out['crop_offset']
    h, w = out['img'].shape[:2]
    assert out['img_shape'] == (h, w)
    # the image pixel values encode their original position
    assert out['img'][0, 0, 0] == y * 100 + x
    assert out['gt_seg_map'].shape == (h, w)
    masks = out['gt_masks']
    assert (masks.height, masks.width) == (h, w)
    n = len(masks)
    assert len(out['gt_bboxes']) == len(out['gt_bboxes_labels']) == \
        len(out['gt_ignore_flags']) == n
    assert masks.masks.reshape(n, h * w).any(axis=1).all()
    np.testing.assert_array_equal(
        out['gt_bboxes'].tensor.numpy(),
        masks.get_bboxes(HorizontalBoxes).tensor.numpy())
    for mask, label in zip(masks.masks, out['gt_bboxes_labels']):
        assert (out['gt_seg_map'][mask.astype(bool)] == label).all()


def test_instance_cut_by_the_window_edge_keeps_its_visible_part():
    masks = np.zeros((1, 20, 40), np.uint8)
    masks[0, 5:15, 8:30] = 1  # 10 x 22
    np.random.seed(0)
    crop = RandomCropWithInstance((20, 20), max_tries=50)
    for _ in range(20):
        out = crop(_results(masks, [False]))
        _check_consistent(out)
        y, x = out['crop_offset']
        assert y == 0
        box = out['gt_bboxes'].tensor[0].tolist()
        # the tight box of the visible part, in window coordinates
        assert box == [max(8 - x, 0), 5, min(30 - x, 20), 15]


def test_retries_until_the_only_instance_is_in_view():
    masks = np.zeros((1, 20, 400), np.uint8)
    masks[0, 2:4, 390:392] = 1  # a 2x2 thing in the right-most 10 columns
    crop = RandomCropWithInstance((20, 20), max_tries=400)
    np.random.seed(1)
    for _ in range(5):
        out = crop(_results(masks, [False], width=400))
        _check_consistent(out)
        assert len(out['gt_masks']) == 1
        assert out['crop_offset'][1] >= 390 - 19  # found after misses


def test_gives_up_after_max_tries_and_drops_unseen_instances():
    masks = np.zeros((1, 20, 400), np.uint8)
    masks[0, 2:4, 300:400] = 1  # in view iff the window starts >= 281
    crop = RandomCropWithInstance((20, 20), max_tries=1)
    np.random.seed(0)
    outcomes = set()
    for _ in range(30):
        out = crop(_results(masks, [False], width=400))
        _check_consistent(out)
        outcomes.add(len(out['gt_masks']))
    assert outcomes == {0, 1}  # one draw only: mostly misses, can hit


def test_crowd_regions_do_not_count_but_are_cropped_along():
    masks = np.zeros((2, 20, 400), np.uint8)
    masks[0, :, :200] = 1  # crowd everywhere on the left half
    masks[1, 5:8, 380:390] = 1  # the only real thing, far right
    crop = RandomCropWithInstance((20, 100), max_tries=1000)
    np.random.seed(2)
    for _ in range(5):
        out = crop(_results(masks, [True, False], width=400))
        _check_consistent(out)
        assert not out['gt_ignore_flags'][-1]
        assert out['crop_offset'][1] >= 380 - 99  # shows the real thing


def test_image_without_things_is_cropped_once():
    out = RandomCropWithInstance((8, 16))(
        _results(np.zeros((0, 20, 40), np.uint8), []))
    _check_consistent(out)
    assert out['img'].shape[:2] == (8, 16) and len(out['gt_masks']) == 0
    # also without any instance keys at all
    img = np.zeros((20, 40, 3), np.uint8)
    out = RandomCropWithInstance((8, 16))(dict(img=img))
    assert out['img'].shape == (8, 16, 3) and out['img_shape'] == (8, 16)


def test_window_larger_than_the_image_shrinks_to_it():
    masks = np.zeros((1, 20, 40), np.uint8)
    masks[0, 1:3, 1:3] = 1
    out = RandomCropWithInstance((64, 30))(_results(masks, [False]))
    _check_consistent(out)
    assert out['img'].shape[:2] == (20, 30) and out['crop_offset'][0] == 0


def test_in_a_pipeline_with_the_stuff_map():
    masks = np.zeros((1, 20, 40), np.uint8)
    masks[0, 5:15, 8:30] = 1
    pipeline = Compose([
        dict(type='RandomCropWithInstance', crop_size=(10, 10)),
        dict(type='GenerateStuffMap', num_things_classes=2,
             num_stuff_classes=6),
    ])
    out = pipeline(_results(masks, [False]))
    # thing pixels became channel 0, stuff 7 became 1 + (7 - 2)
    assert set(np.unique(out['gt_seg_map'])) <= {0, 6}
    assert (out['gt_seg_map'] == 0).any()


@pytest.mark.parametrize('kwargs, message', [
    (dict(crop_size=(0, 4)), 'crop_size'),
    (dict(crop_size=(4, )), 'crop_size'),
    (dict(crop_size=(4, 4), max_tries=0), 'max_tries'),
    (dict(crop_size=(4, 4), min_visible_pixels=0), 'min_visible_pixels'),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RandomCropWithInstance(**kwargs)


def test_masks_of_another_size_are_rejected():
    results = _results(np.zeros((1, 20, 40), np.uint8), [False])
    results['img'] = results['img'][:10]
    with pytest.raises(ValueError, match='x.png are 20x40 but the image is '
                       '10x40'):
        RandomCropWithInstance((4, 4))(results)
