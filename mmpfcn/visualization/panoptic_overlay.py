"""The panoptic drawing of :class:`~mmpfcn.visualization.PanopticFCNVisualizer`
(and of ``browse_dataset.py``): things in distinct colours labelled with
class name and score, stuff in its palette colour, segment outlines."""
import colorsys
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from .panoptic_segments import row_chunks

GOLDEN_RATIO = 0.618033988749895
# pixels blended at once (their float temporaries take ~80 bytes each)
BLEND_CHUNK = 1 << 18


def thing_colors(num: int) -> np.ndarray:
    """``num`` well separated BGR colours (golden-ratio hue steps).

    Returns:
        np.ndarray: (num, 3) uint8.
    """
    colors = [
        colorsys.hsv_to_rgb((0.1 + i * GOLDEN_RATIO) % 1.0,
                            0.65 + 0.3 * (i % 2), 0.95)
        for i in range(num)
    ]
    rgb = np.array(colors, dtype=np.float64).reshape(num, 3) * 255
    return rgb[:, ::-1].round().astype(np.uint8)


def _label_position(id_map: np.ndarray, seg_id: int,
                    bbox: Sequence[int]) -> Tuple[int, int]:
    """The pixel of a segment farthest from its border, (x, y)."""
    x, y, w, h = bbox
    crop = np.pad((id_map[y:y + h, x:x + w] == seg_id).astype(np.uint8), 1)
    dist = cv2.distanceTransform(crop, cv2.DIST_L2, 3)
    row, col = np.unravel_index(dist.argmax(), dist.shape)
    return x + col - 1, y + row - 1


def _put_label(canvas: np.ndarray, text: str, center: Tuple[int, int],
               scale: float) -> None:
    """Write white text on a dark box centred at ``center`` (in place)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(1, int(round(scale * 2)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    height, width = canvas.shape[:2]
    x = int(np.clip(center[0] - tw // 2, 0, max(width - tw, 0)))
    y = int(np.clip(center[1] + th // 2, th, height - base))
    cv2.rectangle(canvas, (x - 1, y - th - 1), (x + tw + 1, y + base),
                  (0, 0, 0), thickness=-1)
    cv2.putText(canvas, text, (x, y), font, scale, (255, 255, 255),
                thickness, cv2.LINE_AA)


def draw_panoptic_overlay(image: np.ndarray,
                          id_map: np.ndarray,
                          segments: List[dict],
                          classes: Sequence[str],
                          palette: Sequence[Sequence[int]],
                          alpha: float = 0.55,
                          draw_labels: bool = True) -> np.ndarray:
    """Blend a panoptic segmentation over its image.

    Args:
        image (np.ndarray): (H, W, 3) BGR uint8 image.
        id_map (np.ndarray): (H, W) segment ids, 0 = void, the others
            those of ``segments`` (not necessarily 1..K; see
            :func:`~mmpfcn.visualization.panoptic_segments`).
        segments (list[dict]): ``id``, ``label``, ``isthing``, ``bbox``;
            optionally ``score`` (written after the name), ``name`` (text
            instead of the class name; empty: no text) and ``color``
            (BGR, instead of the thing / palette colour).
        classes (Sequence[str]): Class names by label.
        palette (Sequence): RGB colour of every class (used for stuff).
        alpha (float): Opacity of the colours. Defaults to 0.55.
        draw_labels (bool): Write class names (and scores). Defaults to
            True.

    Returns:
        np.ndarray: The (H, W, 3) BGR uint8 picture; void pixels keep the
        image.
    """
    if image.shape[:2] != id_map.shape:
        raise ValueError(f'image {image.shape[:2]} and panoptic map '
                         f'{id_map.shape} differ in size')
    num_things = sum(seg['isthing'] for seg in segments)
    top = max((seg['id'] for seg in segments), default=0)
    colors = np.zeros((max(top, int(id_map.max(initial=0))) + 1, 3),
                      dtype=np.uint8)
    distinct = iter(thing_colors(num_things))
    for seg in segments:
        if 'color' in seg:
            colors[seg['id']] = seg['color']
        elif seg['isthing']:
            colors[seg['id']] = next(distinct)
        else:
            colors[seg['id']] = np.asarray(palette[seg['label']])[::-1]
    # blended by chunks of rows (the same arithmetic per pixel): no
    # full-size float copies of the image
    canvas = np.empty_like(image)
    for rows in row_chunks(*id_map.shape, pixels=BLEND_CHUNK):
        ids, part = id_map[rows], image[rows]
        painted = colors[ids].astype(np.float32)
        labelled = (ids > 0)[..., None]
        canvas[rows] = np.where(labelled,
                                part * (1 - alpha) + painted * alpha,
                                part).astype(np.uint8)

    # outlines: pixels whose right or lower neighbour is another segment
    edges = np.zeros(id_map.shape, dtype=np.uint8)
    edges[:, :-1] |= id_map[:, :-1] != id_map[:, 1:]
    edges[:-1, :] |= id_map[:-1, :] != id_map[1:, :]
    if min(id_map.shape) >= 400:
        edges = cv2.dilate(edges, np.ones((2, 2), np.uint8))
    canvas[edges.astype(bool)] = (255, 255, 255)

    if draw_labels:
        scale = float(np.clip(min(id_map.shape) / 900, 0.3, 1.0))
        for seg in segments:
            text = seg.get('name', classes[seg['label']])
            if not text:
                continue
            if 'score' in seg:
                text += f' {seg["score"]:.2f}'
            center = _label_position(id_map, seg['id'], seg['bbox'])
            _put_label(canvas, text, center, scale)
    return canvas
