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
import contextlib
import io
import multiprocessing
import os
import os.path as osp
import tempfile
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
    describe,
    image_sizes,
    match_images,
    png_path,
    rle_size,
)
from .panoptic_io import (
    decode_segments,
    read_panoptic_png,
    segment_areas,
    write_panoptic_png,
)

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
    count = _hotcoco_counts if engine == 'hotcoco' else _panopticapi_counts
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


def _hotcoco_counts(pairs: list, categories: Sequence[dict],
                    gt_folder: str | None, pred_folder: str | None,
                    sizes: list | None, nproc: int) -> np.ndarray:
    """``(C, 4)`` counts from hotcoco, from PNGs or from RLEs."""
    # rayon reads this when it builds its global pool, at the first use.
    os.environ.setdefault('RAYON_NUM_THREADS', str(max(1, nproc)))
    from hotcoco.panoptic import PanopticEval

    cats = [dict(id=cat['id'], isthing=int(cat['isthing']),
                 name=str(cat.get('name', cat['id']))) for cat in categories]
    image_ids = [gt['image_id'] for gt, _ in pairs]
    if not all(isinstance(i, int) and i >= 0 for i in image_ids):
        # hotcoco takes non-negative integer image ids only (Cityscapes'
        # are strings); the numbering stays inside this function.
        pairs = [tuple(dict(ann, image_id=index) for ann in pair)
                 for index, pair in enumerate(pairs)]
    if gt_folder is not None:
        # Without an `area`, hotcoco counts a ground-truth segment's pixels
        # in the PNG it decodes anyway: a wrong JSON area costs nothing.
        gt = dict(annotations=[
            dict(gt, segments_info=_without_area(gt['segments_info']))
            for gt, _ in pairs], categories=cats)
        pred = dict(annotations=[pred for _, pred in pairs])
        folders = dict(gt_folder=gt_folder, pred_folder=pred_folder)
    else:
        gt, pred = _detection_style(pairs, sizes, cats)
        folders = {}
    try:
        evaluator = PanopticEval(gt, pred, **folders)
        evaluator.evaluate()
    except ValueError as err:
        # hotcoco's messages name the image already.
        raise PanopticFormatError(f'hotcoco rejected the input: {err}') \
            from err
    per_class = evaluator.results()['per_class']
    return np.array([[per_class[cat['id']][key]
                      for key in ('iou', 'tp', 'fp', 'fn')]
                     for cat in categories], dtype=np.float64)


def _without_area(segments: list) -> list:
    """Copies of ``segments`` without their ``area`` key."""
    copies = []
    for seg in segments:
        seg = dict(seg)  # copy-and-pop: the cheapest way in CPython
        seg.pop('area', None)
        copies.append(seg)
    return copies


def _detection_style(pairs: list, sizes: list,
                     categories: list) -> tuple[dict, dict]:
    """The RLE segments as two detection-style datasets (one annotation
    per segment), the form hotcoco scores without PNG files."""
    gt_images, pred_images, gt_dets, pred_dets = [], [], [], []
    for (gt, pred), size in zip(pairs, sizes):
        if size is None:
            continue  # nothing on either side: no match, FP or FN
        height, width = size
        # Segment ids are unique per image only; annotation ids must be
        # unique over the dataset. (Dict literals: ~30k per 500 images.)
        image_id = gt['image_id']
        gt_images.append({'id': image_id, 'height': height, 'width': width})
        gt_dets += [{'id': len(gt_dets) + k, 'image_id': image_id,
                     'category_id': seg['category_id'],
                     'segmentation': seg['segmentation'],
                     'area': seg['area'], 'iscrowd': int(seg['iscrowd'])}
                    for k, seg in enumerate(gt['segments_info'], 1)]
        image_id = pred['image_id']
        pred_images.append({'id': image_id, 'height': height,
                            'width': width})
        pred_dets += [{'id': len(pred_dets) + k, 'image_id': image_id,
                       'category_id': seg['category_id'],
                       'segmentation': seg['segmentation'],
                       'area': seg['area']}
                      for k, seg in enumerate(pred['segments_info'], 1)]
    return (dict(images=gt_images, annotations=gt_dets,
                 categories=categories),
            dict(images=pred_images, annotations=pred_dets,
                 categories=categories))


def _panopticapi_counts(pairs: list, categories: Sequence[dict],
                        gt_folder: str | None, pred_folder: str | None,
                        sizes: list | None, nproc: int) -> np.ndarray:
    """``(C, 4)`` counts from panopticapi's per-image matcher, on
    ``nproc`` processes; RLE input is written to temporary PNGs first."""
    if gt_folder is None:
        with tempfile.TemporaryDirectory(prefix='mmpfcn_pq_') as tmp:
            pairs = _write_pngs(pairs, sizes, tmp)
            return _panopticapi_counts(pairs, categories, tmp, tmp, None,
                                       nproc)

    cat_map = {cat['id']: cat for cat in categories}
    chunks = [chunk for chunk in _split(pairs, nproc) if chunk]
    args = [(chunk, gt_folder, pred_folder, cat_map) for chunk in chunks]
    try:
        if len(chunks) > 1:
            with multiprocessing.Pool(len(chunks)) as pool:
                stats = pool.starmap(_panopticapi_chunk, args)
        else:
            stats = [_panopticapi_chunk(*arg) for arg in args]
    except KeyError as err:
        # panopticapi's KeyError messages name the image.
        raise PanopticFormatError(
            f'panopticapi rejected the input: {err.args[0]}') from err
    except OSError as err:
        # PIL's decoding errors name no file; the caller's pixel check does.
        raise PanopticFormatError(
            f'panopticapi rejected the input: {err}') from err
    counts = np.zeros((len(categories), 4), dtype=np.float64)
    for stat in stats:
        counts += [[stat[cat['id']].iou, stat[cat['id']].tp,
                    stat[cat['id']].fp, stat[cat['id']].fn]
                   for cat in categories]
    return counts


def _panopticapi_chunk(chunk: list, gt_folder: str, pred_folder: str,
                       categories: dict):
    """panopticapi's single-core matcher without its progress prints,
    on ground-truth areas counted in the PNGs."""
    from panopticapi.evaluation import pq_compute_single_core

    chunk = [(_with_png_areas(gt_ann, gt_folder), pred_ann)
             for gt_ann, pred_ann in chunk]
    # __wrapped__ skips the decorator that prints every traceback.
    match = getattr(pq_compute_single_core, '__wrapped__',
                    pq_compute_single_core)
    with contextlib.redirect_stdout(io.StringIO()):
        return match(0, chunk, gt_folder, pred_folder, categories)


def _with_png_areas(gt_ann: dict, gt_folder: str) -> dict:
    """A copy of a ground-truth annotation whose segments' ``area`` is
    their pixel count in its PNG (0 for a segment absent from it).

    panopticapi counts the predicted segments in their PNGs but takes the
    ground truth's ``area`` from the JSON; one more decode of the
    ground-truth PNG keeps a wrong JSON area out of the IoU.
    """
    path = png_path(gt_folder, gt_ann, 'gt')
    try:
        ids, areas = segment_areas(read_panoptic_png(path))
    except ValueError as err:
        raise PanopticFormatError(f'{describe(gt_ann, "gt")}: {err}') \
            from err
    png_areas = dict(zip(ids.tolist(), areas.tolist()))
    return dict(gt_ann, segments_info=[
        dict(seg, area=png_areas.get(seg['id'], 0))
        for seg in gt_ann['segments_info']])


def _split(items: list, num: int) -> list[list]:
    """``items`` in ``num`` contiguous chunks of near-equal length."""
    bounds = np.linspace(0, len(items), max(1, num) + 1).round().astype(int)
    return [items[start:end] for start, end in zip(bounds[:-1], bounds[1:])]


def _write_pngs(pairs: list, sizes: list, folder: str) -> list:
    """Paint RLE segments into ``folder/{gt,pred}_<i>.png``; returns the
    pairs with ``file_name`` set accordingly."""
    written = []
    for index, (pair, size) in enumerate(zip(pairs, sizes)):
        size = size or (1, 1)  # no segment anywhere: any size scores alike
        new_pair = []
        for ann, side in zip(pair, ('gt', 'pred')):
            file_name = f'{side}_{index}.png'
            id_map = decode_segments(ann['segments_info'], size)
            # Temporary files: speed over size.
            write_panoptic_png(osp.join(folder, file_name), id_map,
                               compress_level=1)
            new_pair.append(dict(ann, file_name=file_name))
        written.append(tuple(new_pair))
    return written
