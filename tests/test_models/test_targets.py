import math

import numpy as np
import pytest
import torch
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData

from mmpfcn.models.task_modules import (
    ImageTargets,
    PanopticFCNTargetGenerator,
    assign_levels,
    draw_gaussian_heatmap,
    gaussian_radius,
    mass_centers,
)
from mmpfcn.registry import TASK_UTILS


def reference_radius(h: float, w: float, o: float = 0.7) -> int:
    """The CornerNet radius with each root divided by 2, by hand."""
    r1 = ((h + w) + math.sqrt((h + w)**2 - 4 * w * h * (1 - o) /
                              (1 + o))) / 2
    r2 = (2 * (h + w) + math.sqrt(4 * (h + w)**2 - 16 *
                                  (1 - o) * w * h)) / 2
    r3 = (-2 * o * (h + w) + math.sqrt(4 * o * o * (h + w)**2 - 16 * o *
                                       (o - 1) * w * h)) / 2
    return int(max(0.0, min(r1, r2, r3)))


def test_gaussian_radius_matches_formula():
    sizes = [(1.0, 1.0), (10.0, 10.0), (5.0, 20.0), (100.0, 40.0),
             (3.2, 3.2), (0.0, 0.0)]
    radii = gaussian_radius(
        torch.tensor([s[0] for s in sizes]),
        torch.tensor([s[1] for s in sizes]))
    assert radii.dtype == torch.long
    assert radii.tolist() == [reference_radius(h, w) for h, w in sizes]
    # a 10x10 box: r3 = (-14 + sqrt(196 + 84) ... ) -> (-28 + 33.47) / 2
    assert radii.tolist() == [0, 2, 2, 15, 0, 0]


def test_draw_gaussian_single_and_clipped():
    heat = draw_gaussian_heatmap(
        2, (5, 5), torch.tensor([[2, 2], [0, 0]]), torch.tensor([1, 1]),
        torch.tensor([1, 0]))
    assert heat.shape == (2, 5, 5)
    # r = 1 -> sigma = 1: centre 1, edge exp(-1/2), corner exp(-1)
    e1, e2 = math.exp(-0.5), math.exp(-1.0)
    window = torch.tensor([[e2, e1, e2], [e1, 1.0, e1], [e2, e1, e2]])
    assert torch.allclose(heat[1, 1:4, 1:4], window)
    assert heat[1].count_nonzero() == 9
    # centre on the corner: only the in-map 2x2 quarter of the window
    assert torch.allclose(heat[0, :2, :2], window[1:, 1:])
    assert heat[0].count_nonzero() == 4


def test_draw_gaussian_merges_by_max_and_radius_zero():
    heat = draw_gaussian_heatmap(
        1, (3, 4), torch.tensor([[1, 1], [1, 2]]), torch.tensor([1, 0]),
        torch.tensor([0, 0]))
    # radius 0 draws a single 1 at (1, 2), overriding exp(-1/2)
    assert heat[0, 1].tolist() == pytest.approx(
        [math.exp(-0.5), 1.0, 1.0, 0.0])
    assert draw_gaussian_heatmap(
        3, (2, 2), torch.zeros(0, 2, dtype=torch.long),
        torch.zeros(0, dtype=torch.long),
        torch.zeros(0, dtype=torch.long)).count_nonzero() == 0


def test_mass_centers():
    masks = torch.zeros(3, 4, 5)
    masks[0, 1, 1] = masks[0, 1, 3] = masks[0, 3, 2] = 1
    masks[1, 0, 4] = 0.2  # soft values count like 1
    centers = mass_centers(masks)
    assert torch.allclose(centers[0], torch.tensor([5 / 3, 2.0]))
    assert centers[1].tolist() == [0.0, 4.0]
    assert torch.isnan(centers[2]).all()


def test_assign_levels_closed_overlapping_ranges():
    ranges = ((1, 64), (32, 128), (64, 256), (128, 512), (256, 2048))
    scales = torch.tensor([0.5, 1.0, 32.0, 63.9, 64.0, 2048.0, 2049.0])
    assigned = assign_levels(scales, ranges)
    assert assigned.shape == (5, 7)
    expected = [
        [0, 1, 1, 1, 1, 0, 0],  # P3 (1, 64)
        [0, 0, 1, 1, 1, 0, 0],  # P4 (32, 128)
        [0, 0, 0, 0, 1, 0, 0],  # P5 (64, 256): 64 lands in P3, P4 and P5
        [0, 0, 0, 0, 0, 0, 0],  # P6 (128, 512)
        [0, 0, 0, 0, 0, 1, 0],  # P7 (256, 2048)
    ]
    assert assigned.int().tolist() == expected


def make_instances(masks: np.ndarray, boxes, labels) -> InstanceData:
    instances = InstanceData()
    instances.labels = torch.tensor(labels, dtype=torch.long)
    instances.bboxes = torch.tensor(boxes, dtype=torch.float32).view(-1, 4)
    instances.masks = BitmapMasks(masks, *masks.shape[1:])
    return instances


def no_instances(height: int, width: int) -> InstanceData:
    return make_instances(
        np.zeros((0, height, width), np.uint8), [], [])


def test_generator_object_in_two_levels():
    masks = np.zeros((1, 128, 128), np.uint8)
    masks[0, 20:60, 20:60] = 1
    stuff = torch.full((128, 128), 5)
    stuff[20:60, 20:60] = 0
    generator = TASK_UTILS.build(dict(type='PanopticFCNTargetGenerator'))
    targets = generator.get_targets(
        make_instances(masks, [20, 20, 60, 60], [7]), stuff, (128, 128))
    assert isinstance(targets, ImageTargets)
    # scale sqrt(40 * 40) = 40 lies in P3 (1, 64) and P4 (32, 128) only
    assert [t.tolist() for t in targets.thing_inds] == [[0], [0], [], [], []]
    assert [t.tolist() for t in targets.thing_labels] == [[7], [7], [], [],
                                                          []]
    assert targets.num_things == 2
    # stride-4 samples rows 4i+1, 4i+2: rows 5..14 are inside, all 1
    assert targets.thing_masks.shape == (1, 32, 32)
    expected_mask = torch.zeros(32, 32)
    expected_mask[5:15, 5:15] = 1
    assert torch.equal(targets.thing_masks[0], expected_mask)
    # mass centre (9.5, 9.5) -> P3 (x 0.5) 4.75 -> 4; box 5x5 -> radius 1
    heat = targets.thing_heatmaps[0]
    assert heat.shape == (80, 16, 16)
    assert heat[7, 4, 4] == 1 and heat[7, 3, 3] == pytest.approx(
        math.exp(-1))
    assert heat[7].count_nonzero() == 9 and heat.count_nonzero() == 9
    # P4: 9.5 / 4 -> 2; box 2.5x2.5 -> radius 0
    assert targets.thing_heatmaps[1][7].nonzero().tolist() == [[2, 2]]
    assert targets.thing_heatmaps[2].count_nonzero() == 0
    # flat peak positions: 4 * 16 + 4 on P3, 2 * 8 + 2 on P4
    assert [c.tolist() for c in targets.thing_centers] == [[68], [18], [],
                                                           [], []]
    # P3 region: rows/cols 2 and 7 are half covered (0.5 > 0.1)
    region = torch.zeros(16, 16, dtype=torch.bool)
    region[2:8, 2:8] = True
    assert torch.equal(targets.thing_regions[0][0], region)
    assert [r.shape for r in targets.thing_regions[:2]] == [(1, 16, 16),
                                                           (1, 8, 8)]
    # stuff: channel 0 (the thing) and channel 5 on P3
    assert targets.stuff_labels[0].tolist() == [0, 5]


def test_generator_caps_kernel_targets_per_level():
    masks = np.zeros((150, 256, 256), np.uint8)
    boxes = []
    for i in range(150):
        y, x = 16 * (i // 15), 16 * (i % 15)
        masks[i, y:y + 4, x:x + 4] = 1
        boxes.append([x, y, x + 4, y + 4])
    stuff = torch.zeros(256, 256, dtype=torch.long)
    generator = PanopticFCNTargetGenerator()
    targets = generator.get_targets(
        make_instances(masks, boxes, [3] * 150), stuff, (256, 256))
    assert targets.thing_inds[0].tolist() == list(range(100))
    # instance i sits at (2 * (i // 15), 2 * (i % 15)) on the 32x32 P3
    assert targets.thing_centers[0].tolist() == [
        64 * (i // 15) + 2 * (i % 15) for i in range(100)]
    assert targets.num_things == 100
    assert targets.thing_regions[0].shape == (100, 32, 32)
    # every instance still marks its own peak on the heatmap
    assert (targets.thing_heatmaps[0][3] == 1).sum() == 150
    assert targets.thing_masks.shape == (150, 64, 64)


def test_generator_crowd_only_image_has_no_thing_targets():
    # crowd instances are not passed; their pixels are 0 in the stuff map
    stuff = torch.full((64, 64), 2)
    stuff[:32] = 0
    targets = PanopticFCNTargetGenerator().get_targets(
        no_instances(64, 64), stuff, (64, 64))
    assert targets.num_things == 0
    assert targets.thing_masks.shape == (0, 16, 16)
    assert all(h.count_nonzero() == 0 for h in targets.thing_heatmaps)
    assert all(i.numel() == 0 for i in targets.thing_inds)
    assert all(r.shape == (0, *h.shape[1:])
               for r, h in zip(targets.thing_regions, targets.thing_heatmaps))
    assert targets.stuff_labels[0].tolist() == [0, 2]
    assert targets.stuff_regions[0][0, :4].all()
    assert not targets.stuff_regions[0][0, 4:].any()


def test_generator_stuff_soft_targets_by_hand():
    # class 1 on rows 0..9, class 2 on rows 10..31 of a 32x32 input
    stuff = torch.full((32, 32), 2)
    stuff[:10] = 1
    targets = PanopticFCNTargetGenerator(num_stuff_classes=2).get_targets(
        no_instances(32, 32), stuff, (32, 32))
    # stride 4 (rows 4i+1, 4i+2): class 1 = [1, 1, 0.5, 0, ...]
    assert targets.stuff_masks.shape == (3, 8, 8)
    assert targets.stuff_masks[1, :, 0].tolist() == [1, 1, .5, 0, 0, 0, 0, 0]
    assert targets.stuff_masks[2, :, 0].tolist() == [0, 0, .5, 1, 1, 1, 1, 1]
    # P3 averages row pairs: class 1 [1, 0.25 -> 0, 0, 0], class 2
    # [0, 0.75, 1, 1]; the level sizes default to ceil(32 / stride)
    heat = targets.stuff_heatmaps[0]
    assert heat.shape == (3, 4, 4)
    assert heat[1, :, 0].tolist() == [1, 0, 0, 0]
    assert heat[2, :, 0].tolist() == [0, 0.75, 1, 1]
    assert targets.stuff_labels[0].tolist() == [1, 2]
    # regions follow stuff_labels: class 1 on row 0, class 2 on rows 1..3
    assert targets.stuff_regions[0][0].tolist() == [[True] * 4] + [
        [False] * 4] * 3
    assert targets.stuff_regions[0][1].tolist() == [[False] * 4] + [
        [True] * 4] * 3
    # P4 samples stride-4 rows 1, 2 and 5, 6: class 1 [0.75, 0]
    assert targets.stuff_heatmaps[1][1, :, 0].tolist() == [0.75, 0]
    assert [h.shape[1:] for h in targets.stuff_heatmaps] == [
        (4, 4), (2, 2), (1, 1), (1, 1), (1, 1)]


def test_generator_void_pixels_are_all_zero_stuff_targets():
    stuff = torch.full((32, 32), 255)
    stuff[:, :16] = 3
    targets = PanopticFCNTargetGenerator().get_targets(
        no_instances(32, 32), stuff, (32, 32), level_sizes=[(4, 4)] * 5)
    expected = torch.zeros(8, 8)
    expected[:, :4] = 1
    assert torch.equal(targets.stuff_masks[3], expected)
    assert targets.stuff_masks.sum(0)[:, 4:].count_nonzero() == 0
    assert targets.stuff_heatmaps[0].sum(0)[:, 2:].count_nonzero() == 0
    assert targets.stuff_labels[0].tolist() == [3]
    everything_void = PanopticFCNTargetGenerator().get_targets(
        no_instances(32, 32), torch.full((1, 32, 32), 255), (32, 32))
    assert everything_void.stuff_masks.count_nonzero() == 0
    assert all(lab.numel() == 0 for lab in everything_void.stuff_labels)


def test_generator_bad_input_raises():
    generator = PanopticFCNTargetGenerator()
    with pytest.raises(ValueError, match='holds values \\[60\\]'):
        generator.get_targets(no_instances(32, 32), torch.full((32, 32), 60),
                              (32, 32))
    with pytest.raises(ValueError, match='pad shape'):
        generator.get_targets(no_instances(32, 32), torch.zeros(32, 16),
                              (32, 32))
    masks = np.ones((1, 32, 32), np.uint8)
    with pytest.raises(ValueError, match='labels must be thing classes'):
        generator.get_targets(make_instances(masks, [0, 0, 4, 4], [80]),
                              torch.zeros(32, 32), (32, 32))
    with pytest.raises(ValueError, match='padded to the batch input'):
        generator.get_targets(make_instances(masks, [0, 0, 4, 4], [1]),
                              torch.zeros(64, 64), (64, 64))


def test_generator_vanished_mask_falls_back_to_box_centre():
    # a 1-px high row 0 is never sampled at stride 4 (rows 4i+1, 4i+2)
    masks = np.zeros((1, 64, 64), np.uint8)
    masks[0, 0, 40:48] = 1
    targets = PanopticFCNTargetGenerator().get_targets(
        make_instances(masks, [40, 0, 48, 1], [4]), torch.zeros(64, 64),
        (64, 64))
    assert targets.thing_masks.count_nonzero() == 0
    # box centre (0.5, 44) / 4 -> P3 (x 0.5): (0.0625, 5.5) -> (0, 5)
    assert targets.thing_heatmaps[0][4].nonzero().tolist() == [[0, 5]]
    assert targets.thing_inds[0].tolist() == [0]
    assert not torch.isnan(targets.thing_heatmaps[0]).any()
