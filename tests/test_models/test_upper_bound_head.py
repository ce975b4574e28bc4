"""PanopticFCNUpperBoundHead (paper Table 10): the thing kernels at the
ground-truth centres and the stuff kernels over the ground-truth stuff
regions, at each level exactly where the training targets place them; the
GT classes with score 1 ('gt_position_class') or the predicted ones
('gt_position'); the ordinary head never reads the ground truth."""
import inspect
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import PixelData

from mmpfcn.models.heads import PanopticFCNHead, PanopticFCNUpperBoundHead
from mmpfcn.models.layers import stuff_kernel_pooling
from mmpfcn.models.task_modules.gt_positions import gt_stuff_regions
from mmpfcn.testing.panoptic_samples import (
    LEVEL_SIZES,
    PAD,
    rect_sample,
    tiny_head,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODES = ('gt_position', 'gt_position_class')


def upper_bound_head(mode):
    return tiny_head(PanopticFCNUpperBoundHead, upper_bound=mode,
                     test_cfg=dict(use_fusion=False, score_thr=0.0,
                                   mask_thr=-1.0)).eval()


def stuff_map():
    """Stuff 1 on the left, 2 on the right, a void strip at the bottom;
    the things of :func:`gt_sample` are 0."""
    stuff = torch.full(PAD, 1)
    stuff[:, 48:] = 2
    stuff[56:] = 255
    stuff[4:28, 4:20] = 0
    stuff[8:24, 60:84] = 0
    return stuff


def gt_sample():
    """Two things (a 16 x 24 box of class 2, a 24 x 16 box of class 0) on
    :func:`stuff_map`, at the input size."""
    return rect_sample([(4, 4, 20, 28), (60, 8, 84, 24)], [2, 0],
                       stuff_map())


def inputs(seed=0):
    gen = torch.Generator().manual_seed(seed)
    levels = [torch.randn(1, 8, *size, generator=gen)
              for size in LEVEL_SIZES]
    return levels, torch.randn(1, 8, 16, 24, generator=gen)


def training_targets(head, sample):
    """The targets exactly as the training (``PanopticFCNHead.loss``)
    builds them for this sample."""
    return head.target_generator.get_targets(
        sample.gt_instances, sample.gt_sem_seg.sem_seg, PAD, LEVEL_SIZES,
        img_shape=PAD)


def spy(generator):
    """Record the (kernels, scores, labels) ``predict_image`` receives."""
    seen = []
    original = generator.predict_image

    def recording(kernels, scores, labels, *args):
        seen.append((kernels, scores, labels))
        return original(kernels, scores, labels, *args)

    generator.predict_image = recording
    return seen


def pooled_gt_kernels(kernel_maps, targets):
    """One kernel per GT stuff region of every level, pooled as in
    training, (sum_l m_l, C)."""
    return torch.cat([
        stuff_kernel_pooling(targets.stuff_regions[level],
                             kernel_maps[level][0])
        for level in range(len(kernel_maps))
    ])


@pytest.mark.parametrize('mode', MODES)
def test_thing_kernels_at_the_gt_centres(mode):
    head = upper_bound_head(mode)
    sample = gt_sample()
    levels, high_res_feats = inputs()
    targets = training_targets(head, sample)
    seen = spy(head.thing_generator)
    with torch.no_grad():
        things, _ = head.predict(levels, high_res_feats, [sample.metainfo],
                                 [sample])
        _, _, kernel_maps, _ = head(levels, high_res_feats)
    kernels, scores, labels = seen[0]
    expected = torch.cat([
        kernel_maps[level][0].flatten(1)[:, targets.thing_centers[level]].t()
        for level in range(5)
    ])
    assert kernels.shape[0] == targets.num_things > 0
    assert torch.equal(kernels, expected)
    gt_labels = torch.cat(targets.thing_labels)
    if mode == 'gt_position_class':
        assert torch.equal(labels, gt_labels)
        assert torch.equal(scores, torch.ones(len(gt_labels)))
        assert sorted(things[0].labels.tolist()) == sorted(gt_labels.tolist())
    else:
        assert (scores > 0).all() and (scores < 1).all()


def test_gt_position_class_stuff_is_the_gt_stuff():
    head = upper_bound_head('gt_position_class')
    sample = gt_sample()
    levels, high_res_feats = inputs()
    targets = training_targets(head, sample)
    seen = spy(head.stuff_generator)
    with torch.no_grad():
        _, stuff = head.predict(levels, high_res_feats, [sample.metainfo],
                                [sample])
        _, _, kernel_maps, _ = head(levels, high_res_feats)
    # the image's GT stuff channels: 0 (all things), 1 and 2; void is none
    gt_channels = sorted(set(stuff_map().unique().tolist()) - {255})
    assert gt_channels == [0, 1, 2]
    assert stuff[0].labels.tolist() == gt_channels
    assert torch.equal(stuff[0].scores, torch.ones(3))
    # the masks come from the kernels pooled over the GT regions of every
    # level, labelled with the GT channels, score 1
    kernels, scores, labels = seen[0]
    assert torch.equal(kernels, pooled_gt_kernels(kernel_maps, targets))
    assert torch.equal(labels, torch.cat(targets.stuff_labels))
    assert torch.equal(scores, torch.ones(len(labels)))


def test_gt_position_stuff_regions_are_the_gt_regions():
    head = upper_bound_head('gt_position')
    sample = gt_sample()
    levels, high_res_feats = inputs()
    targets = training_targets(head, sample)
    regions_seen = []
    original = head.stuff_generator.predict_from_regions

    def recording(regions, *args):
        regions_seen.append(regions)
        return original(regions, *args)

    head.stuff_generator.predict_from_regions = recording
    seen = spy(head.stuff_generator)
    with torch.no_grad():
        head.predict(levels, high_res_feats, [sample.metainfo], [sample])
        _, stuff_logits, kernel_maps, _ = head(levels, high_res_feats)
    for level, level_regions in enumerate(regions_seen[0]):
        scores, labels, regions = level_regions[0]
        assert torch.equal(regions, targets.stuff_regions[level])
        # class and score: the best mean probability over the region
        prob = stuff_logits[level][0].sigmoid()
        for region, score, label in zip(regions, scores, labels):
            means = prob[:, region].mean(dim=1)
            assert label == means.argmax()
            assert score == pytest.approx(means.max().item(), rel=1e-6)
    kernels, _, _ = seen[0]
    assert torch.equal(kernels, pooled_gt_kernels(kernel_maps, targets))


def test_gt_stuff_regions_scores_by_the_mean_probability():
    # channel 1 is likely on the left column, channel 0 on the right one
    logits = torch.tensor([[[-2.0, 2.0], [-2.0, 2.0]],
                           [[1.0, -3.0], [3.0, -3.0]]])
    regions = torch.tensor([[[True, False], [True, False]],
                            [[False, True], [False, True]]])
    labels = torch.tensor([0, 1])  # the GT says otherwise
    scores, pred, out = gt_stuff_regions(logits, regions, labels,
                                         'gt_position')
    assert pred.tolist() == [1, 0]
    assert scores[0] == pytest.approx(
        (torch.sigmoid(torch.tensor(1.0)) +
         torch.sigmoid(torch.tensor(3.0))).item() / 2)
    assert scores[1] == pytest.approx(torch.sigmoid(torch.tensor(2.0)).item())
    assert out is regions
    scores, pred, _ = gt_stuff_regions(logits, regions, labels,
                                       'gt_position_class')
    assert pred.tolist() == [0, 1] and scores.tolist() == [1.0, 1.0]
    empty = gt_stuff_regions(logits, regions[:0], labels[:0], 'gt_position')
    assert [len(x) for x in empty] == [0, 0, 0]


def test_gt_loaded_at_the_original_size_is_rescaled():
    head = upper_bound_head('gt_position_class')
    resized = gt_sample()
    original = gt_sample()
    original.gt_instances.masks = original.gt_instances.masks.resize(
        (128, 192))
    original.gt_instances.bboxes = original.gt_instances.bboxes * 2
    original.gt_sem_seg = PixelData(
        sem_seg=stuff_map().repeat_interleave(2, 0).repeat_interleave(
            2, 1)[None])
    levels, high_res_feats = inputs()
    with torch.no_grad():
        a = head.predict(levels, high_res_feats, [resized.metainfo], [resized])
        b = head.predict(levels, high_res_feats, [original.metainfo],
                         [original])
    for x, y in zip(a, b):
        assert torch.equal(x[0].labels, y[0].labels)
        assert torch.equal(x[0].masks, y[0].masks)


def test_refuses_data_without_ground_truth():
    head = upper_bound_head('gt_position')
    levels, high_res_feats = inputs()
    sample = DetDataSample(
        metainfo=dict(batch_input_shape=PAD, img_shape=PAD,
                      img_path='test2017/1.jpg'))
    with pytest.raises(ValueError, match='test2017/1.jpg has no ground'):
        head.predict(levels, high_res_feats, [sample.metainfo], [sample])
    # things without the stuff map are not enough either
    sample = gt_sample()
    del sample.gt_sem_seg
    with pytest.raises(ValueError, match='stuff map'):
        head.predict(levels, high_res_feats, [sample.metainfo], [sample])
    with pytest.raises(ValueError, match='upper_bound must be one of'):
        upper_bound_head('gt_everything')


def test_the_ordinary_head_does_not_read_the_ground_truth():
    assert 'batch_data_samples' not in inspect.signature(
        PanopticFCNHead.predict).parameters
    assert PanopticFCNHead.predicts_with_ground_truth is False
    assert PanopticFCNUpperBoundHead.predicts_with_ground_truth is True
    head = tiny_head().eval()
    levels, high_res_feats = inputs()
    with torch.no_grad():
        things, stuff = head.predict(levels, high_res_feats, [dict()])
    assert len(things) == len(stuff) == 1


def test_old_test_cfg_key_is_refused_with_the_new_place():
    from mmengine.config import Config

    from mmpfcn.registry import MODELS
    from mmpfcn.utils.setup_env import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/panoptic_fcn',
                 'panoptic-fcn_r50_fpn_1x_coco-panoptic.py'))
    cfg.model.backbone.init_cfg = None
    cfg.model.test_cfg.upper_bound = 'gt_position'
    with pytest.raises(ValueError, match='PanopticFCNUpperBoundHead'):
        MODELS.build(cfg.model)


def test_table10_model_refuses_the_paths_without_ground_truth():
    from mmengine.config import Config

    from mmpfcn.models.test_time_augs import PanopticFCNTTAModel
    from mmpfcn.registry import MODELS
    from mmpfcn.utils.setup_env import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/panoptic_fcn/ablations',
                 'tab10_upper-bound-gt-position_r50_fpn_3x_coco-panoptic.py'))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert isinstance(model.panoptic_head, PanopticFCNUpperBoundHead)
    with pytest.raises(ValueError, match='needs the ground truth'):
        model.predict_by_feat((None, ), [DetDataSample()])
    with pytest.raises(ValueError, match='not supported with test-time'):
        PanopticFCNTTAModel(model)
