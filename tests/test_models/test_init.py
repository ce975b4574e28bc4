"""The R50 model starts from the reference's weights distribution: after
``init_weights()`` every layer group's weight std is within 10% of the
analytic value of the reference's initialiser (layers of >= 27 x 2304
weights, so the sample std is stable to about 1%)."""
import math
import os.path as osp

import pytest
import torch
from mmdet.models.necks import FPN
from mmengine.config import Config
from torch import nn

from mmpfcn.models.heads import FeatureEncoder, KernelHead, PositionHead
from mmpfcn.models.layers import KernelEmbedding, ModulatedDeformConv2dPackPT
from mmpfcn.models.necks import SemanticFPN
from mmpfcn.registry import MODELS
from mmpfcn.utils.setup_env import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
R50_3X = osp.join(ROOT, 'configs/panoptic_fcn/'
                  'panoptic-fcn_r50_fpn_3x_coco-panoptic.py')
DEMO = osp.join(ROOT, 'configs/panoptic_fcn/'
                'panoptic-fcn_r18_fpn_synthetic-panoptic.py')


def fan_in(conv: nn.Module) -> int:
    return conv.weight[0].numel()


def fan_out(conv: nn.Module) -> int:
    return conv.weight.shape[0] * conv.weight[0, 0].numel()


def pytorch_default_std(conv: nn.Module) -> float:
    """kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    return 1 / math.sqrt(3 * fan_in(conv))


def assert_std(weight: torch.Tensor, expected: float, name: str) -> None:
    std = weight.std().item()
    assert std == pytest.approx(expected, rel=0.1), (
        f'{name}: std {std:.5f}, expected {expected:.5f}')


def the_one(model: nn.Module, cls: type) -> nn.Module:
    found = [m for m in model.modules() if type(m) is cls]
    assert len(found) == 1, f'{len(found)} modules of type {cls.__name__}'
    return found[0]


@pytest.fixture(scope='module')
def model():
    register_all_modules()
    cfg = Config.fromfile(R50_3X)
    cfg.model.backbone.init_cfg = None  # no download; the backbone is mmdet's
    torch.manual_seed(0)
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    return detector


def test_fpn_is_c2_xavier_fill(model):
    # kaiming_uniform_(a=1): bound sqrt(3 / fan_in), std 1 / sqrt(fan_in)
    convs = [m for m in the_one(model, FPN).modules()
             if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 + 4 + 2  # laterals, outputs, P6 and P7
    for i, conv in enumerate(convs):
        assert_std(conv.weight, 1 / math.sqrt(fan_in(conv)), f'FPN conv {i}')
        assert torch.all(conv.bias == 0)


def test_semantic_fpn_is_c2_msra_fill(model):
    # kaiming_normal_(mode='fan_out', relu): std sqrt(2 / fan_out)
    neck = the_one(model, SemanticFPN)
    convs = [m for m in neck.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 7
    for i, conv in enumerate(convs):
        assert_std(conv.weight, math.sqrt(2 / fan_out(conv)),
                   f'semantic FPN conv {i}')
        assert conv.bias is None


def test_position_head(model):
    head = the_one(model, PositionHead)
    for i, block in enumerate(head.convs):
        dcn = block.conv
        assert isinstance(dcn, ModulatedDeformConv2dPackPT)
        # detectron2's ModulatedDeformConv: kaiming_uniform_(relu)
        assert_std(dcn.weight, math.sqrt(2 / fan_in(dcn)), f'DCN {i}')
        # its offset/mask conv: a plain nn.Conv2d, PyTorch's default
        offset = dcn.conv_offset
        assert_std(offset.weight, pytorch_default_std(offset),
                   f'offset conv {i}')
        assert offset.bias.abs().max() <= 1 / math.sqrt(fan_in(offset))
        assert offset.bias.abs().sum() > 0
    for out in (head.out_inst, head.out_sem):
        assert_std(out.weight, 0.01, 'position output')
        assert torch.all(out.bias == -2.19)


def test_kernel_head(model):
    head = the_one(model, KernelHead)
    for i, block in enumerate(head.convs):
        assert_std(block.conv.weight, pytorch_default_std(block.conv),
                   f'kernel head conv {i}')
    assert_std(head.out_conv.weight, 0.01, 'out_conv')
    assert torch.all(head.out_conv.bias == 0)


def test_feature_encoder(model):
    encoder = the_one(model, FeatureEncoder)
    for i, block in enumerate(encoder.convs):
        conv = block.conv
        assert_std(conv.weight, pytorch_default_std(conv), f'encoder {i}')
        bound = 1 / math.sqrt(fan_in(conv))
        assert conv.bias.abs().max() <= bound and conv.bias.abs().sum() > 0
    # the number: about 0.012 on the first layer (258 x 9 inputs)
    first = encoder.convs[0].conv.weight.std().item()
    assert first == pytest.approx(0.012, abs=0.001)


def test_kernel_embeddings(model):
    embeds = [(n, m) for n, m in model.named_modules()
              if 'embed' in n and isinstance(m, nn.Conv2d)]
    assert len(embeds) == 2  # things and stuff
    for name, conv in embeds:
        assert conv.kernel_size == (1, 1)
        assert_std(conv.weight, 0.01, name)
        assert torch.all(conv.bias == 0)


def test_group_norms(model):
    norms = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 7 + 3 + 3  # semantic FPN, position, kernel head
    for norm in norms:
        assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0)


def test_init_cfg_overrides_the_reference_init():
    encoder = FeatureEncoder(
        init_cfg=dict(type='Normal', layer='Conv2d', std=0.05, bias=0))
    encoder.init_weights()
    for block in encoder.convs:
        assert_std(block.conv.weight, 0.05, 'encoder with init_cfg')
        assert torch.all(block.conv.bias == 0)


def test_kernel_embedding_init_cfg_is_applied_on_top():
    # without an init_cfg: the reference's N(0, 0.01), zero bias
    torch.manual_seed(0)
    default = KernelEmbedding(in_channels=256, embed_channels=128)
    default.init_weights()
    assert_std(default.embed_extractor.weight, 0.01, 'embedding')
    assert torch.all(default.embed_extractor.bias == 0)
    # with one: it wins over the reference's init
    embedding = KernelEmbedding(
        init_cfg=dict(
            type='Constant', layer='Conv2d', val=0.5, bias=0.25))
    embedding.init_weights()
    assert torch.all(embedding.embed_extractor.weight == 0.5)
    assert torch.all(embedding.embed_extractor.bias == 0.25)


def test_small_scratch_model_overrides_only_the_encoder_init():
    # the demo / overfit-check model: its config's scratch_encoder_init
    # (Kaiming normal, fan_out) replaces the reference's encoder init
    register_all_modules()
    cfg = Config.fromfile(DEMO)
    torch.manual_seed(0)
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    encoder = the_one(detector, FeatureEncoder)
    for i, block in enumerate(encoder.convs):
        assert_std(block.conv.weight, math.sqrt(2 / fan_out(block.conv)),
                   f'scratch encoder {i}')
        assert torch.all(block.conv.bias == 0)
    head = the_one(detector, KernelHead)
    conv = head.convs[1].conv  # 64 -> 64: 36864 weights
    assert_std(conv.weight, pytorch_default_std(conv), 'kernel head')
