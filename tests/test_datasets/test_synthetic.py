"""The synthetic COCO-panoptic dataset: determinism, format, content, CLI."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmpfcn.datasets.synthetic import (
    SYNTHETIC_CATEGORIES,
    generate_sample,
    make_synthetic_panoptic,
    synthetic_metainfo,
)
from mmpfcn.datasets.synthetic.drawing import _shape_masks

PROJECT_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
THING_IDS = {c['id'] for c in SYNTHETIC_CATEGORIES if c['isthing']}


def _read_ids(png_path: str) -> np.ndarray:
    rgb = np.array(Image.open(png_path), dtype=np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256**2 * rgb[..., 2]


def _all_files(root: str) -> dict:
    """Relative path -> bytes of every file under ``root``."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = f.read()
    return files


def test_same_seed_gives_byte_identical_files(tmp_path):
    kwargs = dict(num_train=3, num_val=2, height=64, width=96)
    make_synthetic_panoptic(str(tmp_path / 'a'), seed=5, **kwargs)
    make_synthetic_panoptic(str(tmp_path / 'b'), seed=5, **kwargs)
    make_synthetic_panoptic(str(tmp_path / 'c'), seed=6, **kwargs)
    a, b, c = (_all_files(str(tmp_path / n)) for n in 'abc')
    # 5 jpg + 5 png + 2 json
    assert len(a) == 12
    assert a == b
    assert a.keys() == c.keys()
    changed = [k for k in a if k.endswith(('.jpg', '.png')) and a[k] != c[k]]
    assert len(changed) == 10


def test_splits_use_different_streams_and_prefix_stability(tmp_path):
    make_synthetic_panoptic(str(tmp_path / 'a'), num_train=2, num_val=2,
                            height=64, width=64)
    make_synthetic_panoptic(str(tmp_path / 'b'), num_train=1, num_val=0,
                            height=64, width=64)
    a, b = _all_files(str(tmp_path / 'a')), _all_files(str(tmp_path / 'b'))
    name = '000000000001.jpg'
    assert a[osp.join('train', name)] != a[osp.join('val', name)]
    # image i does not depend on how many images are written
    assert a[osp.join('train', name)] == b[osp.join('train', name)]


def test_layout_and_json_format(synthetic_dataset_dir):
    root = synthetic_dataset_dir
    for split, num in (('train', 8), ('val', 4)):
        with open(osp.join(root, 'annotations',
                           f'panoptic_{split}.json')) as f:
            data = json.load(f)
        assert {'images', 'annotations', 'categories'} <= data.keys()
        assert data['categories'] == SYNTHETIC_CATEGORIES
        isthing = [c['isthing'] for c in data['categories']]
        assert isthing == sorted(isthing, reverse=True)  # things first
        assert [c['id'] for c in data['categories']] == list(range(1, 9))
        assert len(data['images']) == len(data['annotations']) == num
        for img, ann in zip(data['images'], data['annotations']):
            assert img.keys() == {'id', 'file_name', 'height', 'width'}
            assert (img['height'], img['width']) == (96, 128)
            assert ann['image_id'] == img['id']
            assert ann['file_name'] == img['file_name'].replace('.jpg',
                                                                '.png')
            image = Image.open(osp.join(root, split, img['file_name']))
            assert image.format == 'JPEG' and image.mode == 'RGB'
            assert image.size == (128, 96)
            for seg in ann['segments_info']:
                assert seg.keys() == {'id', 'category_id', 'iscrowd',
                                      'bbox', 'area'}
                assert seg['iscrowd'] in (0, 1)
                assert seg['iscrowd'] == 0 or seg['category_id'] in THING_IDS


def test_png_matches_segments_info(synthetic_dataset_dir):
    root = synthetic_dataset_dir
    for split in ('train', 'val'):
        with open(osp.join(root, 'annotations',
                           f'panoptic_{split}.json')) as f:
            data = json.load(f)
        for ann in data['annotations']:
            ids = _read_ids(osp.join(root, 'annotations', f'panoptic_{split}',
                                     ann['file_name']))
            segs = {s['id']: s for s in ann['segments_info']}
            assert len(segs) == len(ann['segments_info'])  # unique ids
            assert 0 not in segs
            present, counts = np.unique(ids, return_counts=True)
            assert set(present.tolist()) - {0} == set(segs)
            for seg_id, count in zip(present.tolist(), counts.tolist()):
                if seg_id == 0:
                    continue
                seg = segs[seg_id]
                assert seg['area'] == count > 0
                ys, xs = np.nonzero(ids == seg_id)
                assert seg['bbox'] == [xs.min(), ys.min(),
                                       xs.max() - xs.min() + 1,
                                       ys.max() - ys.min() + 1]


def test_content_is_varied_and_hard_enough():
    """Over 24 images: crowd, void, border-cut, tiny, large and touching
    same-class instances all occur, and every category is used."""
    height, width = 96, 128
    found = dict(crowd=0, void=0, border=0, tiny=0, large=0, touching=0)
    categories = set()
    for index in range(24):
        image, ids, segs = generate_sample(
            np.random.default_rng([0, 0, index]), height, width)
        assert image.shape == (height, width, 3) and image.dtype == np.uint8
        categories |= {s['category_id'] for s in segs}
        found['crowd'] += sum(s['iscrowd'] for s in segs)
        found['void'] += int((ids == 0).any())
        things = [s for s in segs
                  if s['category_id'] in THING_IDS and not s['iscrowd']]
        assert things, 'every image has a regular instance'
        for s in things:
            x, y, w, h = s['bbox']
            found['border'] += x == 0 or y == 0 or x + w == width \
                or y + h == height
            found['tiny'] += max(w, h) <= 8
            found['large'] += max(w, h) >= height // 2
        # two instances of one class sharing a boundary
        cat = {s['id']: s['category_id'] for s in things}
        pairs = np.concatenate([
            np.stack([ids[1:].ravel(), ids[:-1].ravel()], 1),
            np.stack([ids[:, 1:].ravel(), ids[:, :-1].ravel()], 1)])
        for p, q in set(map(tuple, pairs.tolist())):
            found['touching'] += p != q and p in cat and q in cat and \
                cat[p] == cat[q]
    assert categories == {c['id'] for c in SYNTHETIC_CATEGORIES}
    assert found['void'] >= 20
    for key in ('crowd', 'border', 'tiny', 'large', 'touching'):
        assert found[key] >= 3, (key, found)


def test_shape_areas_follow_their_formulas():
    # disc, square, triangle, ring of circumradius 20 centred on a pixel
    # corner, angle 0 (each rasterised on its own, no occlusion)
    prims = dict(cls=np.arange(4), cy=np.full(4, 50.0), cx=np.full(4, 50.0),
                 r=np.full(4, 20.0), angle=np.zeros(4))
    masks, shade = _shape_masks(prims, 100, 100)
    area = masks.sum((1, 2))
    r = 20.0
    assert area[1] == 32 * 32  # square of half side 0.8 r, pixel aligned
    expected = np.array([np.pi * r**2, 1024,
                         3 * np.sqrt(3) / 4 * (1.3 * r)**2,
                         np.pi * r**2 * (1 - 0.55**2)])
    np.testing.assert_allclose(area, expected, rtol=0.03)
    # light comes from the top-left: brighter there than bottom-right
    assert shade[0, 40, 40] > 1 > shade[0, 60, 60]


def test_metainfo_matches_categories():
    meta = synthetic_metainfo()
    assert meta['thing_classes'] == ('disc', 'square', 'triangle', 'ring')
    assert meta['stuff_classes'] == ('sky', 'grass', 'bricks', 'water')
    assert meta['classes'] == meta['thing_classes'] + meta['stuff_classes']
    assert meta['palette'] == [tuple(c['color'])
                               for c in SYNTHETIC_CATEGORIES]


@pytest.mark.parametrize('kwargs', [dict(height=16), dict(num_train=-1),
                                    dict(width=64.5)])
def test_bad_arguments_raise(tmp_path, kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        make_synthetic_panoptic(str(tmp_path), **kwargs)


def test_ground_truth_scores_pq_100_against_itself(synthetic_dataset_dir):
    from panopticapi.evaluation import pq_compute
    ann_dir = osp.join(synthetic_dataset_dir, 'annotations')
    json_file = osp.join(ann_dir, 'panoptic_val.json')
    folder = osp.join(ann_dir, 'panoptic_val')
    results = pq_compute(json_file, json_file, folder, folder)
    for name in ('All', 'Things', 'Stuff'):
        assert results[name]['pq'] == pytest.approx(1.0)
    assert results['All']['n'] == 8


def test_loads_with_mmdet_coco_panoptic_dataset(synthetic_dataset_dir):
    from mmdet.datasets import CocoPanopticDataset
    dataset = CocoPanopticDataset(
        data_root=synthetic_dataset_dir,
        ann_file='annotations/panoptic_train.json',
        data_prefix=dict(img='train/', seg='annotations/panoptic_train/'),
        metainfo=synthetic_metainfo(), pipeline=[], test_mode=True)
    assert len(dataset) == 8
    with open(osp.join(synthetic_dataset_dir, 'annotations',
                       'panoptic_train.json')) as f:
        first = json.load(f)['annotations'][0]['segments_info']
    info = dataset.get_data_info(0)
    assert osp.isfile(info['img_path']) and osp.isfile(info['seg_map_path'])
    assert len(info['segments_info']) == len(first)
    # contiguous labels: things 0..3, stuff 4..7
    assert [s['category'] for s in info['segments_info']] == [
        s['category_id'] - 1 for s in first]


def test_cli_writes_the_same_dataset(tmp_path):
    script = osp.join(PROJECT_ROOT, 'tools', 'misc',
                      'make_synthetic_panoptic.py')
    env = dict(os.environ, PYTHONPATH=PROJECT_ROOT)
    out = subprocess.run(
        [sys.executable, script, '--out-dir', str(tmp_path / 'cli'),
         '--num-train', '2', '--num-val', '1', '--seed', '3',
         '--height', '64', '--width', '96'],
        env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'train: 2 images' in out.stdout
    make_synthetic_panoptic(str(tmp_path / 'api'), num_train=2, num_val=1,
                            seed=3, height=64, width=96)
    assert _all_files(str(tmp_path / 'cli')) == _all_files(
        str(tmp_path / 'api'))
