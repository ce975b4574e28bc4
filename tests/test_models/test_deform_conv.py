"""The pure-PyTorch DCNv2 equals mmcv's compiled op (outputs and all
gradients, offsets reaching outside the image), loads mmcv's parameters,
and refuses what it does not implement with the key in the message."""
import pytest
import torch
from mmcv.cnn import build_conv_layer
from mmcv.ops import ModulatedDeformConv2dPack, modulated_deform_conv2d
from mmdet.models.backbones import ResNet

from mmpfcn.models.heads import KernelGenerator
from mmpfcn.models.layers import (
    ModulatedDeformConv2dPackPT,
    ModulatedDeformConv2dPT,
    conv_stack,
)
from mmpfcn.models.layers import modulated_deform_conv2d as pure_deform_conv2d

# (B, C, H, W, C_out, stride, padding, dilation, deform_groups, bias)
CASES = [
    (2, 8, 7, 9, 5, 1, 1, 1, 1, True),  # the heads' 3x3, padding 1
    (1, 16, 12, 10, 6, 2, 1, 1, 2, False),  # a dconv backbone's stride 2
    (2, 4, 9, 11, 3, 1, 2, 2, 1, True),  # dilation 2
    (1, 32, 5, 6, 32, 1, 1, 1, 4, False),
]


def relative_error(found: torch.Tensor, expected: torch.Tensor) -> float:
    return ((found - expected).abs().max() /
            expected.abs().max()).item()


def _sample_inputs(case, generator):
    batch, channels, height, width, out_channels, stride, padding, \
        dilation, groups, with_bias = case
    out_h = (height + 2 * padding - 2 * dilation - 1) // stride + 1
    out_w = (width + 2 * padding - 2 * dilation - 1) // stride + 1
    shape = (batch, 18 * groups, out_h, out_w)
    # offsets of up to ~8 pixels: many taps land outside the image
    offset = torch.randn(shape, generator=generator) * 4
    mask = torch.rand(batch, 9 * groups, out_h, out_w, generator=generator)
    x = torch.randn(batch, channels, height, width, generator=generator)
    weight = torch.randn(out_channels, channels, 3, 3, generator=generator)
    bias = torch.randn(out_channels, generator=generator) if with_bias \
        else None
    return x, offset, mask, weight, bias


@pytest.mark.parametrize('case', CASES)
def test_outputs_and_gradients_equal_mmcv(case):
    stride, padding, dilation, groups = case[5:9]
    inputs = _sample_inputs(case, torch.Generator().manual_seed(0))
    x, offset = inputs[:2]
    # rows sampled by the top-left taps: some above -1 or below H (zero)
    rows = torch.arange(offset.shape[2]) * stride - padding
    sample_y = rows.view(1, 1, -1, 1) + offset[:, 0::2]
    outside = ((sample_y <= -1) | (sample_y >= x.shape[2])).float().mean()
    assert 0.05 < outside < 0.9
    results = []
    for op in ('mmcv', 'pytorch'):
        leaves = [t.clone().requires_grad_() if t is not None else None
                  for t in inputs]
        if op == 'mmcv':
            out = modulated_deform_conv2d(*leaves, stride, padding, dilation,
                                          1, groups)
        else:
            out = pure_deform_conv2d(*leaves, stride, padding, dilation,
                                     groups)
        grad_out = torch.randn(out.shape,
                               generator=torch.Generator().manual_seed(1))
        out.backward(grad_out)
        results.append([out] + [t.grad for t in leaves if t is not None])
    names = ['output', 'input', 'offset', 'mask', 'weight', 'bias']
    for name, expected, found in zip(names, *results):
        assert found.shape == expected.shape
        assert relative_error(found, expected) < 1e-5, name


def test_pack_has_mmcv_parameters_init_and_outputs():
    torch.manual_seed(3)
    mmcv_conv = ModulatedDeformConv2dPack(8, 6, 3, padding=1)
    torch.manual_seed(3)
    ours = ModulatedDeformConv2dPackPT(8, 6, 3, padding=1)
    # same names, shapes and (seeded) initial values: checkpoints load
    # unchanged and a seeded model starts where mmcv's would
    theirs = mmcv_conv.state_dict()
    assert list(ours.state_dict()) == list(theirs)
    for name, value in ours.state_dict().items():
        assert torch.equal(value, theirs[name]), name
    torch.nn.init.normal_(mmcv_conv.conv_offset.weight, std=0.5)
    torch.nn.init.normal_(mmcv_conv.bias)
    ours.load_state_dict(mmcv_conv.state_dict())
    x = torch.randn(2, 8, 10, 13)
    expected = mmcv_conv(x)
    assert relative_error(ours(x), expected) < 1e-5
    assert expected.std() > 0.1


def test_config_selects_the_implementation_and_weights_transfer():
    kwargs = dict(num_things_classes=3, num_stuff_channels=4, in_channels=32,
                  feat_channels=32, position_num_convs=2, kernel_num_convs=1,
                  kernel_dcn=True)
    torch.manual_seed(0)
    mmcv_gen = KernelGenerator(**kwargs, dcn_impl='mmcv')
    mmcv_gen.init_weights()
    for module in mmcv_gen.modules():
        if isinstance(module, ModulatedDeformConv2dPack):
            torch.nn.init.normal_(module.conv_offset.weight, std=0.1)
    pure_gen = KernelGenerator(**kwargs)  # dcn_impl='pytorch' by default
    types = {type(m) for m in pure_gen.modules()}
    assert ModulatedDeformConv2dPackPT in types
    assert ModulatedDeformConv2dPack not in types
    pure_gen.load_state_dict(mmcv_gen.state_dict())
    feats = [torch.randn(2, 32, 16, 16), torch.randn(2, 32, 8, 8)]
    with torch.no_grad():
        expected, found = mmcv_gen(feats), pure_gen(feats)
    for ref_level, out_level in zip(expected, found):
        for ref, out in zip(ref_level, out_level):
            assert relative_error(out, ref) < 1e-5


def test_registered_for_conv_cfg_and_a_dconv_backbone():
    conv = build_conv_layer(dict(type='DCNv2PT', deform_groups=2), 8, 4, 3,
                            stride=2, padding=1, bias=False)
    assert isinstance(conv, ModulatedDeformConv2dPackPT)
    assert conv(torch.randn(1, 8, 9, 9)).shape == (1, 4, 5, 5)
    backbone = ResNet(
        50, base_channels=8, out_indices=(3, ),
        dcn=dict(type='DCNv2PT', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, False, False, True))
    # the first block of a stage samples with stride 2
    assert isinstance(backbone.layer4[0].conv2, ModulatedDeformConv2dPackPT)
    assert backbone.layer4[0].conv2.stride == (2, 2)
    assert backbone(torch.randn(1, 3, 64, 64))[0].shape == (1, 256, 2, 2)


def test_unsupported_requests_name_the_key():
    with pytest.raises(ValueError, match='groups must be 1.*groups=2'):
        ModulatedDeformConv2dPackPT(8, 8, 3, padding=1, groups=2)
    with pytest.raises(ValueError, match=r'groups must be 1.*dcn_impl'):
        build_conv_layer(dict(type='DCNv2PT', groups=4), 8, 8, 3)
    with pytest.raises(ValueError, match='deform_groups must divide '
                       r'in_channels \(8\), got deform_groups=3'):
        ModulatedDeformConv2dPT(8, 8, 3, deform_groups=3)
    with pytest.raises(ValueError, match="dcn_impl must be one of "
                       r"\['mmcv', 'pytorch'\], got 'cuda'"):
        conv_stack(8, 8, 1, use_dcn=True, dcn_impl='cuda')
    conv = ModulatedDeformConv2dPT(8, 4, 3, padding=1, deform_groups=2)
    x = torch.randn(1, 8, 5, 5)
    # an offset laid out for one deform group (18 channels), not two
    with pytest.raises(ValueError, match=r"offset must have shape "
                       r"\(1, 36, 5, 5\).*\(dy, dx\) per tap"):
        conv(x, torch.zeros(1, 18, 5, 5), torch.ones(1, 18, 5, 5))
