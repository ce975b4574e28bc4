import pytest
import torch
import torch.nn.functional as F

from mmpfcn.models.heads import KernelGenerator, KernelHead, PositionHead
from mmpfcn.models.layers import cat_coords

GN2 = dict(type='GN', num_groups=2, requires_grad=True)


def _levels(batch=2, channels=8, height=64, width=96, seed=0):
    """P3..P7 of a (height, width) padded input."""
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(batch, channels, -(-height // s), -(-width // s),
                    generator=gen) for s in (8, 16, 32, 64, 128)
    ]


def test_position_head_reference_layout_and_init():
    head = PositionHead(num_things_classes=80, num_stuff_channels=54)
    head.init_weights()
    shapes = {n: tuple(p.shape) for n, p in head.named_parameters()}
    for i in range(3):
        assert shapes[f'convs.{i}.conv.weight'] == (256, 256, 3, 3)
        # DCNv2 offset/mask conv: 2 x 9 offsets + 9 masks
        assert shapes[f'convs.{i}.conv.conv_offset.weight'] == (27, 256, 3, 3)
        assert shapes[f'convs.{i}.gn.weight'] == (256, )
        assert f'convs.{i}.conv.bias' not in shapes
        # the reference's offset/mask conv starts at PyTorch's default
        offset = head.convs[i].conv.conv_offset
        assert offset.weight.abs().sum() > 0 and offset.bias.abs().sum() > 0
    assert shapes['out_inst.weight'] == (80, 256, 3, 3)
    assert shapes['out_sem.weight'] == (54, 256, 3, 3)
    assert len(shapes) == 3 * 5 + 4
    assert torch.all(head.out_inst.bias == -2.19)
    assert torch.all(head.out_sem.bias == -2.19)
    assert head.out_inst.weight.std().item() == pytest.approx(0.01, rel=0.05)


def test_dcn_with_zero_offsets_is_half_a_regular_conv():
    # zero offset/mask conv: regular sampling grid, masks sigmoid(0) = 0.5
    head = PositionHead(4, 3, in_channels=8, feat_channels=8, norm_cfg=GN2)
    head.init_weights()
    x = torch.randn(2, 8, 5, 7)
    dcn = head.convs[0].conv
    torch.nn.init.zeros_(dcn.conv_offset.weight)
    torch.nn.init.zeros_(dcn.conv_offset.bias)
    expected = 0.5 * F.conv2d(x, dcn.weight, padding=1)
    assert torch.allclose(dcn(x), expected, atol=1e-5)


def test_position_head_shapes_and_ablations():
    head = PositionHead(4, 3, in_channels=8, feat_channels=8, num_convs=1,
                        use_dcn=False, norm_cfg=GN2)
    thing, stuff = head(torch.randn(2, 8, 5, 7))
    assert thing.shape == (2, 4, 5, 7) and stuff.shape == (2, 3, 5, 7)
    assert len(head.convs) == 1
    assert not hasattr(head.convs[0].conv, 'conv_offset')


def test_kernel_head_coords_and_init():
    head = KernelHead()
    head.init_weights()
    shapes = {n: tuple(p.shape) for n, p in head.named_parameters()}
    assert shapes['convs.0.conv.weight'] == (256, 258, 3, 3)
    assert shapes['out_conv.weight'] == (256, 256, 3, 3)
    assert 'convs.0.conv.bias' not in shapes
    assert torch.all(head.out_conv.bias == 0)
    assert len(shapes) == 3 * 3 + 2
    no_coord = KernelHead(8, 8, with_coord=False, norm_cfg=GN2)
    assert no_coord.convs[0].conv.in_channels == 8


def test_kernel_head_sees_coordinates_first_layer():
    head = KernelHead(8, 6, num_convs=0, norm_cfg=GN2)
    x = torch.randn(1, 8, 4, 5)
    expected = F.conv2d(cat_coords(x), head.out_conv.weight,
                        head.out_conv.bias, padding=1)
    assert torch.allclose(head(x), expected, atol=1e-6)


def test_kernel_generator_shares_weights_over_levels():
    gen = KernelGenerator(5, 4, in_channels=8, feat_channels=8,
                          position_dcn=False, norm_cfg=GN2)
    gen.init_weights()
    feats = _levels()
    things, stuff, kernels = gen(feats)
    sizes = [(8, 12), (4, 6), (2, 3), (1, 2), (1, 1)]
    for level, size in enumerate(sizes):
        assert things[level].shape == (2, 5, *size)
        assert stuff[level].shape == (2, 4, *size)
        assert kernels[level].shape == (2, 8, *size)
        # the same two heads on every level
        single = gen.kernel_head(feats[level])
        assert torch.allclose(kernels[level], single)
        assert torch.allclose(things[level],
                              gen.position_head(feats[level])[0])


def test_conv_count_knobs_set_each_head_depth():
    for position_convs, kernel_convs in ((1, 1), (2, 4), (4, 0)):
        gen = KernelGenerator(
            5, 4, in_channels=8, feat_channels=8,
            position_num_convs=position_convs,
            kernel_num_convs=kernel_convs, norm_cfg=GN2)
        assert len(gen.position_head.convs) == position_convs
        assert len(gen.kernel_head.convs) == kernel_convs
        things, _, kernels = gen([torch.randn(1, 8, 4, 6)])
        assert things[0].shape == (1, 5, 4, 6)
        assert kernels[0].shape == (1, 8, 4, 6)


def test_dcn_and_coordinate_knobs_of_both_heads():
    from mmpfcn.models.layers import ModulatedDeformConv2dPackPT
    gen = KernelGenerator(
        5, 4, in_channels=8, feat_channels=8, position_dcn=False,
        kernel_dcn=True, position_coord=True, kernel_coord=False,
        norm_cfg=GN2)
    assert all(
        isinstance(block.conv, ModulatedDeformConv2dPackPT)
        for block in gen.kernel_head.convs)
    assert not any(
        isinstance(block.conv, ModulatedDeformConv2dPackPT)
        for block in gen.position_head.convs)
    # the coordinates widen the first conv of the head that takes them
    assert gen.position_head.convs[0].conv.in_channels == 10
    assert gen.kernel_head.convs[0].conv.in_channels == 8
    gen.init_weights()
    feat = torch.randn(1, 8, 4, 6)
    things, _, kernels = gen([feat])
    assert kernels[0].shape == (1, 8, 4, 6)
    head = gen.position_head
    assert torch.allclose(things[0],
                          head.out_inst(head.convs(cat_coords(feat))))
    kernel_head = gen.kernel_head
    assert torch.allclose(kernels[0],
                          kernel_head.out_conv(kernel_head.convs(feat)))
