"""Helpers shared by the dataset tests: PNG ids, log capture, resize bound."""
import contextlib
import logging
from typing import Iterator

import numpy as np
from mmengine.logging import MMLogger
from PIL import Image


def read_ids(png_path: str) -> np.ndarray:
    """Segment ids of a COCO panoptic PNG, id = R + 256 G + 256^2 B.

    Returns:
        np.ndarray: (H, W) int64.
    """
    rgb = np.array(Image.open(png_path).convert('RGB'), dtype=np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256**2 * rgb[..., 2]


def write_ids(png_path: str, ids: np.ndarray) -> None:
    """Write (H, W) segment ids as a COCO panoptic RGB PNG."""
    rgb = (ids[..., None] >> np.array([0, 8, 16])) & 255
    Image.fromarray(rgb.astype(np.uint8)).save(png_path)


class _Collect(logging.Handler):

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def logged_warnings() -> Iterator[list]:
    """Collect the warnings that mmengine's ``print_log(logger='current')``
    emits (MMLogger does not propagate to the root logger, so pytest's
    ``caplog`` cannot see them)."""
    logger = MMLogger.get_current_instance()
    handler = _Collect()
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def nearest_resize_area_bound(mask: np.ndarray, out_h: int,
                              out_w: int) -> float:
    """Largest possible |area' - sx * sy * area| after a nearest resize.

    A nearest resize maps output index i to source index floor(i / s), so a
    run of n consecutive source pixels receives s * n +- 1 output samples
    (strictly less than one off). Summing over the horizontal runs of each
    source row (each row repeated at most ceil(sy) times) and then over the
    vertical runs of each column gives
    |area' - sx sy area| < sx * V + ceil(sy) * R, with R, V the numbers of
    horizontal and vertical runs of the mask.

    Args:
        mask (np.ndarray): (H, W) bool source mask.
        out_h (int): output height.
        out_w (int): output width.

    Returns:
        float: the bound for this mask.
    """
    height, width = mask.shape
    sx, sy = out_w / width, out_h / height
    pad = np.zeros((height, 1), dtype=bool)
    runs_h = (mask & ~np.concatenate([pad, mask[:, :-1]], 1)).sum()
    pad = np.zeros((1, width), dtype=bool)
    runs_v = (mask & ~np.concatenate([pad, mask[:-1]], 0)).sum()
    return sx * runs_v + np.ceil(sy) * runs_h
