"""Panoptic quality (PQ, SQ, RQ) with hotcoco, panopticapi as reference.

Both engines implement panopticapi's protocol: a predicted and a
ground-truth segment of one category match when their IoU (with the
prediction's void pixels left out of the union) exceeds 0.5; crowd regions
are never matched, and an unmatched prediction lying more than half in void
or in a crowd region of its category is not a false positive. Per category
``PQ = sum IoU / (TP + FP/2 + FN/2)``, ``SQ = sum IoU / TP``,
``RQ = TP / (TP + FP/2 + FN/2)``; the All/Things/Stuff figures average the
categories that have at least one segment on either side.

hotcoco (Rust) is the default: same numbers, several times faster, and it
takes RLE segments directly. panopticapi is the selectable reference and
the fallback when hotcoco cannot be imported.
"""
from typing import Mapping, Sequence

import numpy as np

from .engines import hotcoco_or, print_log
from .panoptic_checks import (
    PanopticConsistencyError,
    PanopticFormatError,
    check_categories,
    check_png_pixels,
    check_png_sizes,
    check_segments,
    image_sizes,
    match_images,
    rle_size,
)
from .pq_counts import hotcoco_counts, panopticapi_counts

ENGINES = ('hotcoco', 'panopticapi')
GROUPS = (('All', None), ('Things', 1), ('Stuff', 0))


def evaluate_panoptic(gt_annotations: Sequence[dict],
                      pred_annotations: Sequence[dict],
                      categories: Sequence[dict],
                      gt_folder: str | None = None,
                      pred_folder: str | None = None,
                      engine: str = 'hotcoco',
                      nproc: int = 1,
                      check_pixels: bool = False,
                      trusted: bool = False,
                      images: Sequence[dict] | None = None) -> dict:
    """Score panoptic predictions against ground truth.

    Two input forms. With ``gt_folder`` and ``pred_folder``, segments are
    COCO panoptic PNGs (``id = R + 256 G + 256^2 B``) named by each
    annotation's ``file_name``. With both folders None, every segment
    carries its mask as an RLE ``segmentation`` (pycocotools' dict with
    ``size`` [h, w] and ``counts``) and no file is read.

    Either way the area of every segment is its pixel count: the masks'
    for RLE input, the PNG's for PNG input. The ground truth's JSON
    ``area`` is not used (panopticapi's own ``pq_compute`` counts the
    predicted segments but takes the ground truth's areas from the JSON,
    so the results agree where those are right). Checked by default: the
    JSON fields, and from the PNG headers that every PNG exists, is 8-bit
    RGB and has the size of its counterpart (and of its ``images``
    entry); the scores must lie in [0, 1].

    Args:
        gt_annotations (Sequence[dict]): COCO panoptic annotations
            (``image_id``, ``file_name``, ``segments_info`` of segments with
            ``id``, ``category_id``, ``iscrowd`` and, for PNGs, ``area``).
        pred_annotations (Sequence[dict]): the same for predictions (no
            ``iscrowd``/``area`` needed), exactly one per ground-truth image.
        categories (Sequence[dict]): ``id`` and ``isthing`` of every
            category; only these are scored, as in panopticapi.
        gt_folder (str, optional): folder of the ground-truth PNGs.
        pred_folder (str, optional): folder of the predicted PNGs.
        engine (str): ``'hotcoco'`` (default) or ``'panopticapi'``.
        nproc (int): hotcoco threads (its thread pool is sized once per
            process, at its first use, unless ``RAYON_NUM_THREADS`` is set)
            or panopticapi processes.
        check_pixels (bool): also decode every PNG and check its segment
            ids against ``segments_info`` (both sides) and the ground-truth
            JSON areas against the pixel counts. Off by default because it
            costs more than the whole hotcoco evaluation; the engines
            themselves reject prediction PNGs that disagree with their
            JSON.
        trusted (bool): RLE input only: skip the checks of the segments
            (keys, unique ids, known categories, one mask size per image,
            disjoint masks) and take their ``area`` as given. Only for a
            caller that builds them from one checked id map per image (the
            runner metric): the checks cost more than the hotcoco
            evaluation. Images are still paired and checked for one
            prediction each.
        images (Sequence[dict], optional): the ground truth's COCO
            ``images`` entries; PNG input only: each PNG must have the
            ``height`` and ``width`` of its image's entry.

    Returns:
        dict: ``{'All' | 'Things' | 'Stuff': {'pq', 'sq', 'rq', 'n'},
        'per_class': {category_id: {'pq', 'sq', 'rq'}}}``, scores as
        fractions; a group without any scored category gives 0 with n 0.

    Raises:
        PanopticFormatError: (a ValueError) malformed input, naming the
            image and side.
        FileNotFoundError: a PNG is missing, naming the image.
        PanopticConsistencyError: (a RuntimeError) a score outside [0, 1],
            naming the category.
    """
    if engine not in ENGINES:
        raise ValueError(f'engine must be one of {ENGINES}, got {engine!r}')
    if (gt_folder is None) != (pred_folder is None):
        raise ValueError('give both gt_folder and pred_folder (PNG input) '
                         'or neither (RLE input)')
    with_png = gt_folder is not None
    if trusted and with_png:
        raise ValueError('trusted applies to RLE input only')
    check_categories(categories)
    if trusted:
        pairs = match_images(gt_annotations, pred_annotations)
        sizes = [_first_size(*pair) for pair in pairs]
    else:
        pairs, sizes = _checked_pairs(gt_annotations, pred_annotations,
                                      categories, gt_folder, pred_folder,
                                      check_pixels, nproc, images)

    if engine == 'hotcoco':
        engine = hotcoco_or('panopticapi', 'PQ')
    count = hotcoco_counts if engine == 'hotcoco' else panopticapi_counts
    try:
        counts = count(pairs, categories, gt_folder, pred_folder, sizes,
                       nproc)
    except PanopticFormatError:
        if with_png and not check_pixels:
            # The engine found a PNG that disagrees with its JSON or cannot
            # be decoded; the pixel check names the image, file and
            # segment ids.
            check_png_pixels(pairs, gt_folder, pred_folder, nproc)
        raise
    return summarize_pq(counts, categories)


def _checked_pairs(gt_annotations: Sequence[dict],
                   pred_annotations: Sequence[dict],
                   categories: Sequence[dict], gt_folder: str | None,
                   pred_folder: str | None, check_pixels: bool,
                   nproc: int,
                   images: Sequence[dict] | None = None
                   ) -> tuple[list, list | None]:
    """The checked (gt, pred) annotation pairs of the images, as copies
    whose RLE segments carry the ``area`` of their masks, and the (h, w)
    of each pair (None for PNG input)."""
    with_png = gt_folder is not None
    category_ids = np.array([cat['id'] for cat in categories])
    # Copies, so that filling in areas never touches the caller's dicts.
    pairs = [tuple(dict(ann, segments_info=[dict(seg) for seg in
                                            ann.get('segments_info', [])])
                   for ann in pair)
             for pair in match_images(gt_annotations, pred_annotations)]
    check_segments([gt for gt, _ in pairs], 'gt', category_ids, with_png)
    check_segments([pred for _, pred in pairs], 'pred', category_ids,
                   with_png)
    if with_png:
        known = image_sizes(images)
        for gt_ann, pred_ann in pairs:
            check_png_sizes(gt_ann, pred_ann, gt_folder, pred_folder,
                            known.get(gt_ann['image_id']))
    if with_png and check_pixels:
        check_png_pixels(pairs, gt_folder, pred_folder, nproc)
    sizes = None if with_png else [rle_size(*pair) for pair in pairs]
    return pairs, sizes


def _first_size(gt_ann: dict, pred_ann: dict) -> tuple[int, int] | None:
    """(h, w) of the first RLE of an image pair (None without segments)."""
    for ann in (gt_ann, pred_ann):
        if ann['segments_info']:
            return tuple(ann['segments_info'][0]['segmentation']['size'])
    return None


def summarize_pq(counts: np.ndarray, categories: Sequence[dict]) -> dict:
    """PQ/SQ/RQ per category and per group from match counts.

    Args:
        counts (np.ndarray): ``(C, 4)`` float, per category (in the order
            of ``categories``) the summed IoU of the matches, TP, FP, FN.
        categories (Sequence[dict]): ``id`` and ``isthing`` per category.

    Returns:
        dict: see :func:`evaluate_panoptic`.

    Raises:
        PanopticConsistencyError: a category's PQ, SQ or RQ outside
            [0, 1] (an IoU sum above TP: wrong segment areas), naming it.
    """
    iou, tp, fp, fn = counts.T  # each (C,)
    denom = tp + 0.5 * fp + 0.5 * fn
    scored = denom > 0
    safe = np.where(scored, denom, 1)
    pq = np.where(scored, iou / safe, 0.0)
    sq = np.where(tp > 0, iou / np.maximum(tp, 1), 0.0)
    rq = np.where(scored, tp / safe, 0.0)
    _check_range(np.stack([pq, sq, rq]), counts, categories)
    isthing = np.array([bool(cat['isthing']) for cat in categories])

    results = {}
    for name, thing in GROUPS:
        member = scored if thing is None else scored & (isthing == thing)
        n = int(member.sum())
        results[name] = {
            key: float(value[member].sum() / n) if n else 0.0
            for key, value in (('pq', pq), ('sq', sq), ('rq', rq))
        }
        results[name]['n'] = n
    results['per_class'] = {
        cat['id']: dict(pq=float(p), sq=float(s), rq=float(r))
        for cat, p, s, r in zip(categories, pq, sq, rq)
    }
    return results


def _check_range(scores: np.ndarray, counts: np.ndarray,
                 categories: Sequence[dict]) -> None:
    """Raise :class:`PanopticConsistencyError` naming the first category
    whose ``(3, C)`` PQ/SQ/RQ ``scores`` leave [0, 1] (NaN included)."""
    bad = ~((scores >= 0) & (scores <= 1)).all(axis=0)  # (C,)
    if not bad.any():
        return
    index = int(np.argmax(bad))
    cat = categories[index]
    name = f" ({cat['name']})" if 'name' in cat else ''
    pq, sq, rq = (100 * scores[:, index]).tolist()
    iou, tp, fp, fn = counts[index].tolist()
    raise PanopticConsistencyError(
        f"category {cat['id']}{name}: PQ {pq:.1f}, SQ {sq:.1f}, RQ {rq:.1f} "
        f'outside [0, 100] (IoU sum {iou:g}, TP {tp:g}, FP {fp:g}, FN '
        f'{fn:g}; categories affected: {int(bad.sum())}): inconsistent '
        'counts, e.g. segment areas that are not the pixel counts of the '
        'masks')


def print_panoptic_table(results: dict,
                         logger=None,
                         classwise: bool = False,
                         category_names: Mapping[int, str] | None = None,
                         category_ids: Sequence[int] | None = None) -> str:
    """Format PQ results as panopticapi's table, in percent.

    Args:
        results (dict): the output of :func:`evaluate_panoptic`.
        logger (logging.Logger | str, optional): where to log the table
            (``print_log`` semantics; ``'current'`` for the runner's
            logger). None only returns it.
        classwise (bool): append one row per category.
        category_names (Mapping[int, str], optional): names for the
            per-category rows (default: the ids).
        category_ids (Sequence[int], optional): the categories of the
            per-category rows, in order (default: all of them).

    Returns:
        str: the table.
    """
    header = f"{'':14s}|{'PQ':>7s}{'SQ':>7s}{'RQ':>7s}{'N':>6s}"
    lines = [header, '-' * len(header)]
    for name, _ in GROUPS:
        res = results[name]
        lines.append(f"{name:14s}|{100 * res['pq']:7.1f}"
                     f"{100 * res['sq']:7.1f}{100 * res['rq']:7.1f}"
                     f"{res['n']:6d}")
    if classwise:
        lines.append('-' * len(header))
        names = category_names or {}
        if category_ids is None:
            category_ids = list(results['per_class'])
        for cat_id in category_ids:
            res = results['per_class'][cat_id]
            label = str(names.get(cat_id, cat_id))[:14]
            lines.append(f"{label:14s}|{100 * res['pq']:7.1f}"
                         f"{100 * res['sq']:7.1f}{100 * res['rq']:7.1f}")
    table = '\n'.join(lines)
    if logger is not None:
        print_log('\n' + table, logger=logger)
    return table

