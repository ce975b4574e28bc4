import pytest
import torch
import torch.nn.functional as F

from mmpfcn.models.necks import SemanticFPN
from mmpfcn.registry import MODELS


def _levels(batch=2, channels=8, height=32, width=64, seed=0):
    """P2..P5 of a (height, width) padded input."""
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(batch, channels, height // s, width // s, generator=gen)
        for s in (4, 8, 16, 32)
    ]


def _gn(channels):
    return dict(type='GN', num_groups=2, requires_grad=True)


def test_semantic_fpn_shape_and_reference_layout():
    neck = SemanticFPN()
    shapes = {n: tuple(p.shape) for n, p in neck.named_parameters()}
    # 1 + 1 + 2 + 3 blocks, each conv without bias + GN; conv j of level l
    # sits at index 2j (an upsampling layer follows it)
    assert len(shapes) == 7 * 3
    for name in ('p2.0', 'p3.0', 'p4.0', 'p4.2', 'p5.0', 'p5.2', 'p5.4'):
        assert shapes[f'{name}.conv.weight'] == (256, 256, 3, 3)
        assert shapes[f'{name}.gn.weight'] == (256, )
        assert f'{name}.conv.bias' not in shapes
    out = SemanticFPN(8, 8, norm_cfg=_gn(8))(_levels())
    assert out.shape == (2, 8, 8, 16)


def test_semantic_fpn_equals_manual_blocks():
    neck = SemanticFPN(8, 8, norm_cfg=_gn(8))
    feats = _levels()

    def block(module, x, upsample):
        x = F.relu(module.gn(F.conv2d(x, module.conv.weight, padding=1)))
        if upsample:
            x = F.interpolate(
                x, scale_factor=2, mode='bilinear', align_corners=False)
        return x

    expected = block(neck.p2[0], feats[0], False)
    expected = expected + block(neck.p3[0], feats[1], True)
    expected = expected + block(neck.p4[2], block(neck.p4[0], feats[2], True),
                                True)
    p5 = feats[3]
    for j in (0, 2, 4):
        p5 = block(neck.p5[j], p5, True)
    expected = expected + p5
    assert torch.allclose(neck(feats), expected, atol=1e-5)


def test_semantic_fpn_ablation_modes():
    feats = _levels()
    p2 = SemanticFPN(8, 8, mode='p2')
    assert list(p2.parameters()) == []
    assert torch.equal(p2(feats), feats[0])

    summed = MODELS.build(
        dict(type='SemanticFPN', in_channels=8, feat_channels=8, mode='sum'))
    expected = feats[0] + sum(
        F.interpolate(x, size=(8, 16), mode='bilinear', align_corners=False)
        for x in feats[1:])
    assert torch.allclose(summed(feats), expected, atol=1e-6)
    # a constant map stays constant under bilinear upsampling: 4 levels sum
    ones = [torch.ones_like(x) for x in feats]
    assert torch.allclose(summed(ones), torch.full((2, 8, 8, 16), 4.0))


def test_semantic_fpn_bad_arguments():
    with pytest.raises(ValueError, match='mode'):
        SemanticFPN(mode='concat')
    with pytest.raises(ValueError, match='feat_channels'):
        SemanticFPN(256, 128, mode='sum')
    assert SemanticFPN(8, 8, num_levels=3, norm_cfg=_gn(8))(
        _levels()).shape == (2, 8, 8, 16)
    with pytest.raises(ValueError, match='at least 4'):
        SemanticFPN(8, 8, norm_cfg=_gn(8))(_levels()[:3])
