"""conv_stack layout and the reference's initialisation (init_conv_stack)."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmpfcn.models.layers import (
    ModulatedDeformConv2dPackPT,
    conv_stack,
    init_conv_stack,
)

GN32 = dict(type='GN', num_groups=32, requires_grad=True)


def test_layout_with_and_without_norm():
    stack = conv_stack(10, 32, 2, norm_cfg=GN32)
    names = {n: tuple(p.shape) for n, p in stack.named_parameters()}
    assert names == {
        '0.conv.weight': (32, 10, 3, 3),
        '0.gn.weight': (32, ),
        '0.gn.bias': (32, ),
        '1.conv.weight': (32, 32, 3, 3),
        '1.gn.weight': (32, ),
        '1.gn.bias': (32, ),
    }
    plain = conv_stack(4, 6, 1)
    assert set(dict(plain.named_parameters())) == {'0.conv.weight',
                                                   '0.conv.bias'}
    x = torch.randn(2, 4, 5, 7)
    expected = F.relu(F.conv2d(x, plain[0].conv.weight, plain[0].conv.bias,
                               padding=1))
    assert torch.allclose(plain(x), expected, atol=1e-6)
    assert len(conv_stack(4, 6, 0)) == 0
    with pytest.raises(ValueError, match='num_convs must be >= 0, got -1'):
        conv_stack(4, 6, -1)


def test_dcn_blocks_own_a_27_channel_offset_mask_conv():
    stack = conv_stack(16, 32, 1, norm_cfg=GN32, use_dcn=True)
    dcn = stack[0].conv
    assert isinstance(dcn, ModulatedDeformConv2dPackPT)
    assert dcn.bias is None
    assert tuple(dcn.conv_offset.weight.shape) == (27, 16, 3, 3)


def test_plain_convs_get_pytorchs_default_init():
    # 256 -> 256: 590k weights, a stable sample std
    stack = conv_stack(256, 256, 2)
    torch.manual_seed(0)
    init_conv_stack(stack)
    for block in stack:
        fan_in = 256 * 9
        bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5))
        std = block.conv.weight.std().item()
        assert std == pytest.approx(1 / math.sqrt(3 * fan_in), rel=0.1)
        assert block.conv.weight.abs().max() <= bound
        bias = block.conv.bias
        assert bias.abs().max() <= bound and bias.abs().sum() > 0


def test_dcn_weights_kaiming_uniform_relu_and_default_offset_conv():
    stack = conv_stack(256, 256, 1, use_dcn=True)  # no norm: a bias
    torch.manual_seed(0)
    init_conv_stack(stack)
    dcn = stack[0].conv
    fan_in = 256 * 9
    assert dcn.weight.std().item() == pytest.approx(
        math.sqrt(2 / fan_in), rel=0.1)
    assert dcn.weight.abs().max() <= math.sqrt(6 / fan_in)
    assert torch.all(dcn.bias == 0)
    # the offset/mask conv is a PyTorch conv with its default init, not 0
    offset = dcn.conv_offset
    assert offset.weight.std().item() == pytest.approx(
        1 / math.sqrt(3 * fan_in), rel=0.1)
    assert offset.bias.abs().max() <= 1 / math.sqrt(fan_in)
    assert offset.bias.abs().sum() > 0


def test_norms_are_one_and_zero():
    stack = conv_stack(8, 32, 2, norm_cfg=GN32, use_dcn=True)
    for block in stack:
        torch.nn.init.normal_(block.norm.weight)
        torch.nn.init.normal_(block.norm.bias)
    init_conv_stack(stack)
    for block in stack:
        assert torch.all(block.norm.weight == 1)
        assert torch.all(block.norm.bias == 0)
