"""Segments of a predicted panoptic map and the demo overlay."""
import numpy as np
import pytest
from mmdet.evaluation import INSTANCE_OFFSET

from mmpfcn.visualization.panoptic_overlay import (
    draw_panoptic_overlay,
    thing_colors,
)
from mmpfcn.visualization.panoptic_segments import panoptic_segments

NUM_THINGS, NUM_CLASSES = 2, 4  # things 0, 1; stuff 2, 3; void 4
CLASSES = ('disc', 'square', 'sky', 'grass')
PALETTE = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 200, 10)]


def _pan():
    """6x8 map: sky on top, grass below, two discs (ids 1, 2), a 2x2 void
    corner."""
    pan = np.full((6, 8), 2, dtype=np.int64)
    pan[3:] = 3
    pan[1:3, 1:3] = 0 + 1 * INSTANCE_OFFSET
    pan[2:5, 5:7] = 0 + 2 * INSTANCE_OFFSET
    pan[4:, :2] = NUM_CLASSES
    return pan


def test_segments_ids_boxes_and_scores():
    pan = _pan()
    masks = np.zeros((3, 6, 8), dtype=bool)
    masks[0, 2:5, 5:7] = True  # the second disc, highest score
    masks[1, 1:3, 1:3] = True  # the first disc
    masks[2, 1:3, 1:3] = True  # a square over the first disc: other class
    instances = dict(masks=masks, labels=np.array([0, 0, 1]),
                     scores=np.array([0.9, 0.6, 0.95]))
    id_map, segments = panoptic_segments(pan, NUM_THINGS, NUM_CLASSES,
                                         instances)
    assert id_map.dtype == np.int32 and (id_map[4:, :2] == 0).all()
    by_label = {(s['label'], s['area']): s for s in segments}
    sky, grass = by_label[(2, 18)], by_label[(3, 16)]
    disc_a, disc_b = by_label[(0, 4)], by_label[(0, 6)]
    assert sorted(s['id'] for s in segments) == [1, 2, 3, 4]
    assert disc_a['bbox'] == [1, 1, 2, 2] and disc_b['bbox'] == [5, 2, 2, 3]
    assert sky['bbox'] == [0, 0, 8, 3] and grass['bbox'] == [0, 3, 8, 3]
    assert disc_a['score'] == pytest.approx(0.6)
    assert disc_b['score'] == pytest.approx(0.9)
    assert 'score' not in sky and not sky['isthing'] and disc_a['isthing']
    for seg in segments:
        assert (id_map == seg['id']).sum() == seg['area']


def test_overlay_colours_outlines_and_void():
    pan = _pan()
    id_map, segments = panoptic_segments(pan, NUM_THINGS, NUM_CLASSES)
    image = np.full((6, 8, 3), 100, dtype=np.uint8)
    out = draw_panoptic_overlay(image, id_map, segments, CLASSES, PALETTE,
                                alpha=1.0, draw_labels=False)
    assert out.shape == image.shape and out.dtype == np.uint8
    # void keeps the image; stuff interior has its palette colour (BGR)
    np.testing.assert_array_equal(out[5, 0], (100, 100, 100))
    np.testing.assert_array_equal(out[5, 3], (10, 200, 10))
    # the two discs (same class) get different colours
    assert not np.array_equal(out[1, 1], out[3, 6])
    # outlines: a pixel whose right neighbour is another segment is white
    np.testing.assert_array_equal(out[1, 0], (255, 255, 255))
    big_map, big_segments = panoptic_segments(
        np.kron(pan, np.ones((10, 10), np.int64)), NUM_THINGS, NUM_CLASSES)
    plain = draw_panoptic_overlay(np.zeros((60, 80, 3), np.uint8), big_map,
                                  big_segments, CLASSES, PALETTE,
                                  draw_labels=False)
    labelled = draw_panoptic_overlay(np.zeros((60, 80, 3), np.uint8),
                                     big_map, big_segments, CLASSES, PALETTE)
    # the class names are written over the picture
    assert (labelled != plain).any()
    with pytest.raises(ValueError, match='differ in size'):
        draw_panoptic_overlay(image[:3], id_map, segments, CLASSES, PALETTE)


def test_thing_colors_are_distinct():
    colors = thing_colors(50)
    assert colors.shape == (50, 3)
    assert len({tuple(c) for c in colors}) == 50
