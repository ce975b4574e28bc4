"""The reference-checkpoint converter: state dicts with the reference's
exact names and shapes (tests/data/reference_checkpoint) convert and load
strictly into the R50 models; bad layouts are refused with the keys."""
import copy
import os.path as osp
import pickle

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmpfcn.registry import MODELS
from mmpfcn.testing.panoptic_samples import batch, default_sample
from mmpfcn.utils.setup_env import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs', 'panoptic_fcn')

# layout -> (key list, converter flags, config, config overrides)
LAYOUTS = {
    'position-dcn': ('keys_r50_3x_position-dcn.txt', dict(dcn=True),
                     'panoptic-fcn_r50_fpn_3x_coco-panoptic.py', {}),
    'no-dcn': ('keys_r50_3x_no-dcn.txt', dict(dcn=False),
               'panoptic-fcn_r50_fpn_3x_coco-panoptic.py',
               {'panoptic_head.kernel_generator.position_dcn': False}),
    # the Star model: the released layout with a DCNv2 encoder, C_e = 256
    'star': ('keys_r50_3x_position-dcn.txt', dict(dcn=True, star=True),
             'panoptic-fcn-star_r50_fpn_3x_coco-panoptic.py', {}),
}


@pytest.fixture(scope='module')
def converter(load_tool):
    return load_tool('model_converters/panopticfcn_to_mmpfcn.py')


@pytest.fixture(scope='module')
def key_lists(reference_checkpoint_dir):
    """``read(file_name)``: name -> shape of a reference key list."""
    return lambda file_name: read_key_list(
        osp.join(reference_checkpoint_dir, file_name))


def read_key_list(path):
    """Name -> shape of every entry of a reference key list."""
    shapes = {}
    with open(path) as f:
        for line in f:
            name, shape, dtype = line.rstrip('\n').split('\t')
            assert dtype == 'float32'
            shapes[name] = tuple(
                int(s) for s in shape.strip('[]').split(',') if s.strip())
    return shapes


def star_shapes(shapes):
    """The Star layout: the encoder's plain convs (C_e = 64) become
    ``ModulatedDeformConvWithOff`` convs of 256 channels (27-channel
    offset/mask conv, ``dcnv2`` with bias), and the 1x1 embeddings give
    256 channels."""
    shapes = {
        n: s for n, s in shapes.items()
        if not n.startswith('feature_encoder.')
    }
    for k, in_channels in ((1, 258), (2, 256), (3, 256)):
        conv = f'feature_encoder.encode_head.encode_head_head_{k}.'
        shapes[conv + 'offset_mask_conv.weight'] = (27, in_channels, 3, 3)
        shapes[conv + 'offset_mask_conv.bias'] = (27, )
        shapes[conv + 'dcnv2.weight'] = (256, in_channels, 3, 3)
        shapes[conv + 'dcnv2.bias'] = (256, )
    for kind in ('thing', 'stuff'):
        shapes[f'{kind}_generator.embed_extractor.weight'] = (256, 256, 1, 1)
        shapes[f'{kind}_generator.embed_extractor.bias'] = (256, )
    return shapes


def reference_state_dict(key_lists, layout):
    """Seeded values with the layout's names and shapes: small weights,
    positive BN variances (so that a forward pass stays finite)."""
    shapes = key_lists(LAYOUTS[layout][0])
    if layout == 'star':
        shapes = star_shapes(shapes)
    gen = torch.Generator().manual_seed(0)
    state = {}
    for name, shape in shapes.items():
        if name.endswith('running_var'):
            state[name] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[name] = torch.randn(shape, generator=gen) * 0.01
    return state


def build_model(layout):
    register_all_modules()
    _, _, config, overrides = LAYOUTS[layout]
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    cfg.model.backbone.init_cfg = None  # no ImageNet weights
    cfg.merge_from_dict({f'model.{k}': v for k, v in overrides.items()})
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('file_name, dcn', [
    ('keys_r50_3x_position-dcn.txt', True),
    ('keys_r50_3x_no-dcn.txt', False),
])
def test_layout_is_the_reference_key_list(converter, key_lists, file_name,
                                          dcn):
    names = set(key_lists(file_name))
    assert converter.reference_keys(dcn=dcn, star=False) == names


@pytest.mark.parametrize('layout', list(LAYOUTS))
def test_converted_state_dict_loads_strictly(converter, key_lists, layout):
    source = reference_state_dict(key_lists, layout)
    converted = converter.convert_state_dict(
        copy.copy(source), **LAYOUTS[layout][1])
    model = build_model(layout)
    model.load_state_dict(converted, strict=True)
    ours = model.state_dict()
    for name, value in source.items():
        assert torch.equal(ours[converter.to_mmpfcn_name(name)], value), name
    # one counter per backbone BatchNorm (53 in a ResNet-50), none for GN
    counters = [n for n in converted if n.endswith('num_batches_tracked')]
    assert len(counters) == 53
    assert all(n.startswith('backbone.') for n in counters)
    assert len(converted) == len(source) + 53


def test_r50_matches_the_reference_checkpoint(converter, key_lists):
    """Our R50 3x model has exactly the reference's tensors: names (after
    mapping), shapes and the parameter count of its README."""
    reference = {
        converter.to_mmpfcn_name(name): shape
        for name, shape in key_lists('keys_r50_3x_position-dcn.txt').items()
    }
    detector = build_model('position-dcn')
    ours = {
        name: tuple(t.shape)
        for name, t in detector.state_dict().items()
        # detectron2's FrozenBatchNorm2d has no batch counter
        if not name.endswith('num_batches_tracked')
    }
    assert len(reference) == 346
    assert ours == reference
    # the README counts detectron2's parameters(), and its
    # FrozenBatchNorm2d keeps even weight and bias as buffers
    frozen_bn = {
        n for n, m in detector.named_modules()
        if isinstance(m, torch.nn.BatchNorm2d)
    }
    assert sum(
        p.numel() for n, p in detector.named_parameters()
        if n.rsplit('.', 1)[0] not in frozen_bn) == 36_999_511
    head = {n: s for n, s in ours.items() if n.startswith('panoptic_head.')}
    # position head 3 x 5 + 4, kernel head 3 x 3 + 2, encoder 6, embeds 4
    assert len(head) == 40
    assert head['panoptic_head.kernel_generator.position_head.convs.0.conv.'
                'conv_offset.weight'] == (27, 256, 3, 3)
    assert head['panoptic_head.thing_generator.embed_extractor.weight'] == (
        64, 256, 1, 1)


def test_cli_output_loads_like_tools_test(converter, key_lists, tmp_path):
    """A detectron2 ``.pth`` -> the tool -> mmengine's ``load_checkpoint``
    (as ``tools/test.py`` loads ``load_from``) with ``strict=True`` ->
    a prediction."""
    source = reference_state_dict(key_lists, 'position-dcn')
    src, dst = tmp_path / 'model_final.pth', tmp_path / 'converted.pth'
    torch.save(dict(model=source, iteration=269999), src)
    converter.main([str(src), str(dst), '--dcn'])

    model = build_model('position-dcn')
    checkpoint = load_checkpoint(model, str(dst), map_location='cpu',
                                 strict=True)
    assert checkpoint['meta']['reference_layout'] == dict(dcn=True,
                                                          star=False)
    name = 'kernel_head.out_conv.weight'
    assert torch.equal(model.state_dict()[converter.to_mmpfcn_name(name)],
                       source[name])
    model.eval()
    data = model.data_preprocessor(batch(default_sample((64, 96))), False)
    with torch.no_grad():
        result = model(**data, mode='predict')[0]
    assert result.pred_panoptic_seg.sem_seg.shape == (1, 64, 96)


def test_reads_detectron2_pkl_and_plain_state_dicts(converter, key_lists,
                                                    tmp_path):
    source = reference_state_dict(key_lists, 'no-dcn')
    pkl = tmp_path / 'model.pkl'
    with open(pkl, 'wb') as f:  # detectron2's format: numpy arrays
        pickle.dump(dict(model={k: v.numpy() for k, v in source.items()},
                         __author__='reference'), f)
    plain = tmp_path / 'plain.pth'
    torch.save(source, plain)
    for path in (pkl, plain):
        loaded = converter.load_reference(str(path))
        converted = converter.convert_state_dict(loaded, dcn=False)
        name = 'backbone.bottom_up.res4.5.conv2.norm.running_var'
        assert torch.equal(converted[converter.to_mmpfcn_name(name)],
                           source[name])

    empty = tmp_path / 'empty.pth'
    torch.save(dict(model=dict(), iteration=1), empty)
    with pytest.raises(ValueError, match='empty.pth holds no state dict'):
        converter.load_reference(str(empty))


def test_refuses_unmapped_and_missing_keys(converter, key_lists, tmp_path):
    source = reference_state_dict(key_lists, 'position-dcn')
    source['pixel_mean'] = torch.zeros(3)
    del source['kernel_head.out_conv.bias']
    with pytest.raises(converter.LayoutError) as err:
        converter.convert_state_dict(source, dcn=True)
    message = str(err.value)
    assert 'SRC is the layout' not in message  # no flag fits
    assert "1 unmapped key(s): ['pixel_mean']" in message
    assert "1 missing key(s): ['kernel_head.out_conv.bias']" in message

    # the released layout without --dcn: the DCN keys are unmapped, the
    # plain conv keys missing, and the message says which flag fits
    src, dst = tmp_path / 'model_final.pth', tmp_path / 'out.pth'
    torch.save(dict(model=reference_state_dict(key_lists, 'position-dcn')),
               src)
    with pytest.raises(converter.LayoutError) as err:
        converter.main([str(src), str(dst)])
    message = str(err.value)
    assert '15 unmapped key(s)' in message and '9 missing key(s)' in message
    assert 'position_head_head_1.offset_mask_conv.weight' in message
    assert 'SRC is the layout of --dcn;' in message
    assert not dst.exists()
    with pytest.raises(converter.LayoutError,
                       match='SRC is the layout of --dcn;'):
        converter.main([str(src), str(dst), '--dcn', '--star'])
