"""Conversions between the three forms a panoptic segmentation takes.

* an id map: ``(H, W)`` integer array, one segment id per pixel, 0 = void;
* a COCO panoptic PNG: the id map stored as RGB, ``id = R + 256 G + 256^2 B``;
* per-segment RLE masks (pycocotools' ``{'size': [h, w], 'counts': ...}``),
  which is how the runner metric hands segments to the PQ engine without
  writing PNG files.
"""
from typing import Sequence

import cv2
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
    return _color2id(rgb, cv2.COLOR_RGB2RGBA)


def bgr2id(bgr: np.ndarray) -> np.ndarray:
    """:func:`rgb2id` of an image decoded by OpenCV/mmcv (BGR order).

    Args:
        bgr (np.ndarray): ``(H, W, 3)`` uint8 image, channels B, G, R.

    Returns:
        np.ndarray: ``(H, W)`` uint32 ids, ``R + 256 G + 256^2 B``.
    """
    return _color2id(bgr, cv2.COLOR_BGR2RGBA)


def _color2id(image: np.ndarray, to_rgba: int) -> np.ndarray:
    """Segment ids of a 3-channel image; ``to_rgba`` is the cv2 code that
    puts its channels in R, G, B, A order."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f'expected an (H, W, 3) colour array, got {image.shape}')
    if image.dtype != np.uint8 or image.size == 0:
        rgb = image.astype(np.uint32)
        if to_rgba == cv2.COLOR_BGR2RGBA:
            rgb = rgb[..., ::-1]
        return rgb[..., 0] + (rgb[..., 1] << 8) + (rgb[..., 2] << 16)
    # Read each RGBA pixel as one little-endian uint32 and drop the alpha
    # byte: one vectorised pass instead of widening and shifting three
    # (possibly reversed, strided) channels, which costs far more.
    rgba = cv2.cvtColor(np.ascontiguousarray(image), to_rgba)
    ids = rgba.view('<u4')[..., 0]
    ids &= 0xFFFFFF
    return ids


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
    if id_map.size == 0:
        return np.zeros((*id_map.shape, 3), dtype=np.uint8)
    # The bytes of little-endian uint32 ids are R, G, B, 0: drop the last.
    ids = np.ascontiguousarray(id_map, dtype='<u4')
    rgba = ids.view(np.uint8).reshape(*id_map.shape, 4)
    return cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)


def png_mode_error(path: str, mode: str, size: Sequence[int]) -> str | None:
    """Why a PNG of PIL mode ``mode`` and ``size`` (w, h) is not a COCO
    panoptic PNG, or None if it is one (8-bit RGB)."""
    if mode == 'RGB':
        return None
    width, height = size
    channels = {'RGBA': 4, 'LA': 2, 'CMYK': 4}.get(mode)
    shape = (f'({height}, {width})' if channels is None else
             f'({height}, {width}, {channels})')
    return (f'PNG {path} is {shape}, PIL mode {mode!r}; a COCO panoptic PNG '
            f'must be RGB with 8 bits per channel, (H, W, 3) = ({height}, '
            f'{width}, 3), id = R + 256 G + 256^2 B')


def read_panoptic_png(path: str) -> np.ndarray:
    """Read a COCO panoptic PNG into a ``(H, W)`` uint32 id map.

    Raises:
        ValueError: a PNG that is not 8-bit RGB (grey, RGBA, palette, ...)
            or cannot be decoded (truncated), naming the file.
    """
    with Image.open(path) as img:
        error = png_mode_error(path, img.mode, img.size)
        if error:
            raise ValueError(error)
        try:
            rgb = np.asarray(img)
        except OSError as err:  # PIL names no file: 'image file is truncated'
            raise ValueError(f'PNG {path} cannot be decoded: {err}') from err
    return rgb2id(rgb)


def segment_areas(id_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ids of an id map and their pixel counts, from its runs.

    Counting the runs of equal values (a few per row) instead of sorting
    every pixel is an order of magnitude faster than ``np.unique`` with
    ``return_counts`` on a map made of large regions.

    Args:
        id_map (np.ndarray): ``(H, W)`` integer segment ids.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(K,)`` the ids, ascending, and
        ``(K,)`` int64 the number of pixels of each.
    """
    flat = id_map.ravel()
    if flat.size == 0:
        return flat[:0].copy(), np.zeros(0, dtype=np.int64)
    starts = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1))
    lengths = np.diff(np.append(starts, flat.size))
    ids, run_to_id = np.unique(flat[starts], return_inverse=True)
    areas = np.bincount(run_to_id, weights=lengths, minlength=ids.size)
    return ids, areas.astype(np.int64)


def write_panoptic_png(path: str, id_map: np.ndarray,
                       compress_level: int = 6) -> None:
    """Write a ``(H, W)`` id map as a COCO panoptic PNG (zlib level
    ``compress_level``, 0-9; 6 is PIL's default)."""
    Image.fromarray(id2rgb(id_map), mode='RGB').save(
        path, compress_level=compress_level)


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
    # pycocotools decodes to a Fortran-ordered (H, W, K) array, i.e. K
    # contiguous column-major masks: work on that (K, W, H) view.
    masks = mask_util.decode([seg['segmentation']
                              for seg in segments]).transpose(2, 1, 0)
    if (masks.sum(axis=0, dtype=np.int32) > 1).any():
        raise ValueError('panoptic segments overlap: a pixel belongs to '
                         'more than one segment')
    id_map = np.zeros((width, height), dtype=np.int64)
    for seg, mask in zip(segments, masks):
        np.copyto(id_map, seg['id'], where=mask.view(bool))
    return np.ascontiguousarray(id_map.T)
