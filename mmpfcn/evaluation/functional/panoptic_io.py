"""Conversions between the three forms a panoptic segmentation takes.

* an id map: ``(H, W)`` integer array, one segment id per pixel, 0 = void;
* a COCO panoptic PNG: the id map stored as RGB, ``id = R + 256 G + 256^2 B``;
* per-segment RLE masks (pycocotools' ``{'size': [h, w], 'counts': ...}``),
  which is how the runner metric hands segments to the PQ engine without
  writing PNG files.
"""
from typing import Sequence

import numpy as np
import pycocotools.mask as mask_util
from PIL import Image

#: Largest segment id the RGB encoding can hold.
MAX_SEGMENT_ID = 256**3 - 1


def rgb2id(rgb: np.ndarray) -> np.ndarray:
    """Decode an RGB-encoded panoptic image into segment ids.

    Args:
        rgb (np.ndarray): ``(H, W, 3)`` uint8 image.

    Returns:
        np.ndarray: ``(H, W)`` uint32 ids, ``R + 256 G + 256^2 B``.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f'expected an (H, W, 3) RGB array, got {rgb.shape}')
    rgb = rgb.astype(np.uint32)
    return rgb[..., 0] + (rgb[..., 1] << 8) + (rgb[..., 2] << 16)


def id2rgb(id_map: np.ndarray) -> np.ndarray:
    """Encode segment ids as the RGB colours of a COCO panoptic PNG.

    Args:
        id_map (np.ndarray): ``(H, W)`` non-negative integer ids, each at
            most :data:`MAX_SEGMENT_ID`.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 image.
    """
    if id_map.size and (id_map.min() < 0 or id_map.max() > MAX_SEGMENT_ID):
        raise ValueError('segment ids must lie in [0, 256**3 - 1] to be '
                         f'stored as RGB, got [{id_map.min()}, '
                         f'{id_map.max()}]')
    ids = id_map.astype(np.uint32)
    shifts = np.array([0, 8, 16], dtype=np.uint32)
    return ((ids[..., None] >> shifts) & 0xFF).astype(np.uint8)


def read_panoptic_png(path: str) -> np.ndarray:
    """Read a COCO panoptic PNG into a ``(H, W)`` uint32 id map."""
    with Image.open(path) as img:
        if img.mode != 'RGB':
            raise ValueError(f'{path}: a panoptic PNG must be RGB, got mode '
                             f'{img.mode!r}')
        return rgb2id(np.asarray(img))


def write_panoptic_png(path: str, id_map: np.ndarray) -> None:
    """Write a ``(H, W)`` id map as a COCO panoptic PNG."""
    Image.fromarray(id2rgb(id_map), mode='RGB').save(path)


def encode_segments(id_map: np.ndarray,
                    segments_info: Sequence[dict]) -> list[dict]:
    """Attach an RLE mask and the area to each segment of an id map.

    Args:
        id_map (np.ndarray): ``(H, W)`` segment ids, 0 = void.
        segments_info (Sequence[dict]): COCO panoptic segment dicts with
            at least ``id``; every other key is copied through.

    Returns:
        list[dict]: the segments in the same order, each a copy with
        ``segmentation`` (RLE, ``counts`` as str so it is JSON-ready) and
        ``area`` (pixels of the segment in ``id_map``).
    """
    if id_map.ndim != 2:
        raise ValueError(f'expected an (H, W) id map, got {id_map.shape}')
    ids = np.array([seg['id'] for seg in segments_info], dtype=np.int64)
    # (H, W, N) in Fortran order, which is what pycocotools encodes
    # without a copy.
    masks = np.asfortranarray(
        (id_map[..., None] == ids).astype(np.uint8))
    rles = mask_util.encode(masks) if len(ids) else []
    areas = masks.sum(axis=(0, 1))
    encoded = []
    for seg, rle, area in zip(segments_info, rles, areas):
        rle['counts'] = rle['counts'].decode('ascii')
        encoded.append(dict(seg, segmentation=rle, area=int(area)))
    return encoded


def decode_segments(segments: Sequence[dict],
                    size: Sequence[int] | None = None) -> np.ndarray:
    """Paint RLE-carrying segments into an id map.

    Args:
        segments (Sequence[dict]): segments with ``id`` and a
            ``segmentation`` RLE of one common size.
        size (Sequence[int], optional): ``(H, W)``; required when
            ``segments`` is empty, checked against the RLEs otherwise.

    Returns:
        np.ndarray: ``(H, W)`` int64 ids, 0 where no segment covers a pixel.

    Raises:
        ValueError: if RLE sizes differ or two segments share a pixel.
    """
    sizes = {tuple(seg['segmentation']['size']) for seg in segments}
    if size is not None:
        sizes.add(tuple(size))
    if len(sizes) != 1:
        raise ValueError(f'segments have different mask sizes: {sizes}')
    height, width = sizes.pop()
    if not segments:
        return np.zeros((height, width), dtype=np.int64)
    ids = np.array([seg['id'] for seg in segments], dtype=np.int64)
    masks = mask_util.decode([seg['segmentation'] for seg in segments])
    coverage = masks.sum(axis=2, dtype=np.int64)  # (H, W)
    if (coverage > 1).any():
        raise ValueError('panoptic segments overlap: a pixel belongs to '
                         'more than one segment')
    return np.where(coverage > 0, ids[masks.argmax(axis=2)], 0)
