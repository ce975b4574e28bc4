"""Input checks for the PQ engine.

panopticapi answers malformed predictions with a ``KeyError`` at best and
a silently wrong PQ at worst (duplicate segment ids, predictions for images
it does not know, a ground-truth category missing from the list); hotcoco
catches more but not all. Every check here names the image (id and file),
the side (ground truth / prediction) and what was expected.

The cheap checks (JSON fields, PNG headers: present, 8-bit RGB, one size
per image; RLE sizes) run before any engine sees the data. The pixel check
decodes every PNG, which costs more than the hotcoco evaluation itself, so
it runs on request, or after an engine rejected a PNG, to name the image
and the segment ids. Wrong ground-truth ``area`` fields need no check to
be harmless: the engine counts the pixels instead (see ``pq.py``).
"""
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np
import pycocotools.mask as mask_util
from PIL import Image

from .panoptic_io import (
    MAX_SEGMENT_ID,
    png_mode_error,
    read_panoptic_png,
    segment_areas,
)

SIDES = {'gt': 'ground truth', 'pred': 'prediction'}
_REQUIRED_KEYS = {
    # (side, with PNG files): keys every segment must carry
    ('gt', True): ('id', 'category_id', 'iscrowd', 'area'),
    ('pred', True): ('id', 'category_id'),
    ('gt', False): ('id', 'category_id', 'iscrowd', 'segmentation'),
    ('pred', False): ('id', 'category_id', 'segmentation'),
}


class PanopticFormatError(ValueError):
    """Panoptic annotations or predictions that cannot be scored."""


class PanopticConsistencyError(RuntimeError):
    """Scores that no valid input can give (PQ, SQ or RQ outside
    [0, 1]): an engine or a trusted caller handed over wrong counts."""


def describe(ann: dict, side: str) -> str:
    """``'prediction of image 42 (000042.png)'`` for error messages."""
    name = f" ({ann['file_name']})" if 'file_name' in ann else ''
    return f"{SIDES[side]} of image {ann.get('image_id')!r}{name}"


def check_categories(categories: Sequence[dict]) -> None:
    """Category ids must be unique ints and ``isthing`` 0 or 1."""
    if not categories:
        raise PanopticFormatError('categories: the list is empty')
    for cat in categories:
        if 'id' not in cat or cat.get('isthing') not in (0, 1, True, False):
            raise PanopticFormatError(
                f'categories: every entry needs an `id` and `isthing` '
                f'(0 or 1), got {cat!r}')
    ids, counts = np.unique([cat['id'] for cat in categories],
                            return_counts=True)
    if (counts > 1).any():
        raise PanopticFormatError(
            f'categories: duplicate category ids {ids[counts > 1].tolist()}')


def match_images(gt_annotations: Sequence[dict],
                 pred_annotations: Sequence[dict]) -> list[tuple[dict, dict]]:
    """Pair every ground-truth image with its one prediction.

    Returns:
        list[tuple[dict, dict]]: ``(gt_ann, pred_ann)`` in ground-truth
        order.

    Raises:
        PanopticFormatError: an image id repeated on either side, a
            ground-truth image without prediction, or a prediction for an
            image the ground truth does not have.
    """
    by_side = {}
    for side, anns in (('gt', gt_annotations), ('pred', pred_annotations)):
        if any('image_id' not in ann for ann in anns):
            raise PanopticFormatError(
                f'{SIDES[side]}: every annotation needs an `image_id`')
        ids, counts = np.unique([ann['image_id'] for ann in anns],
                                return_counts=True)
        if (counts > 1).any():
            raise PanopticFormatError(
                f'{SIDES[side]}: more than one annotation for image ids '
                f'{ids[counts > 1].tolist()[:10]}')
        by_side[side] = {ann['image_id']: ann for ann in anns}
    missing = by_side['gt'].keys() - by_side['pred'].keys()
    if missing:
        raise PanopticFormatError(
            f'no prediction for {len(missing)} ground-truth image(s), e.g. '
            f'image ids {sorted(missing)[:10]}')
    unknown = by_side['pred'].keys() - by_side['gt'].keys()
    if unknown:
        raise PanopticFormatError(
            f'predictions for {len(unknown)} image(s) absent from the '
            f'ground truth, e.g. image ids {sorted(unknown)[:10]}')
    return [(gt, by_side['pred'][image_id])
            for image_id, gt in by_side['gt'].items()]


def check_segments(anns: Sequence[dict], side: str, category_ids: np.ndarray,
                   with_png: bool) -> None:
    """The ``segments_info`` of all images of one side: required keys,
    integer ids unique within each image, known categories.

    The id and category checks run once over the segments of all images
    (a per-image ``np.unique`` costs more than the hotcoco evaluation).

    Args:
        anns (Sequence[dict]): COCO panoptic annotations, one per image.
        side (str): ``'gt'`` or ``'pred'``.
        category_ids (np.ndarray): ``(C,)`` ids of the known categories.
        with_png (bool): whether segments live in PNGs (else each must
            carry an RLE ``segmentation``).
    """
    required = _REQUIRED_KEYS[side, with_png]
    for ann in anns:
        segments = ann.get('segments_info')
        if not isinstance(segments, list):
            raise PanopticFormatError(
                f'{describe(ann, side)}: `segments_info` must be a list')
        if with_png and 'file_name' not in ann:
            raise PanopticFormatError(
                f'{describe(ann, side)}: `file_name` of the PNG missing')
        for seg in segments:
            if not all(key in seg for key in required):
                absent = [key for key in required if key not in seg]
                raise PanopticFormatError(
                    f'{describe(ann, side)}: segment {seg.get("id")!r} '
                    f'lacks {absent}')

    # One row per segment of any image: (image index, id, category id).
    image = np.repeat(np.arange(len(anns)),
                      [len(ann['segments_info']) for ann in anns])
    if not len(image):
        return
    ids = np.array([seg['id'] for ann in anns
                    for seg in ann['segments_info']])
    cats = np.array([seg['category_id'] for ann in anns
                     for seg in ann['segments_info']])
    max_id = MAX_SEGMENT_ID if with_png else np.iinfo(np.int64).max
    if np.issubdtype(ids.dtype, np.integer):
        bad = (ids < 1) | (ids > max_id)
    else:
        bad = np.array([not isinstance(i, (int, np.integer)) or
                        not 1 <= i <= max_id for i in ids.tolist()])
    if bad.any():
        first = int(np.argmax(bad))
        raise PanopticFormatError(
            f'{describe(anns[image[first]], side)}: segment id '
            f'{ids[first]!r} is not an integer in [1, {max_id}] (0 is void)')

    order = np.lexsort((ids, image))
    repeated = ((image[order][1:] == image[order][:-1]) &
                (ids[order][1:] == ids[order][:-1]))
    if repeated.any():
        first = order[1:][repeated][0]
        same_image = image[order][1:][repeated] == image[first]
        raise PanopticFormatError(
            f'{describe(anns[image[first]], side)}: duplicate segment ids '
            f'{np.unique(ids[order][1:][repeated][same_image]).tolist()}')

    unknown = ~np.isin(cats, category_ids)
    if unknown.any():
        first = int(np.argmax(unknown))
        in_image = unknown & (image == image[first])
        raise PanopticFormatError(
            f'{describe(anns[image[first]], side)}: segments '
            f'{ids[in_image].tolist()} have unknown category ids '
            f'{np.unique(cats[in_image]).tolist()}')


def png_path(folder: str, ann: dict, side: str) -> str:
    """The PNG of ``ann``; raises FileNotFoundError naming the image."""
    path = osp.join(folder, ann['file_name'])
    if not osp.isfile(path):
        raise FileNotFoundError(f'{describe(ann, side)}: PNG {path} not '
                                'found')
    return path


def image_sizes(images: Sequence[dict] | None) -> dict:
    """``{image_id: (h, w)}`` of the COCO ``images`` entries that give
    ``height`` and ``width`` (empty for None)."""
    return {image['id']: (image['height'], image['width'])
            for image in images or ()
            if isinstance(image, dict) and
            {'id', 'height', 'width'} <= image.keys()}


def check_png_sizes(gt_ann: dict, pred_ann: dict, gt_folder: str,
                    pred_folder: str,
                    image_size: tuple[int, int] | None = None) -> None:
    """Both PNGs exist, are 8-bit RGB and have one size, that of the
    image entry if given (reads the headers only).

    Args:
        gt_ann (dict): ground-truth annotation of one image.
        pred_ann (dict): its prediction.
        gt_folder (str): folder of the ground-truth PNGs.
        pred_folder (str): folder of the predicted PNGs.
        image_size (tuple[int, int], optional): ``(h, w)`` of the image
            in the ground truth's ``images`` list.
    """
    sizes = []
    for ann, folder, side in ((gt_ann, gt_folder, 'gt'),
                              (pred_ann, pred_folder, 'pred')):
        path = png_path(folder, ann, side)
        try:
            with Image.open(path) as img:
                error = png_mode_error(path, img.mode, img.size)
                sizes.append(img.size[::-1])
        except OSError as err:  # not an image (PIL names the file)
            raise PanopticFormatError(
                f'{describe(ann, side)}: {err}; expected a COCO panoptic '
                'PNG') from err
        if error:
            raise PanopticFormatError(f'{describe(ann, side)}: {error}')
    if image_size is not None and sizes[0] != tuple(image_size):
        raise PanopticFormatError(
            f'{describe(gt_ann, "gt")}: PNG size (h, w) {sizes[0]} differs '
            f'from the image entry (height, width) {tuple(image_size)}')
    if sizes[0] != sizes[1]:
        raise PanopticFormatError(
            f'{describe(pred_ann, "pred")}: size (h, w) {sizes[1]} differs '
            f'from the ground truth {sizes[0]}')


def rle_size(gt_ann: dict, pred_ann: dict) -> tuple[int, int] | None:
    """The common ``(h, w)`` of all RLEs of an image pair (None if the
    image has no segment on either side); checks that segments do not
    overlap and fills each segment's ``area`` from its mask."""
    sizes = set()
    for ann, side in ((gt_ann, 'gt'), (pred_ann, 'pred')):
        segments = ann['segments_info']
        if not segments:
            continue
        rles = [seg['segmentation'] for seg in segments]
        try:
            side_sizes = {tuple(rle['size']) for rle in rles}
            areas = mask_util.area(rles)
            # Disjoint masks iff their areas add up to the area of the
            # union.
            overlap = areas.sum() != mask_util.area(
                mask_util.merge(rles, intersect=False))
        except (KeyError, TypeError, ValueError) as err:
            raise PanopticFormatError(
                f'{describe(ann, side)}: `segmentation` must be an RLE dict '
                f'with `size` [h, w] and `counts` ({err})') from err
        if len(side_sizes) > 1:
            raise PanopticFormatError(
                f'{describe(ann, side)}: segments have different mask '
                f'sizes {sorted(side_sizes)}')
        if overlap:
            raise PanopticFormatError(
                f'{describe(ann, side)}: segments overlap (a panoptic '
                'segmentation gives each pixel at most one segment)')
        for seg, area in zip(segments, areas.tolist()):
            seg['area'] = area
        sizes |= side_sizes
    if len(sizes) > 1:
        raise PanopticFormatError(
            f'{describe(pred_ann, "pred")}: mask size (h, w) differs from '
            f'the ground truth: {sorted(sizes)}')
    return sizes.pop() if sizes else None


def _check_png_pixels(gt_ann: dict, pred_ann: dict, gt_folder: str,
                      pred_folder: str) -> None:
    """Segment ids of the PNGs against ``segments_info`` (one image)."""
    for ann, folder, side in ((gt_ann, gt_folder, 'gt'),
                              (pred_ann, pred_folder, 'pred')):
        try:
            id_map = read_panoptic_png(png_path(folder, ann, side))
        except (OSError, ValueError) as err:
            if isinstance(err, FileNotFoundError):
                raise
            raise PanopticFormatError(f'{describe(ann, side)}: {err}') \
                from err
        png_ids, png_areas = segment_areas(id_map)
        keep = png_ids != 0  # void
        png_ids, png_areas = png_ids[keep], png_areas[keep]
        json_ids = np.array([seg['id'] for seg in ann['segments_info']],
                            dtype=np.int64)
        only_png = png_ids[~np.isin(png_ids, json_ids)]
        only_json = json_ids[~np.isin(json_ids, png_ids)]
        if len(only_png) or len(only_json):
            raise PanopticFormatError(
                f'{describe(ann, side)}: segment ids {only_png.tolist()} are '
                f'in the PNG but not in segments_info, ids '
                f'{only_json.tolist()} in segments_info but not in the PNG')
        if side == 'gt':
            json_areas = np.array(
                [seg['area'] for seg in ann['segments_info']])
            # Both are sorted by id once the id sets agree.
            order = np.argsort(json_ids)
            wrong = json_areas[order] != png_areas
            if wrong.any():
                raise PanopticFormatError(
                    f'{describe(ann, side)}: `area` of segments '
                    f'{json_ids[order][wrong].tolist()} differs from their '
                    'pixel count in the PNG (PQ uses the pixel count)')


def check_png_pixels(pairs: Sequence[tuple[dict, dict]], gt_folder: str,
                     pred_folder: str, nproc: int = 1) -> None:
    """Decode every PNG and check its segment ids against the JSON.

    Catches what the header-only checks cannot: a segment in the PNG but
    not in ``segments_info`` or the reverse (either side), and a
    ground-truth ``area`` that is not the segment's pixel count. Costs one
    PNG decode per file, run on ``nproc`` threads (PIL and numpy release
    the GIL while decoding and sorting).
    """
    def check(pair):
        _check_png_pixels(*pair, gt_folder, pred_folder)

    with ThreadPoolExecutor(max_workers=max(1, nproc)) as pool:
        # list() re-raises the first failure.
        list(pool.map(check, pairs))
