"""Per-category PQ counts ``(C, 4)``: summed IoU of the matches, TP, FP,
FN, by hotcoco (PNG pairs or RLE segments) or by panopticapi's per-image
matcher (PNG pairs; RLE segments painted into temporary PNGs first).

Both take ground-truth areas from the PNGs, never from the JSON, so that a
wrong ``area`` cannot move PQ. :func:`~.pq.evaluate_panoptic` checks the
inputs and sums these counts into PQ / SQ / RQ.
"""
import contextlib
import io
import multiprocessing
import os
import os.path as osp
import tempfile
from typing import Sequence

import numpy as np

from .panoptic_checks import PanopticFormatError, describe, png_path
from .panoptic_io import (
    decode_segments,
    read_panoptic_png,
    segment_areas,
    write_panoptic_png,
)


def hotcoco_counts(pairs: list, categories: Sequence[dict],
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


def panopticapi_counts(pairs: list, categories: Sequence[dict],
                        gt_folder: str | None, pred_folder: str | None,
                        sizes: list | None, nproc: int) -> np.ndarray:
    """``(C, 4)`` counts from panopticapi's per-image matcher, on
    ``nproc`` processes; RLE input is written to temporary PNGs first."""
    if gt_folder is None:
        with tempfile.TemporaryDirectory(prefix='mmpfcn_pq_') as tmp:
            pairs = _write_pngs(pairs, sizes, tmp)
            return panopticapi_counts(pairs, categories, tmp, tmp, None,
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
