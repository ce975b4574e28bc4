import torch
import torch.nn.functional as F

from mmpfcn.models.heads import FeatureEncoder
from mmpfcn.models.layers import cat_coords
from mmpfcn.registry import MODELS


def test_feature_encoder_reference_layout():
    encoder = FeatureEncoder()
    shapes = {n: tuple(p.shape) for n, p in encoder.named_parameters()}
    assert shapes == {
        'convs.0.conv.weight': (64, 258, 3, 3),
        'convs.0.conv.bias': (64, ),
        'convs.1.conv.weight': (64, 64, 3, 3),
        'convs.1.conv.bias': (64, ),
        'convs.2.conv.weight': (64, 64, 3, 3),
        'convs.2.conv.bias': (64, ),
    }
    assert encoder.out_channels == 64


def test_feature_encoder_equals_manual_convs():
    encoder = FeatureEncoder(in_channels=8, feat_channels=6, num_convs=2)
    x = torch.randn(2, 8, 8, 12)
    expected = cat_coords(x)
    for block in encoder.convs:
        expected = F.relu(
            F.conv2d(expected, block.conv.weight, block.conv.bias, padding=1))
    out = encoder(x)
    assert out.shape == (2, 6, 8, 12)
    assert torch.allclose(out, expected, atol=1e-5)
    # ReLU after the last conv too
    assert out.min() >= 0


def test_feature_encoder_star_and_no_coord():
    star = MODELS.build(
        dict(type='FeatureEncoder', in_channels=8, feat_channels=16,
             use_dcn=True))
    names = {n for n, _ in star.named_parameters()}
    assert 'convs.0.conv.conv_offset.weight' in names
    assert star.convs[0].conv.in_channels == 10
    assert star(torch.randn(1, 8, 4, 4)).shape == (1, 16, 4, 4)
    plain = FeatureEncoder(in_channels=8, feat_channels=4, with_coord=False)
    assert plain.convs[0].conv.in_channels == 8


def test_feature_encoder_norm_knob():
    normed = FeatureEncoder(
        in_channels=8, feat_channels=4,
        norm_cfg=dict(type='GN', num_groups=2))
    assert all(block.with_norm for block in normed.convs)
    assert normed.convs[0].conv.bias is None
    out = normed(torch.randn(2, 8, 6, 6) * 50)
    # GN then ReLU: every map is normalised before the ReLU, so the output
    # stays O(1) whatever the input scale
    assert out.shape == (2, 4, 6, 6) and out.max() < 10
    plain = FeatureEncoder(in_channels=8, feat_channels=4)
    assert not any(block.with_norm for block in plain.convs)
