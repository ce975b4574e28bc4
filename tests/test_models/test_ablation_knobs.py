"""The paper's ablation knobs (Tables 1-10) act: each test builds the
smallest case where the knob changes what the model computes."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from mmpfcn.models.heads import ThingGenerator
from mmpfcn.models.inference_cfg import DEFAULT_TEST_CFG
from mmpfcn.models.layers import topk_positive_kernels
from mmpfcn.models.task_modules import PanopticFCNTargetGenerator
from mmpfcn.testing.panoptic_samples import LEVEL_SIZES, PAD, tiny_head


def instances(masks, labels):
    """Instances with tight boxes (x2 = max x + 1) from (N, H, W) masks."""
    boxes = []
    for mask in masks:
        ys, xs = mask.nonzero(as_tuple=True)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return InstanceData(
        labels=torch.tensor(labels),
        masks=masks.float(),
        bboxes=torch.tensor(boxes, dtype=torch.float32).view(-1, 4))


def l_shape():
    """An L: a 40-px tall bar on the left and a 40-px wide foot at the
    bottom, 8 px thick; its mass centre lies well inside the corner, far
    from its box centre."""
    mask = torch.zeros(1, *PAD, dtype=torch.bool)
    mask[0, 8:48, 8:16] = True
    mask[0, 40:48, 8:48] = True
    return mask


def test_box_centre_targets_differ_from_mass_centre_on_an_l_shape():
    inst = instances(l_shape(), [0])
    stuff = torch.ones(PAD, dtype=torch.long)
    targets = {
        center_type: PanopticFCNTargetGenerator(
            center_type=center_type).get_targets(inst, stuff, PAD,
                                                 LEVEL_SIZES)
        for center_type in ('mass', 'box')
    }
    # sqrt(40 x 40) = 40: P3 (1, 64) and P4 (32, 128)
    mass, box = targets['mass'], targets['box']
    assert mass.thing_centers[0].tolist() != box.thing_centers[0].tolist()
    # box centre (28, 28) px = (7, 7) at stride 4 -> P3 cell (3, 3)
    assert box.thing_centers[0].tolist() == [3 * 12 + 3]
    peak = mass.thing_heatmaps[0][0].flatten().argmax()
    assert peak.item() == mass.thing_centers[0].item()
    assert not torch.equal(mass.thing_heatmaps[0], box.thing_heatmaps[0])
    with pytest.raises(ValueError, match='center_type'):
        PanopticFCNTargetGenerator(center_type='centroid')


def test_gaussian_sigma_factor_widens_the_heatmap():
    mask = torch.zeros(1, *PAD, dtype=torch.bool)
    mask[0, 8:56, 16:80] = True
    inst = instances(mask, [0])
    stuff = torch.ones(PAD, dtype=torch.long)
    narrow, wide = (PanopticFCNTargetGenerator(
        gaussian_sigma_factor=factor).get_targets(inst, stuff, PAD,
                                                  LEVEL_SIZES)
                    for factor in (6, 3))
    level = 0
    assert narrow.thing_heatmaps[level].max() == 1
    assert (wide.thing_heatmaps[level] >= narrow.thing_heatmaps[level]).all()
    assert wide.thing_heatmaps[level].sum() > \
        narrow.thing_heatmaps[level].sum()


def test_things_channel_off_removes_channel_0():
    stuff = torch.full(PAD, 2)
    stuff[:, :40] = 0  # things
    stuff[:8] = 255  # void
    stuff[40:, 60:] = 1
    with_things, without = (PanopticFCNTargetGenerator(
        num_stuff_classes=2,
        stuff_with_things=flag).get_targets(instances(l_shape(), [0]), stuff,
                                            PAD, LEVEL_SIZES)
                            for flag in (True, False))
    assert with_things.stuff_masks.shape[0] == 3
    assert without.stuff_masks.shape[0] == 2
    # stuff class v is channel v - 1; the things channel is gone
    assert torch.equal(without.stuff_masks, with_things.stuff_masks[1:])
    assert 0 in with_things.stuff_labels[0].tolist()
    assert without.stuff_labels[0].tolist() == [0, 1]

    head = tiny_head(stuff_with_things=False)
    assert head.kernel_generator.position_head.out_sem.out_channels == 2
    # predicted channel c is stuff class c + 1 for the fusion head
    head.eval()
    levels = [torch.randn(1, 8, *size) for size in LEVEL_SIZES]
    with torch.no_grad():
        _, stuff_results = head.predict(levels, torch.randn(1, 8, 16, 24),
                                        [dict()])
    assert set(stuff_results[0].labels.tolist()) <= {1, 2}


def test_uniform_topk_weights_are_equal_inside_the_region():
    guidance = torch.tensor([[0.9, 0.1, 0.5, 0.2, 0.7]], requires_grad=True)
    regions = torch.tensor([[True, True, False, False, True]])
    inds, weights = topk_positive_kernels(guidance, regions, 4, uniform=True)
    assert inds[0, :3].tolist() == [0, 4, 1]
    assert torch.allclose(weights, torch.tensor([[1 / 3, 1 / 3, 1 / 3, 0]]))
    assert not weights.requires_grad
    _, scored = topk_positive_kernels(guidance, regions, 4)
    assert not torch.allclose(scored, weights)


def test_k_1_uses_one_kernel_per_object_and_center_mode_the_centre():
    inst = instances(l_shape(), [1])
    stuff = torch.ones(PAD, dtype=torch.long)
    targets = PanopticFCNTargetGenerator(num_things_classes=3).get_targets(
        inst, stuff, PAD, LEVEL_SIZES)
    logits = [torch.randn(3, *size) for size in LEVEL_SIZES]
    kernel_maps = [torch.randn(5, *size) for size in LEVEL_SIZES]
    num_targets = sum(len(i) for i in targets.thing_inds)
    assert num_targets == 2  # P3 and P4
    for pos_num, weighting in ((1, 'score'), (7, 'center'), (3, 'score'),
                               (3, 'uniform')):
        generator = ThingGenerator(5, 4, pos_num, weighting)
        kernels, masks, weights = generator.training_kernels(
            logits, kernel_maps, targets)
        k = 1 if weighting == 'center' else pos_num
        assert kernels.shape == (num_targets * k, 5)
        assert masks.shape[0] == num_targets * k
        assert torch.allclose(weights.view(num_targets, k).sum(1),
                              torch.ones(num_targets))
    # the centre mode takes the kernel at the heatmap peak of each level
    generator = ThingGenerator(5, 4, dice_weighting='center')
    kernels, _, _ = generator.training_kernels(logits, kernel_maps, targets)
    expected = torch.stack([
        kernel_maps[level].flatten(1)[:, targets.thing_centers[level][0]]
        for level in (0, 1)
    ])
    assert torch.equal(kernels, expected)
    with pytest.raises(ValueError, match='dice_weighting'):
        ThingGenerator(dice_weighting='weighted')


def test_matrix_nms_lowers_the_score_of_a_duplicate_mask():
    generator = ThingGenerator(2, 2)
    with torch.no_grad():
        generator.embed_extractor.weight.copy_(torch.eye(2)[:, :, None,
                                                            None])
        generator.embed_extractor.bias.zero_()
    # two kernels that give nearly the same mask (not fused: fusion off)
    encoded_feat = torch.zeros(2, 4, 4)
    encoded_feat[0, :2] = 5.0
    encoded_feat[0, 2:] = -5.0
    encoded_feat[1, :3] = 5.0
    encoded_feat[1, 3:] = -5.0
    kernels = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    scores = torch.tensor([0.9, 0.8])
    labels = torch.tensor([0, 0])
    cfg = ConfigDict(DEFAULT_TEST_CFG, use_fusion=False)
    plain = generator.predict_image(kernels, scores, labels, encoded_feat, cfg)
    cfg.use_matrix_nms = True
    nms = generator.predict_image(kernels, scores, labels, encoded_feat, cfg)
    assert torch.allclose(nms.scores[0], plain.scores[0])
    assert nms.scores[1] < plain.scores[1]
    assert torch.equal(nms.masks[0], plain.masks[0])
    # a different class is not a duplicate
    cfg.use_matrix_nms = True
    other = generator.predict_image(kernels, scores, torch.tensor([0, 1]),
                                    encoded_feat, cfg)
    assert torch.allclose(other.scores, plain.scores)
