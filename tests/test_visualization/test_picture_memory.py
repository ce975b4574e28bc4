"""Memory of the pictures and segments of large panoptic maps: bytes per
pixel of the traced (numpy) allocations, not timings."""
import tracemalloc

import numpy as np
from mmdet.evaluation import INSTANCE_OFFSET
from pycocotools import mask as mask_utils

from mmpfcn.visualization import PanopticFCNVisualizer
from mmpfcn.visualization import panoptic_segments as segments_module
from mmpfcn.visualization.panoptic_overlay import draw_panoptic_overlay
from mmpfcn.visualization.panoptic_segments import panoptic_segments

NUM_THINGS, NUM_CLASSES = 2, 4  # things 0, 1; stuff 2, 3; void 4
CLASSES = ('disc', 'square', 'sky', 'grass')
PALETTE = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 200, 10)]
HEIGHT, WIDTH = 1500, 2000  # 3 MP: full-size copies dwarf the chunks


def _large_pan() -> np.ndarray:
    """(HEIGHT, WIDTH) int64 map: sky, grass, 20 square things, a void
    band."""
    pan = np.full((HEIGHT, WIDTH), 2, dtype=np.int64)
    pan[HEIGHT // 2:] = 3
    for k in range(20):
        y, x = 60 * k, 90 * k
        pan[y:y + 200, x:x + 150] = k % 2 + (k + 1) * INSTANCE_OFFSET
    pan[:, :40] = NUM_CLASSES
    return pan


def _instances(pan: np.ndarray) -> dict:
    """Three RLE instance masks (as the Inferencer gives them)."""
    masks = [np.asfortranarray(
        (pan == (k % 2 + (k + 1) * INSTANCE_OFFSET)).astype(np.uint8))
        for k in range(3)]
    return dict(masks=[mask_utils.encode(m) for m in masks],
                labels=np.array([0, 1, 0]), scores=np.array([.9, .8, .7]))


def _peak_per_pixel(func, *args, **kwargs) -> float:
    """Peak traced bytes allocated by ``func`` per map pixel."""
    tracemalloc.start()
    try:
        func(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / (HEIGHT * WIDTH)


def test_segments_of_a_large_map_make_no_full_size_int64_copy():
    pan, instances = _large_pan(), _instances(_large_pan())
    # the int32 id map (4 bytes per pixel) and chunk-sized temporaries;
    # np.unique's sorted int64 copies and inverse took above 40
    assert _peak_per_pixel(panoptic_segments, pan, NUM_THINGS, NUM_CLASSES,
                           instances) < 10


def test_segments_without_the_table_are_those_of_the_table(monkeypatch):
    pan, instances = _large_pan()[::10, ::10], None
    expected = panoptic_segments(pan, NUM_THINGS, NUM_CLASSES, instances)
    # values beyond the table are sorted (np.unique) instead
    monkeypatch.setattr(segments_module, 'MAX_TABLE_VALUE', 1)
    got = panoptic_segments(pan, NUM_THINGS, NUM_CLASSES, instances)
    np.testing.assert_array_equal(got[0], expected[0])
    assert got[1] == expected[1]


def test_overlay_of_a_large_map_makes_no_full_size_float_copy():
    pan = _large_pan()
    id_map, segments = panoptic_segments(pan, NUM_THINGS, NUM_CLASSES)
    image = np.full((HEIGHT, WIDTH, 3), 100, dtype=np.uint8)
    # the picture (3 bytes per pixel) and the outlines (a few); the float
    # blend of the whole image took above 60
    assert _peak_per_pixel(draw_panoptic_overlay, image, id_map, segments,
                           CLASSES, PALETTE) < 12


def test_visualizer_picture_skips_the_matplotlib_canvas_until_drawn_over(
        tmp_path):
    vis = PanopticFCNVisualizer(name='test_vis_memory',
                                save_dir=str(tmp_path))
    image = np.random.default_rng(0).integers(
        0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    # mmengine's canvas renders the image as RGBA floats (above 100
    # bytes per pixel); nothing drawn over it, the picture is the image
    assert _peak_per_pixel(vis.set_image, image) < 4
    assert _peak_per_pixel(vis.get_image) < 1
    np.testing.assert_array_equal(vis.get_image(), image)
    # drawing over it puts it on the canvas first
    vis.draw_bboxes(np.array([[5, 5, 300, 200]]), edge_colors='r')
    drawn = vis.get_image()
    assert drawn.shape == image.shape
    assert not np.array_equal(drawn[:210, :310], image[:210, :310])
    np.testing.assert_array_equal(drawn[300:, 400:], image[300:, 400:])
