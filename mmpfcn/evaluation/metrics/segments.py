"""Panoptic predictions and ground truth as lists of RLE segments.

The records the runner metric keeps per image, in the form the PQ engine's
in-memory path takes: COCO panoptic ``segments_info`` dicts, each carrying
its mask as a pycocotools RLE ``segmentation``.
"""
from typing import List, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

from .rle import encode_id_map


def encode_panoptic_prediction(
        pan: np.ndarray,
        label2cat: np.ndarray,
        void_labels: Sequence[int],
        instance_offset: int,
        name: str = 'prediction') -> Tuple[List[dict], np.ndarray,
                                           np.ndarray]:
    """Split an mmdet panoptic map into RLE segments numbered 1..K.

    Args:
        pan (np.ndarray): (H, W) int64 ``label + instance_id *
            instance_offset``.
        label2cat (np.ndarray): (C,) category id of each label.
        void_labels (Sequence[int]): Labels meaning "no segment" (mmdet:
            the number of classes and the map's ``ignore_index``).
        instance_offset (int): mmdet's ``INSTANCE_OFFSET``.
        name (str): What to call the map in errors (e.g. the image).

    Returns:
        tuple:
            - list[dict]: ``{'id', 'category_id', 'area', 'segmentation'}``
              per segment; ids are 1..K (0 is void in a COCO PNG, while
              ``label 0 + instance 0`` is a valid mmdet value).
            - np.ndarray: (K',) the distinct values of ``pan``.
            - np.ndarray: (K',) the segment id given to each (0 = void).
    """
    ids, rles, areas = encode_id_map(pan)
    if ids.size and ids[0] < 0:
        raise ValueError(f'{name}: pred_panoptic_seg has negative values')
    labels = ids % instance_offset
    keep = ~np.isin(labels, void_labels)
    bad = labels[keep & (labels >= label2cat.size)]
    if bad.size:
        raise ValueError(f'{name}: pred_panoptic_seg has labels '
                         f'{bad.tolist()} outside 0..{label2cat.size - 1} '
                         f'(void: {sorted(set(void_labels))})')
    seg_ids = np.where(keep, np.cumsum(keep), 0)
    segments = [
        dict(id=int(seg_id), category_id=int(cat), area=int(area),
             segmentation=rles[k])
        for k, seg_id, cat, area in zip(
            np.flatnonzero(keep), seg_ids[keep], label2cat[labels[keep]],
            areas[keep])
    ]
    return segments, ids, seg_ids


def encode_gt_segments(gt_map: np.ndarray,
                       segments_info: Sequence[dict]) -> Tuple[List[dict],
                                                               np.ndarray]:
    """RLE segments of a COCO panoptic ground truth.

    Args:
        gt_map (np.ndarray): (H, W) segment ids read from the PNG.
        segments_info (Sequence[dict]): The annotation's segments
            (``id``, ``category_id``, ``iscrowd``, ``area``).

    Returns:
        tuple:
            - list[dict]: ``{'id', 'category_id', 'iscrowd', 'area',
              'segmentation'}`` per segment of ``segments_info`` (area from
              the JSON as panopticapi takes it, else counted; a segment
              missing from the PNG gets an empty mask).
            - np.ndarray: (K',) the distinct values of ``gt_map``.
    """
    ids, rles, areas = encode_id_map(gt_map)
    wanted = np.array([seg['id'] for seg in segments_info], dtype=np.int64)
    pos = np.minimum(np.searchsorted(ids, wanted), ids.size - 1)
    found = ids[pos] == wanted
    segments = []
    for seg, p, hit in zip(segments_info, pos, found):
        if hit:
            rle, area = rles[p], int(areas[p])
        else:
            rle, area = _empty_rle(gt_map.shape), 0
        segments.append(
            dict(id=seg['id'], category_id=seg['category_id'],
                 iscrowd=seg.get('iscrowd', 0), area=seg.get('area', area),
                 segmentation=rle))
    return segments, ids


def _empty_rle(shape: tuple) -> dict:
    """RLE of an all-zero (H, W) mask."""
    return mask_utils.encode(np.zeros((*shape, 1), np.uint8, order='F'))[0]
