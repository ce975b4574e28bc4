"""Broken COCO-panoptic inputs give clear errors (or logged warnings where
mmdet's convention is to skip), never a crash deep in numpy."""
import json
import re

import numpy as np
import pytest
from PIL import Image

from mmpfcn.registry import DATASETS
from mmpfcn.testing.dataset_checks import logged_warnings, write_ids
from mmpfcn.utils import register_all_modules

CATEGORIES = [
    dict(id=1, name='cat', isthing=1),
    dict(id=2, name='dog', isthing=1),
    dict(id=10, name='grass', isthing=0),
]
METAINFO = dict(classes=('cat', 'dog', 'grass'), thing_classes=('cat', 'dog'),
                stuff_classes=('grass', ))
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPanopticFCNAnnotations'),
    dict(type='GenerateStuffMap', num_things_classes=2, num_stuff_classes=1),
    dict(type='PackDetInputs')
]
# image 1 (12 x 16): a cat (id 101), a crowd of dogs (id 102), grass (id
# 103) and a void column; image 2: a dog (id 201) on grass (id 202)
IDS_1 = np.full((12, 16), 103, dtype=np.int64)
IDS_1[2:6, 3:9] = 101
IDS_1[7:11, 10:15] = 102
IDS_1[:, 0] = 0
IDS_2 = np.full((12, 16), 202, dtype=np.int64)
IDS_2[4:8, 4:8] = 201


def _segments(ids: np.ndarray, categories: dict, crowd=()) -> list:
    segments = []
    for seg_id, cat_id in categories.items():
        ys, xs = np.nonzero(ids == seg_id)
        segments.append(
            dict(id=seg_id, category_id=cat_id, iscrowd=int(seg_id in crowd),
                 area=int(ys.size),
                 bbox=[int(xs.min()), int(ys.min()),
                       int(xs.max() - xs.min() + 1),
                       int(ys.max() - ys.min() + 1)]))
    return segments


@pytest.fixture(scope='module', autouse=True)
def _registry():
    register_all_modules()


@pytest.fixture
def tiny(tmp_path):
    """A valid two-image dataset; returns (root, JSON content)."""
    (tmp_path / 'img').mkdir()
    (tmp_path / 'pan').mkdir()
    rng = np.random.default_rng(0)
    for stem, ids in (('1', IDS_1), ('2', IDS_2)):
        pixels = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / 'img' / f'{stem}.jpg')
        write_ids(str(tmp_path / 'pan' / f'{stem}.png'), ids)
    content = dict(
        images=[
            dict(id=1, file_name='1.jpg', height=12, width=16),
            dict(id=2, file_name='2.jpg', height=12, width=16),
        ],
        annotations=[
            dict(image_id=1, file_name='1.png',
                 segments_info=_segments(IDS_1, {101: 1, 102: 2, 103: 10},
                                         crowd={102})),
            dict(image_id=2, file_name='2.png',
                 segments_info=_segments(IDS_2, {201: 2, 202: 10})),
        ],
        categories=CATEGORIES)
    _save(tmp_path, content)
    return tmp_path, content


def _save(root, content) -> None:
    (root / 'ann.json').write_text(json.dumps(content))


def _build(root, test_mode=True, **overrides):
    cfg = dict(
        type='PanopticFCNCocoDataset', data_root=str(root),
        ann_file='ann.json', data_prefix=dict(img='img/', seg='pan/'),
        metainfo=METAINFO, pipeline=PIPELINE, test_mode=test_mode,
        filter_cfg=dict(filter_empty_gt=True, min_size=4))
    cfg.update(overrides)
    return DATASETS.build(cfg)


def _segment(content, image_index, seg_id) -> dict:
    segments = content['annotations'][image_index]['segments_info']
    return next(s for s in segments if s['id'] == seg_id)


def test_valid_tiny_dataset_loads(tiny):
    root, _ = tiny
    sample = _build(root)[0]['data_samples']
    assert sample.gt_instances.labels.tolist() == [0]
    assert sample.ignored_instances.labels.tolist() == [1]
    assert sample.ignored_instances.masks.masks.sum() == 20
    stuff = sample.gt_sem_seg.sem_seg[0].numpy()
    np.testing.assert_array_equal(
        stuff, np.select([IDS_1 == 0, IDS_1 == 103], [255, 1], 0))


def test_missing_image(tiny):
    # found when the dataset is built, not when the sampler reaches it
    root, _ = tiny
    (root / 'img' / '1.jpg').unlink()
    with pytest.raises(FileNotFoundError, match=r'ann\.json: 1 of the 4 '
                       'files of the split are missing: ' +
                       re.escape(str(root / 'img' / '1.jpg')) + '$'):
        _build(root)


def test_corrupt_image(tiny):
    root, _ = tiny
    (root / 'img' / '1.jpg').write_bytes(b'this is not a JPEG')
    # mmcv's loader reports it (with an assert, so the message survives
    # unless Python runs with -O)
    with pytest.raises(AssertionError, match='failed to load image: ' +
                       re.escape(str(root / 'img' / '1.jpg'))):
        _build(root)[0]


def test_missing_png(tiny):
    root, _ = tiny
    (root / 'pan' / '1.png').unlink()
    (root / 'img' / '2.jpg').unlink()
    with pytest.raises(FileNotFoundError, match=r'ann\.json: 2 of the 4 '
                       r'files of the split are missing: .*img/2\.jpg, '
                       r'.*pan/1\.png$'):
        _build(root)


@pytest.mark.parametrize('damage', ['garbage', 'truncated'])
def test_corrupt_png(tiny, damage):
    root, _ = tiny
    png = root / 'pan' / '1.png'
    data = png.read_bytes()
    png.write_bytes(b'\x00' * 64 if damage == 'garbage' else
                    data[:len(data) // 2])
    with pytest.raises(ValueError,
                       match=r'pan/1\.png .* cannot be decoded: the file is '
                       'corrupt'):
        _build(root)[0]


def test_png_of_another_size(tiny):
    root, _ = tiny
    write_ids(str(root / 'pan' / '1.png'), IDS_1[:, :15])
    with pytest.raises(ValueError, match=r'pan/1\.png .* is 15x12 \(WxH\) '
                       'but the image is 16x12'):
        _build(root)[0]


def test_listed_segment_absent_from_png(tiny):
    root, content = tiny
    content['annotations'][0]['segments_info'].append(
        dict(id=999, category_id=1, iscrowd=0, area=5, bbox=[1, 1, 2, 3]))
    _save(root, content)
    with pytest.raises(ValueError, match=r'pan/1\.png .*segments \[999\] of '
                       'segments_info have no pixel in the PNG'):
        _build(root)[0]


def test_png_id_not_listed(tiny):
    root, content = tiny
    segments = content['annotations'][0]['segments_info']
    segments.remove(_segment(content, 0, 103))
    _save(root, content)
    with pytest.raises(ValueError, match=r'pan/1\.png .*ids \[103\] occur in '
                       'the PNG but are not listed in segments_info'):
        _build(root)[0]


def test_unknown_category_id(tiny):
    root, content = tiny
    _segment(content, 0, 101)['category_id'] = 77
    _save(root, content)
    with pytest.raises(ValueError, match=r'ann\.json: image 1 \(1\.jpg\): '
                       'segment 101 has category_id 77, which is not a '
                       'category of the file'):
        _build(root)


def test_category_outside_the_metainfo_classes(tiny):
    root, _ = tiny
    with pytest.raises(ValueError, match=r'image 1 \(1\.jpg\): segment 102 '
                       'has category_id 2, which is not among the dataset '
                       'classes'):
        _build(root, metainfo=dict(classes=('cat', 'grass'),
                                   thing_classes=('cat', ),
                                   stuff_classes=('grass', )))


@pytest.mark.parametrize('field, value', [('area', 0), ('bbox', [3, 2, 0, 4])])
def test_zero_area_segment(tiny, field, value):
    root, content = tiny
    _segment(content, 0, 101)[field] = value
    _save(root, content)
    with pytest.raises(ValueError, match=r'image 1 \(1\.jpg\): segment 101 '
                       'has zero area'):
        _build(root)


@pytest.mark.parametrize('change, message', [
    (lambda s: s.pop('bbox'), r"segment .* lacks field\(s\) \['bbox'\]"),
    (lambda s: s.update(id=0), 'segment id 0 is not a positive integer'),
    (lambda s: s.update(id=103), 'segment id 103 is listed more than once'),
])
def test_malformed_segment(tiny, change, message):
    root, content = tiny
    change(_segment(content, 0, 101))
    _save(root, content)
    with pytest.raises(ValueError, match=r'ann\.json: image 1 .*' + message):
        _build(root)


def test_image_without_segments_is_dropped_from_training(tiny):
    root, content = tiny
    content['annotations'][1]['segments_info'] = []
    _save(root, content)
    with logged_warnings() as warnings:
        dataset = _build(root, test_mode=False)
    assert len(dataset) == 1
    assert any('image 2 (2.jpg) has no segments' in w for w in warnings)
    assert any('drops 1 of 2 training images' in w and '2.jpg' in w
               for w in warnings)


def test_image_with_only_a_crowd_is_dropped_from_training(tiny):
    root, content = tiny
    _segment(content, 1, 201)['iscrowd'] = 1
    _save(root, content)
    with logged_warnings() as warnings:
        dataset = _build(root, test_mode=False)
    assert [dataset.get_data_info(0)['img_id']] == [1]
    assert any('drops 1 of 2' in w and '2.jpg' in w for w in warnings)


def test_image_without_segments_in_test_mode(tiny):
    root, content = tiny
    content['annotations'][1]['segments_info'] = []
    _save(root, content)
    with logged_warnings() as warnings:
        dataset = _build(root)
    assert len(dataset) == 2
    assert any('image 2 (2.jpg) has no segments' in w for w in warnings)
    # its PNG still holds segments: reported, not silently voided
    with pytest.raises(ValueError, match=r'pan/2\.png .*ids \[201, 202\] '
                       'occur in the PNG but are not listed'):
        dataset[1]
    # an all-void PNG is a consistent (if useless) annotation
    write_ids(str(root / 'pan' / '2.png'), np.zeros_like(IDS_2))
    sample = dataset[1]['data_samples']
    assert len(sample.gt_instances) == len(sample.ignored_instances) == 0
    assert sample.gt_instances.masks.masks.shape == (0, 12, 16)
    assert (sample.gt_sem_seg.sem_seg == 255).all()


@pytest.mark.parametrize('metainfo, message', [
    (dict(classes=('cat', 'dog', 'sky'), thing_classes=('cat', 'dog'),
          stuff_classes=('sky', )), r"metainfo classes \['sky'\] are not "
     r'categories of .*ann\.json'),
    (dict(classes=('cat', 'dog', 'grass'), thing_classes=('cat', 'grass'),
          stuff_classes=('dog', )), r"disagree on whether \['grass', 'dog'\] "
     'are things'),
    (dict(classes=('cat', 'dog', 'grass'), thing_classes=('cat', ),
          stuff_classes=('grass', )), '"thing_classes" and "stuff_classes" '
     'must split "classes"'),
])
def test_metainfo_inconsistent_with_the_file(tiny, metainfo, message):
    root, _ = tiny
    with pytest.raises(ValueError, match=message):
        _build(root, metainfo=metainfo)


@pytest.mark.parametrize('text, message', [
    ('{"images": [', 'is not a valid COCO panoptic annotation file'),
    ('{"images": [], "annotations": []}', "has no 'categories' field"),
    ('{"images": [{"file_name": "1.jpg"}], "annotations": [], '
     '"categories": []}', 'is not a valid COCO panoptic annotation file'),
])
def test_malformed_annotation_file(tiny, text, message):
    root, _ = tiny
    (root / 'ann.json').write_text(text)
    with pytest.raises(ValueError, match=r'ann\.json.*' + message):
        _build(root)
