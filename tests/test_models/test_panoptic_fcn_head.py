"""PanopticFCNHead: losses against a per-instance re-derivation of the
spec formulas, the empty-target case, the single-centre option and the
kernel-level inference."""
import math

import pytest
import torch

from mmpfcn.models.layers import topk_positive_kernels
from mmpfcn.models.losses import dice_loss, soft_sigmoid_focal_loss
from mmpfcn.testing.panoptic_samples import (
    LEVEL_SIZES,
    PAD,
    rect_sample,
    tiny_head,
)


def features(batch, seed=1):
    gen = torch.Generator().manual_seed(seed)
    levels = [torch.randn(batch, 8, *size, generator=gen)
              for size in LEVEL_SIZES]
    return levels, torch.randn(batch, 8, 16, 24, generator=gen)


def two_images():
    stuff_a = torch.full(PAD, 1)
    stuff_a[:, 60:] = 2
    stuff_a[40:, :] = 255  # void
    stuff_a[8:40, 8:40] = 0
    stuff_a[4:12, 70:80] = 0
    sample_a = rect_sample([(8, 8, 40, 40), (70, 4, 80, 12)], [0, 2],
                           stuff_a)
    stuff_b = torch.full(PAD, 2)
    stuff_b[0:64, 20:90] = 0
    sample_b = rect_sample([(20, 0, 90, 64)], [1], stuff_b)
    return [sample_a, sample_b]


def expected_losses(head, outs, targets, k):
    """The spec's formulas, one instance / class at a time."""
    things, stuff, kernel_maps, encoded_feats = outs
    num_imgs = len(targets)
    num_things = sum(t.num_things for t in targets)
    pos_th = sum(
        soft_sigmoid_focal_loss(things[l][b], t.thing_heatmaps[l]).sum()
        for b, t in enumerate(targets) for l in range(5)) / max(num_things, 1)
    pos_st = sum(
        soft_sigmoid_focal_loss(stuff[l][b], t.stuff_heatmaps[l]).mean(
            dim=(1, 2)).sum() for b, t in enumerate(targets)
        for l in range(5)) / num_imgs

    def mask_logit(proj, kernel, img):
        embed = proj.weight.flatten(1) @ kernel + proj.bias  # (C_e,)
        return (embed[:, None, None] * encoded_feats[img]).sum(0).flatten()

    seg_th, seg_st, num_stuff = 0, 0, 0
    for b, t in enumerate(targets):
        for l in range(5):
            h, w = LEVEL_SIZES[l]
            for j, ind in enumerate(t.thing_inds[l].tolist()):
                guidance = things[l][b, t.thing_labels[l][j]].sigmoid()
                pos, weight = topk_positive_kernels(
                    guidance.flatten()[None],
                    t.thing_regions[l][j].flatten()[None], k)
                target = t.thing_masks[ind].flatten()[None]
                for p, wt in zip(pos[0].tolist(), weight[0]):
                    kernel = kernel_maps[l][b, :, p // w, p % w]
                    logit = mask_logit(
                        head.thing_generator.embed_extractor, kernel, b)
                    seg_th = seg_th + wt * dice_loss(logit[None], target)[0]
            for c, region in zip(t.stuff_labels[l].tolist(),
                                 t.stuff_regions[l]):
                kernel = (kernel_maps[l][b] * region).sum(dim=(1, 2)) / (
                    h * w)
                logit = mask_logit(head.stuff_generator.embed_extractor,
                                   kernel, b)
                seg_st = seg_st + dice_loss(
                    logit[None], t.stuff_masks[c].flatten()[None])[0]
                num_stuff += 1
    return dict(
        loss_pos_th=pos_th,
        loss_pos_st=pos_st,
        loss_seg_th=3 * seg_th / max(num_things, 1),
        loss_seg_st=3 * seg_st / max(num_stuff, 1))


def targets_of(head, samples):
    return [
        head.target_generator.get_targets(
            s.gt_instances, s.gt_sem_seg.sem_seg, PAD, LEVEL_SIZES,
            img_shape=s.metainfo['img_shape']) for s in samples
    ]


def test_losses_match_spec_formulas():
    head = tiny_head()
    samples = two_images()
    levels, high_res_feats = features(2)
    losses = head.loss(levels, high_res_feats, samples)
    assert set(losses) == {
        'loss_pos_th', 'loss_pos_st', 'loss_seg_th', 'loss_seg_st'
    }
    targets = targets_of(head, samples)
    # sanity of the case: things on several levels, stuff on every level
    assert sum(t.num_things for t in targets) >= 4
    expected = expected_losses(head, head(levels, high_res_feats), targets,
                               k=3)
    for name, value in expected.items():
        assert losses[name].item() == pytest.approx(value.item(), rel=1e-4)
    # the guidance weights are not detached: the dice trains the position
    # head's thing output too
    head.zero_grad()
    losses['loss_seg_th'].backward()
    grad = head.kernel_generator.position_head.out_inst.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_losses_without_targets_are_zero_and_connected():
    head = tiny_head()
    # no things and only void: no thing or stuff kernel targets at all
    sample = rect_sample([], [], torch.full(PAD, 255))
    levels, high_res_feats = features(1)
    losses = head.loss(levels, high_res_feats, [sample])
    assert losses['loss_seg_th'].item() == 0
    assert losses['loss_seg_st'].item() == 0
    # every target is 0: the focal losses are the all-negative sums
    things, stuff, _, _ = head(levels, high_res_feats)
    pos_th = sum(
        soft_sigmoid_focal_loss(x, torch.zeros_like(x)).sum() for x in things)
    assert losses['loss_pos_th'].item() == pytest.approx(pos_th.item(),
                                                         rel=1e-5)
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    for name, param in head.named_parameters():
        assert param.grad is not None, name
    assert head.thing_generator.embed_extractor.weight.grad.abs().sum() == 0


def test_single_centre_dice_picks_the_centre_kernel():
    head = tiny_head(
        thing_generator=dict(type='ThingGenerator', dice_weighting='center'))
    assert head.thing_generator.pos_num == 1
    # one 32 x 32 square: sqrt(area) 32 -> P3 (1, 64) and P4 (32, 128);
    # stride-4 mass centre (7.5, 11.5)
    stuff = torch.full(PAD, 1)
    stuff[16:48, 32:64] = 0
    sample = rect_sample([(32, 16, 64, 48)], [1], stuff)
    levels, high_res_feats = features(1)
    things, _, kernel_maps, _ = head(levels, high_res_feats)
    target = targets_of(head, [sample])[0]
    kernels, masks, weights = head.thing_generator.training_kernels(
        [x[0] for x in things], [x[0] for x in kernel_maps], target)
    # P3: (7.5, 11.5) / 2 -> (3, 5); P4: / 4 -> (1, 2)
    expected = torch.stack(
        (kernel_maps[0][0, :, 3, 5], kernel_maps[1][0, :, 1, 2]))
    assert torch.equal(kernels, expected)
    assert torch.equal(weights, torch.ones(2))
    assert torch.equal(masks, target.thing_masks[[0, 0]])
    losses = head.loss(levels, high_res_feats, [sample])
    assert torch.isfinite(losses['loss_seg_th'])


def test_predict_things_maskness_fusion_and_threshold():
    head = tiny_head(kernel_channels=4)
    embed = head.thing_generator.embed_extractor
    with torch.no_grad():
        embed.weight.copy_(torch.eye(4)[:, :, None, None])
        embed.bias.zero_()
    ln3 = math.log(3.0)
    encoded_feat = torch.zeros(4, 2, 2)
    # channel 0: probabilities [[.75, .75], [.25, .5]] -> > 0.4 at three
    # pixels, maskness (.75 + .75 + .5) / 3 = 2 / 3
    encoded_feat[0] = torch.tensor([[ln3, ln3], [-ln3, 0.0]])
    kernels = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [1.0, 0, 0, 0],
                            [0, 0, 1.0, 0]])
    scores = torch.tensor([0.6, 0.3, 0.5, 0.06])
    labels = torch.tensor([0, 1, 0, 2])
    result = head.thing_generator.predict_image(kernels, scores, labels,
                                              encoded_feat, head.test_cfg)
    # kernel 2 is fused into kernel 0 (same class, cosine 1); kernels 1 and
    # 3 see all-zero features: probability .5 everywhere, maskness .5
    assert torch.allclose(result.scores, torch.tensor([0.4, 0.15]))
    assert result.labels.tolist() == [0, 1]
    assert torch.allclose(result.masks[0],
                          torch.tensor([[0.75, 0.75], [0.25, 0.5]]))

    head.test_cfg.use_fusion = False
    result = head.thing_generator.predict_image(kernels, scores, labels,
                                              encoded_feat, head.test_cfg)
    assert torch.allclose(result.scores,
                          torch.tensor([0.4, 0.5 * 2 / 3, 0.15]))
    head.test_cfg.max_per_img = 1
    assert len(
        head.thing_generator.predict_image(kernels, scores, labels,
                                           encoded_feat, head.test_cfg)) == 1


def test_predict_stuff_averages_kernels_and_scores_per_class():
    head = tiny_head(kernel_channels=4)
    embed = head.stuff_generator.embed_extractor
    with torch.no_grad():
        embed.weight.copy_(torch.eye(4)[:, :, None, None])
        embed.bias.zero_()
    encoded_feat = torch.ones(4, 1, 2)
    kernels = torch.tensor([[2.0, 0, 0, 0], [0, 0, 1.0, 0], [0, 4.0, 0, 0]])
    scores = torch.tensor([0.2, 0.5, 0.4])
    labels = torch.tensor([2, 1, 2])
    result = head.stuff_generator.predict_image(kernels, scores, labels,
                                              encoded_feat)
    assert result.labels.tolist() == [1, 2]
    assert torch.allclose(result.scores, torch.tensor([0.5, 0.3]))
    # class 2: mean kernel [1, 2, 0, 0] . ones = 3
    expected = torch.tensor([1.0, 3.0]).sigmoid()[:, None, None].expand(
        2, 1, 2)
    assert torch.allclose(result.masks, expected)


def test_predict_batch_equals_single_images():
    head = tiny_head()
    head.eval()
    levels, high_res_feats = features(3)
    metas = [dict(img_shape=PAD)] * 3
    with torch.no_grad():
        things, stuff = head.predict(levels, high_res_feats, metas)
        assert len(things) == len(stuff) == 3
        for b in range(3):
            single = head.predict([x[b:b + 1] for x in levels],
                                  high_res_feats[b:b + 1], metas[:1])
            assert torch.allclose(single[0][0].scores, things[b].scores)
            assert torch.equal(single[0][0].labels, things[b].labels)
            assert torch.allclose(single[1][0].masks, stuff[b].masks,
                                  atol=1e-6)
    result = things[0]
    assert result.masks.shape[1:] == (16, 24)
    assert 0 < len(result) <= 100
    assert torch.all(result.scores[:-1] >= result.scores[1:])
    assert torch.all(result.scores >= 0.05)
    assert stuff[0].labels.max() < 3


def test_head_rejects_bad_inputs():
    head = tiny_head()
    levels, high_res_feats = features(1)
    with pytest.raises(ValueError, match='expects 5 levels'):
        head(levels[:4], high_res_feats)
    with pytest.raises(ValueError, match='pool_sizes'):
        tiny_head(test_cfg=dict(pool_sizes=(3, 3)))
    sample = rect_sample([], [], torch.full(PAD, 255))
    del sample.gt_sem_seg
    with pytest.raises(KeyError, match='gt_sem_seg'):
        head.loss(levels, high_res_feats, [sample])
