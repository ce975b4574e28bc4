"""Generated panoptic ground-truth / prediction pairs for PQ tests.

Every case exercises what panopticapi's matching treats specially: void
pixels on both sides, crowd regions (and predictions lying inside them),
unmatched segments on both sides, predictions shifted enough to fall under
the IoU 0.5 threshold, relabelled segments, one category that only the
ground truth uses and one that only the predictions use.

``from mmpfcn.testing.panoptic_cases import make_case, write_split``.
"""
import json
import os
import os.path as osp
from dataclasses import dataclass, field

import numpy as np

from mmpfcn.evaluation.functional.panoptic_io import (
    encode_segments,
    write_panoptic_png,
)

#: Categories of the generated cases. 5 ('gt_only') is never predicted, 6
#: ('pred_only') never annotated, 11 ('unused') on neither side, so a case
#: covers categories absent from one or both sides.
CASE_CATEGORIES = [
    dict(id=1, name='person', isthing=1),
    dict(id=2, name='car', isthing=1),
    dict(id=3, name='dog', isthing=1),
    dict(id=4, name='cup', isthing=1),
    dict(id=5, name='gt_only', isthing=1),
    dict(id=6, name='pred_only', isthing=1),
    dict(id=7, name='sky', isthing=0),
    dict(id=8, name='grass', isthing=0),
    dict(id=9, name='road', isthing=0),
    dict(id=10, name='wall', isthing=0),
    dict(id=11, name='unused', isthing=0),
]
GT_ONLY_CATEGORY = 5
PRED_ONLY_CATEGORY = 6
UNUSED_CATEGORY = 11


@dataclass
class PanopticPair:
    """One image's ground truth and prediction as id maps + segments."""
    image_id: int
    file_name: str  # the PNG name, e.g. '000007.png'
    gt_map: np.ndarray  # (H, W) int64, 0 = void
    gt_segments: list = field(default_factory=list)
    pred_map: np.ndarray = None  # (H, W) int64, 0 = void
    pred_segments: list = field(default_factory=list)


def _unique_ids(rng: np.random.Generator, num: int) -> np.ndarray:
    """``num`` distinct ids spread over all three RGB channels."""
    return rng.choice(np.arange(1, 256**3, 4099), size=num, replace=False)


def _random_shape(rng: np.random.Generator, height: int, width: int,
                  max_radius: float = 0.2) -> np.ndarray:
    """A random rectangle or ellipse, ``(H, W)`` bool; its half-sizes are
    at most ``max_radius`` of the image's."""
    ys = np.arange(height)[:, None]
    xs = np.arange(width)[None, :]
    cy, cx = rng.uniform(0, height), rng.uniform(0, width)
    ry = rng.uniform(0.04, max_radius) * height
    rx = rng.uniform(0.04, max_radius) * width
    if rng.random() < 0.5:
        return (np.abs(ys - cy) <= ry) & (np.abs(xs - cx) <= rx)
    return ((ys - cy) / ry)**2 + ((xs - cx) / rx)**2 <= 1


def _shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Translate a ``(H, W)`` mask, filling with False (no wrap-around)."""
    height, width = mask.shape
    out = np.zeros_like(mask)
    src = mask[max(0, -dy):height - max(0, dy), max(0, -dx):width - max(0, dx)]
    out[max(0, dy):max(0, dy) + src.shape[0],
        max(0, dx):max(0, dx) + src.shape[1]] = src
    return out


def _segments_present(id_map: np.ndarray, segments: list) -> list:
    """The segments still visible in ``id_map``, with their areas."""
    ids, counts = np.unique(id_map, return_counts=True)
    area = dict(zip(ids.tolist(), counts.tolist()))
    return [dict(seg, area=area[seg['id']]) for seg in segments
            if seg['id'] in area]


def make_ground_truth(rng: np.random.Generator,
                      height: int,
                      width: int,
                      num_segments: int,
                      categories: list = CASE_CATEGORIES,
                      pred_only: int | None = PRED_ONLY_CATEGORY,
                      unused: int | None = UNUSED_CATEGORY,
                      crowd_prob: float = 0.15,
                      num_void: int = 2) -> tuple[np.ndarray, list]:
    """A random panoptic ground truth.

    Stuff bands cover the image, things (some of them crowd) are painted
    on top in random order so later ones occlude earlier ones, then a few
    void blobs are cut out. Segments that end up fully hidden are dropped.

    Returns:
        tuple: ``(H, W)`` int64 id map and its ``segments_info`` (``id``,
        ``category_id``, ``iscrowd``, ``area``, ``bbox`` omitted).
    """
    excluded = {pred_only, unused}
    things = [c['id'] for c in categories
              if c['isthing'] and c['id'] not in excluded]
    stuff = [c['id'] for c in categories
             if not c['isthing'] and c['id'] not in excluded]
    num_stuff = min(len(stuff), 1 + num_segments // 8)
    ids = _unique_ids(rng, num_stuff + num_segments)

    # Stuff: horizontal bands, one segment per stuff category as in COCO.
    stuff_cats = rng.choice(stuff, size=num_stuff, replace=False)
    cuts = np.sort(rng.choice(np.arange(1, height), num_stuff - 1,
                              replace=False))
    band = np.searchsorted(cuts, np.arange(height), side='right')  # (H,)
    id_map = np.broadcast_to(ids[band][:, None], (height, width)).copy()
    segments = [dict(id=int(i), category_id=int(c), iscrowd=0)
                for i, c in zip(ids[:num_stuff], stuff_cats)]

    for seg_id in ids[num_stuff:]:
        cat = int(rng.choice(things))
        id_map[_random_shape(rng, height, width)] = seg_id
        segments.append(dict(id=int(seg_id), category_id=cat,
                             iscrowd=int(rng.random() < crowd_prob)))
    for _ in range(num_void):
        id_map[_random_shape(rng, height, width, 0.1) &
               (rng.random((height, width)) < 0.8)] = 0
    return id_map, _segments_present(id_map, segments)


def perturb_prediction(rng: np.random.Generator,
                       gt_map: np.ndarray,
                       gt_segments: list,
                       categories: list = CASE_CATEGORIES,
                       gt_only: int | None = GT_ONLY_CATEGORY,
                       pred_only: int | None = PRED_ONLY_CATEGORY,
                       unused: int | None = UNUSED_CATEGORY,
                       num_extra: int = 4) -> tuple[np.ndarray, list]:
    """A prediction made from a ground truth by plausible mistakes.

    Each ground-truth segment is dropped (10%), relabelled (15%, always for
    ``gt_only``) or kept, and kept/relabelled ones are shifted by up to
    8% of their size (70%) or 30% (30%), so most stay above IoU 0.5 and
    some fall below.
    Crowd regions are predicted as one or two pieces of their category.
    Extra false-positive blobs are added (half of them ``pred_only``) and
    some land inside void or crowd regions. Predicted ids are fresh.

    Returns:
        tuple: ``(H, W)`` int64 id map and ``segments_info`` (``id``,
        ``category_id``, ``area``).
    """
    height, width = gt_map.shape
    cat_isthing = {c['id']: c['isthing'] for c in categories}
    same_kind = {
        kind: [c['id'] for c in categories if c['isthing'] == kind
               and c['id'] not in (gt_only, pred_only, unused)]
        for kind in (0, 1)
    }
    pred_map = np.zeros_like(gt_map)
    pieces = []  # (mask, category_id) in painting order
    for seg in rng.permutation(gt_segments):
        action = rng.random()
        if action < 0.1 and seg['category_id'] != gt_only:
            continue
        cat = seg['category_id']
        if action < 0.25 or cat == gt_only:
            cat = int(rng.choice(same_kind[cat_isthing[cat]]))
        mask = gt_map == seg['id']
        ys, xs = np.nonzero(mask)
        span_y = ys.max() - ys.min() + 1
        span_x = xs.max() - xs.min() + 1
        jitter = rng.choice([0.08, 0.3], p=[0.7, 0.3])
        dy = int(round(rng.uniform(-jitter, jitter) * span_y))
        dx = int(round(rng.uniform(-jitter, jitter) * span_x))
        mask = _shift(mask, dy, dx)
        if seg.get('iscrowd') and rng.random() < 0.5:
            # Two instances inside one crowd region.
            left = np.arange(width)[None, :] < xs.min() + span_x // 2
            pieces += [(mask & left, cat), (mask & ~left, cat)]
        else:
            pieces.append((mask, cat))
    things = same_kind[1] + ([pred_only] if pred_only else [])
    for k in range(num_extra):
        cat = pred_only if pred_only and k % 2 else int(rng.choice(things))
        pieces.append((_random_shape(rng, height, width, 0.12), cat))

    ids = _unique_ids(rng, len(pieces))
    segments = []
    for seg_id, (mask, cat) in zip(ids, pieces):
        pred_map[mask] = seg_id
        segments.append(dict(id=int(seg_id), category_id=int(cat)))
    # Void in the prediction: pixels the model left unassigned.
    pred_map[_random_shape(rng, height, width, 0.1) &
             (rng.random((height, width)) < 0.5)] = 0
    return pred_map, _segments_present(pred_map, segments)


def make_case(seed: int,
              height: int = 48,
              width: int = 64,
              num_segments: int = 12,
              image_id: int | None = None,
              categories: list = CASE_CATEGORIES,
              gt_only: int | None = GT_ONLY_CATEGORY,
              pred_only: int | None = PRED_ONLY_CATEGORY,
              unused: int | None = UNUSED_CATEGORY) -> PanopticPair:
    """A ground truth and its perturbed prediction, fixed by ``seed``.

    ``gt_only`` / ``pred_only`` / ``unused`` name the categories kept out
    of the predictions / the ground truth / both (None: no such category).
    """
    rng = np.random.default_rng(seed)
    gt_map, gt_segments = make_ground_truth(
        rng, height, width, num_segments, categories, pred_only, unused)
    pred_map, pred_segments = perturb_prediction(
        rng, gt_map, gt_segments, categories, gt_only, pred_only, unused)
    image_id = seed if image_id is None else image_id
    return PanopticPair(image_id, f'{image_id:06d}.png', gt_map, gt_segments,
                        pred_map, pred_segments)


def annotations(pairs: list, side: str, with_rle: bool = False) -> list:
    """COCO panoptic ``annotations`` of one side (``'gt'`` or ``'pred'``).

    With ``with_rle`` every segment carries its ``segmentation`` RLE, the
    in-memory form the runner metric uses.
    """
    anns = []
    for pair in pairs:
        segments = getattr(pair, f'{side}_segments')
        if with_rle:
            segments = encode_segments(getattr(pair, f'{side}_map'), segments)
        anns.append(dict(image_id=pair.image_id, file_name=pair.file_name,
                         segments_info=[dict(s) for s in segments]))
    return anns


def write_split(root: str, side: str, pairs: list,
                categories: list = CASE_CATEGORIES) -> tuple[str, str]:
    """Write one side as COCO panoptic ``root/{side}.json`` + PNG folder.

    Returns:
        tuple[str, str]: the JSON path and the PNG folder.
    """
    png_dir = osp.join(root, side)
    os.makedirs(png_dir, exist_ok=True)
    images = []
    for pair in pairs:
        id_map = getattr(pair, f'{side}_map')
        write_panoptic_png(osp.join(png_dir, pair.file_name), id_map)
        images.append(dict(id=pair.image_id, height=id_map.shape[0],
                           width=id_map.shape[1],
                           file_name=pair.file_name.replace('.png', '.jpg')))
    json_path = osp.join(root, f'{side}.json')
    with open(json_path, 'w') as f:
        json.dump(dict(images=images, annotations=annotations(pairs, side),
                       categories=categories), f)
    return json_path, png_dir


def assert_same_pq(actual: dict, expected: dict, tol: float = 1e-9) -> None:
    """Two :func:`~mmpfcn.evaluation.functional.evaluate_panoptic` results
    equal: All/Things/Stuff counts, and PQ / SQ / RQ of the groups and of
    every category within ``tol``."""
    for group in ('All', 'Things', 'Stuff'):
        assert actual[group]['n'] == expected[group]['n'], group
        for key in ('pq', 'sq', 'rq'):
            assert abs(actual[group][key] - expected[group][key]) <= tol, \
                (group, key, actual[group][key], expected[group][key])
    assert set(actual['per_class']) == set(expected['per_class'])
    for cat_id, res in expected['per_class'].items():
        for key in ('pq', 'sq', 'rq'):
            assert abs(actual['per_class'][cat_id][key] - res[key]) <= tol, \
                (cat_id, key, actual['per_class'][cat_id][key], res[key])
