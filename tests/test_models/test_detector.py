"""PanopticFCN detector end to end on the CPU demo config (ResNet-18):
the three modes, batch invariance and edge cases (the R50 model's
reference checkpoint layout is tested with the converter,
tests/test_tools/test_panopticfcn_to_mmpfcn.py)."""
import copy
import os.path as osp

import pytest
import torch
from mmdet.evaluation import INSTANCE_OFFSET
from mmengine.config import Config

from mmpfcn.registry import MODELS
from mmpfcn.testing.panoptic_samples import (
    batch,
    default_sample,
    panoptic_sample,
)
from mmpfcn.utils.setup_env import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs/panoptic_fcn/'
                'panoptic-fcn_r18_fpn_synthetic-panoptic.py')
NUM_CLASSES = 8  # demo: 4 things + 4 stuff


@pytest.fixture(scope='module')
def model():
    register_all_modules()
    cfg = Config.fromfile(DEMO)
    # paint every thing and keep every stuff segment of the tiny images so
    # the merge has something to compare
    cfg.model.test_cfg.update(merge_thing_thr=0.0, stuff_area_limit=1)
    torch.manual_seed(0)
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    return detector.eval()


def run(model, data, mode):
    data = model.data_preprocessor(copy.deepcopy(data), mode == 'loss')
    if mode == 'loss':
        return model(**data, mode='loss')
    with torch.no_grad():
        return model(**data, mode=mode)


def test_three_modes(model):
    data = batch(default_sample((64, 96)), default_sample((50, 70), seed=1))
    model.train()
    losses = run(model, data, 'loss')
    model.eval()
    assert set(losses) == {
        'loss_pos_th', 'loss_pos_st', 'loss_seg_th', 'loss_seg_st'
    }
    assert all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())
    # focal prior 0.1 and masks from untrained kernels: clearly non-zero
    assert all(v.item() > 0 for v in losses.values())

    things, stuff, kernels, encoded_feats = run(model, data, 'tensor')
    assert [tuple(x.shape) for x in things] == [(2, 4, 8, 12), (2, 4, 4, 6),
                                                (2, 4, 2, 3), (2, 4, 1, 2),
                                                (2, 4, 1, 1)]
    assert stuff[0].shape == (2, 5, 8, 12)
    assert kernels[0].shape == (2, 64, 8, 12)  # the demo's 64 channels
    assert encoded_feats.shape == (2, 64, 16, 24)

    results = run(model, data, 'predict')
    for result, shape in zip(results, [(64, 96), (50, 70)]):
        pan = result.pred_panoptic_seg.sem_seg
        assert pan.shape == (1, *shape)
        labels = pan % INSTANCE_OFFSET
        assert labels.max() <= NUM_CLASSES
        # stuff and void carry instance id 0
        assert torch.all(pan[labels >= 4] < INSTANCE_OFFSET)
        instances = result.pred_instances
        assert instances.masks.dtype == torch.bool
        assert instances.masks.shape[1:] == shape
        assert instances.bboxes.shape == (len(instances), 4)
        assert torch.all(instances.scores[:-1] >= instances.scores[1:])
        assert result.pred_sem_seg.sem_seg.shape == (1, *shape)
        assert result.pred_sem_seg.sem_seg.max() <= 4
        assert (pan >= INSTANCE_OFFSET).any()  # some thing was painted


def test_batch_of_same_size_equals_single_images(model):
    pairs = [default_sample((64, 96), seed=s) for s in range(3)]
    batched = run(model, batch(*pairs), 'predict')
    for pair, result in zip(pairs, batched):
        single = run(model, batch(pair), 'predict')[0]
        assert torch.equal(single.pred_panoptic_seg.sem_seg,
                           result.pred_panoptic_seg.sem_seg)
        assert torch.equal(single.pred_instances.masks,
                           result.pred_instances.masks)
        assert torch.allclose(single.pred_instances.scores,
                              result.pred_instances.scores, atol=1e-6)


def test_batch_of_mixed_sizes_equals_single_padded_images(model):
    # 50 x 70 pads to 64 x 96 alone and in the batch with a 64 x 96 image
    pairs = [default_sample((64, 96)), default_sample((50, 70), seed=1),
             default_sample((40, 90), seed=2)]
    batched = run(model, batch(*pairs), 'predict')
    for pair, result in zip(pairs, batched):
        single = run(model, batch(pair), 'predict')[0]
        shape = pair[1].ori_shape
        assert result.pred_panoptic_seg.sem_seg.shape == (1, *shape)
        assert torch.equal(single.pred_panoptic_seg.sem_seg,
                           result.pred_panoptic_seg.sem_seg)
        assert torch.equal(single.pred_sem_seg.sem_seg,
                           result.pred_sem_seg.sem_seg)


def test_rescale_to_original_size(model):
    image, sample = default_sample((64, 96))
    # the image was resized from 32 x 48: results come back at 32 x 48
    sample.set_metainfo(dict(ori_shape=(32, 48), scale_factor=(2.0, 2.0)))
    result = run(model, batch((image, sample)), 'predict')[0]
    assert result.pred_panoptic_seg.sem_seg.shape == (1, 32, 48)
    assert result.pred_instances.masks.shape[1:] == (32, 48)


def tiny_boxes(count, shape):
    """``count`` 4 x 4 boxes on a 6-pixel grid (16 x 10 fit in 64 x 96)."""
    cols = shape[1] // 6
    return [(6 * (i % cols), 6 * (i // cols), 6 * (i % cols) + 4,
             6 * (i // cols) + 4) for i in range(count)]


EDGE_CASES = {
    'no_things': dict(),
    'only_void': dict(void=True),
    'one_huge_instance': dict(boxes=[(0, 0, 96, 64)], labels=[2]),
    '150_tiny_instances': dict(
        boxes=tiny_boxes(150, (64, 96)), labels=[i % 4 for i in range(150)]),
    'crowd_only': dict(crowd_boxes=[(10, 10, 60, 50)]),
}


@pytest.mark.parametrize('case', list(EDGE_CASES))
def test_edge_cases(model, case):
    pair = panoptic_sample((64, 96), **EDGE_CASES[case])
    model.train()
    losses = run(model, batch(pair), 'loss')
    model.eval()
    assert all(torch.isfinite(v) for v in losses.values())
    model.zero_grad()
    sum(losses.values()).backward()
    grads = [p.grad for p in model.panoptic_head.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    num_things = len(EDGE_CASES[case].get('boxes', []))
    if num_things == 0:
        assert losses['loss_seg_th'].item() == 0
    else:
        assert losses['loss_seg_th'].item() > 0
    if case == 'only_void':
        assert losses['loss_seg_st'].item() == 0
    result = run(model, batch(pair), 'predict')[0]
    assert result.pred_panoptic_seg.sem_seg.shape == (1, 64, 96)


def test_150_tiny_instances_are_capped_per_level(model):
    image, sample = panoptic_sample(
        (64, 96), tiny_boxes(150, (64, 96)), [0] * 150)
    data = model.data_preprocessor(batch((image, sample)), True)
    sample = data['data_samples'][0]
    targets = model.panoptic_head.target_generator.get_targets(
        sample.gt_instances, sample.gt_sem_seg.sem_seg, (64, 96),
        [(8, 12), (4, 6), (2, 3), (1, 2), (1, 1)],
        img_shape=sample.metainfo['img_shape'])
    # sqrt(4 x 4) = 4 lies only in the first range (1, 32) of the demo
    assert [len(i) for i in targets.thing_inds] == [100, 0, 0, 0, 0]
    assert targets.num_things == 100
