"""Every Panoptic FCN config builds and runs one loss step and one predict
on two images of different sizes (random weights, tiny inputs)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmpfcn.models.inference_cfg import DEFAULT_TEST_CFG
from mmpfcn.registry import MODELS
from mmpfcn.testing.panoptic_samples import (
    check_loss_step_and_predict,
    two_images,
)
from mmpfcn.utils.setup_env import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

CONFIGS = sorted(
    osp.basename(p)
    for p in glob.glob(osp.join(ROOT, 'configs/panoptic_fcn/*.py')))


def test_all_paper_models_have_a_config():
    assert len(CONFIGS) == 24
    # the reference's 12 COCO model-zoo entries, the paper's R101 /
    # DCN-R101 models (DCN-R101* is its test-dev entry), 2x, the 3x on the
    # reference's instances-file training set, 2 Cityscapes, 2 Mapillary,
    # the CPU demo and two untrained modern backbones (Swin-T, RegNetX)
    for name in ('panoptic-fcn_r50_fpn_fast_1x_coco-panoptic.py',
                 'panoptic-fcn_r50_fpn_3x_coco-panoptic-separated.py',
                 'panoptic-fcn-star_r50_fpn_fast_3x_coco-panoptic.py',
                 'panoptic-fcn-star_r101-dconv-c3-c5_fpn_3x_coco-panoptic.py'):
        assert name in CONFIGS
    assert 'panoptic-fcn_r18_fpn_synthetic-panoptic.py' in CONFIGS


def build(name):
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, 'configs/panoptic_fcn', name))
    assert cfg.default_scope == 'mmpfcn'
    cfg.model.backbone.init_cfg = None  # no download
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_trains_and_predicts(name):
    check_loss_step_and_predict(build(name))


@pytest.mark.parametrize('name, url, channels', [
    ('panoptic-fcn_swin-t-p4-w7_fpn_3x_coco-panoptic.py',
     'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/'
     'swin_tiny_patch4_window7_224.pth', [96, 192, 384, 768]),
    ('panoptic-fcn_regnetx-3.2GF_fpn_3x_coco-panoptic.py',
     'open-mmlab://regnetx_3.2gf', [96, 192, 432, 1008]),
])
def test_modern_backbones_feed_the_fpn(name, url, channels):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/panoptic_fcn', name))
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained',
                                               checkpoint=url)
    assert cfg.model.neck.in_channels == channels
    model = build(name)
    # the ImageNet normalisation of the pretrained weights, not caffe's
    assert model.data_preprocessor.std.flatten().min() > 50
    feats = model.backbone(torch.randn(1, 3, 64, 96))
    assert [f.shape[1] for f in feats] == channels
    assert [f.shape[-1] for f in feats] == [24, 12, 6, 3]


# the other configs share one of these architectures (they change the data
# pipeline, the schedule, k or the test thresholds), so a backward pass per
# architecture covers them
@pytest.mark.parametrize('name', [
    'panoptic-fcn_r50_fpn_3x_coco-panoptic.py',
    'panoptic-fcn-star_r50_fpn_3x_coco-panoptic.py',
    'panoptic-fcn_r101-dconv-c3-c5_fpn_3x_coco-panoptic.py'
])
def test_config_backward(name):
    model = build(name)
    data = two_images()
    losses = model(**model.data_preprocessor(data, True), mode='loss')
    sum(losses.values()).backward()
    head = model.panoptic_head
    for param in (head.thing_generator.embed_extractor.weight,
                  head.stuff_generator.embed_extractor.weight,
                  model.backbone.layer4[0].conv2.weight):
        assert param.grad is not None and param.grad.abs().sum() > 0
    # stem and res2 are frozen (frozen_stages=1)
    assert model.backbone.layer1[0].conv1.weight.grad is None


def test_coco_configs_follow_the_reference():
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/panoptic_fcn',
                 'panoptic-fcn_r50_fpn_3x_coco-panoptic.py'))
    model = cfg.model
    assert model.data_preprocessor.bgr_to_rgb is False
    assert model.data_preprocessor.std == [1.0, 1.0, 1.0]
    assert model.backbone.style == 'caffe'
    assert model.backbone.init_cfg.checkpoint == \
        'open-mmlab://detectron2/resnet50_caffe'
    assert model.neck.num_outs == 6
    assert model.neck.add_extra_convs == 'on_output'
    # the reference's inference settings: the code's defaults, unchanged
    assert model.test_cfg == dict()
    assert DEFAULT_TEST_CFG['pool_sizes'] == (3, 3, 3, 5, 5)
    assert cfg.optim_wrapper.clip_grad == dict(type='value', clip_value=35)
    assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0
    assert cfg.train_cfg.max_iters == 270000
    assert [s.type for s in cfg.param_scheduler] == ['WarmupPolyLR']
    assert cfg.param_scheduler[0].end == 270000
    assert cfg.train_dataloader.batch_size * 8 == 16

    def load(name):
        return Config.fromfile(osp.join(ROOT, 'configs/panoptic_fcn', name))

    sizes = {'400': (3, (666, 400)), '512': (3, (854, 512)),
             '600': (5, (1000, 600))}
    for size, (k, test_scale) in sizes.items():
        sized = load(f'panoptic-fcn_r50_fpn_{size}_3x_coco-panoptic.py')
        assert sized.model.panoptic_head.thing_generator.pos_num == k
        assert sized.test_dataloader.dataset.pipeline[1].scale == test_scale
        fast = load(f'panoptic-fcn_r50_fpn_{size}_fast_3x_coco-panoptic.py')
        assert fast.model.test_cfg.thing_peak_thr == 0.2
        assert fast.model.test_cfg.stuff_score_thr == 0.1
    star = load('panoptic-fcn-star_r50_fpn_3x_coco-panoptic.py')
    assert star.model.panoptic_head.feature_encoder.feat_channels == 256
    assert star.model.panoptic_head.feature_encoder.use_dcn is True
    dcn = load('panoptic-fcn_r101-dconv-c3-c5_fpn_3x_coco-panoptic.py')
    assert dcn.model.backbone.depth == 101
    assert dcn.model.backbone.stage_with_dcn == (False, True, True, True)
    assert load('panoptic-fcn_r50_fpn_1x_coco-panoptic.py'
                ).train_cfg.max_iters == 90000
    for name, base in (('_r50_fpn_fast_1x', '_r50_fpn_1x'),
                       ('_r50_fpn_fast_3x', '_r50_fpn_3x'),
                       ('-star_r50_fpn_fast_3x', '-star_r50_fpn_3x')):
        fast = load(f'panoptic-fcn{name}_coco-panoptic.py')
        normal = load(f'panoptic-fcn{base}_coco-panoptic.py')
        assert fast.model.test_cfg == dict(
            normal.model.test_cfg, thing_peak_thr=0.2, stuff_score_thr=0.1)
        assert fast.model.panoptic_head == normal.model.panoptic_head
        assert fast.train_cfg == normal.train_cfg
    star_dcn = load(
        'panoptic-fcn-star_r101-dconv-c3-c5_fpn_3x_coco-panoptic.py')
    assert star_dcn.model.backbone == dcn.model.backbone
    assert star_dcn.model.panoptic_head.feature_encoder == \
        star.model.panoptic_head.feature_encoder
