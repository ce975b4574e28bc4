"""The head's thing and stuff generators are config dicts: a config swaps
one, the head reads each generator's loss inputs through one method, and a
misspelt generator key is named by its dotted key."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmpfcn.models.heads import StuffGenerator, ThingGenerator
from mmpfcn.registry import MODELS
from mmpfcn.testing.panoptic_samples import (
    LEVEL_SIZES,
    PAD,
    rect_sample,
    tiny_head,
)
from mmpfcn.utils import ConfigKeyError, check_config, register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'panoptic_fcn',
                'panoptic-fcn_r18_fpn_synthetic-panoptic.py')


@MODELS.register_module()
class NoThingMasksGenerator(ThingGenerator):
    """A thing generator that gives the dice no thing masks."""

    def loss_inputs(self, thing_logits, kernel_maps, encoded_feats,
                    targets):
        num_pixels = encoded_feats[0, 0].numel()
        empty = encoded_feats.new_zeros(0, num_pixels)
        return empty, empty, encoded_feats.new_zeros(0)


@MODELS.register_module()
class DoubledStuffGenerator(StuffGenerator):
    """A stuff generator whose mask logits are twice the ordinary ones."""

    def loss_inputs(self, kernel_maps, encoded_feats, targets):
        logits, masks = super().loss_inputs(kernel_maps, encoded_feats,
                                            targets)
        return 2 * logits, masks


def loss_of(head):
    stuff = torch.full(PAD, 1)
    stuff[:, 48:] = 2
    stuff[8:40, 8:40] = 0
    sample = rect_sample([(8, 8, 40, 40)], [1], stuff)
    gen = torch.Generator().manual_seed(3)
    levels = [torch.randn(1, 8, *size, generator=gen) for size in LEVEL_SIZES]
    high_res = torch.randn(1, 8, 16, 24, generator=gen)
    return head.loss(levels, high_res, [sample])


def test_a_config_swaps_a_generator_and_the_head_fills_in_channels():
    plain = tiny_head()
    assert type(plain.thing_generator) is ThingGenerator
    assert plain.thing_generator.pos_num == 3
    swapped = tiny_head(
        thing_generator=dict(type='NoThingMasksGenerator', pos_num=3),
        stuff_generator=dict(type='DoubledStuffGenerator'))
    assert isinstance(swapped.thing_generator, NoThingMasksGenerator)
    assert isinstance(swapped.stuff_generator, DoubledStuffGenerator)
    # kernel_channels -> C_e = the feature encoder's channels
    assert swapped.thing_generator.embed_extractor.weight.shape[:2] == (4, 8)
    assert swapped.stuff_generator.embed_extractor.weight.shape[:2] == (4, 8)

    expected, got = loss_of(plain), loss_of(swapped)
    # the head's dice reads what the generators' loss_inputs return
    assert expected['loss_seg_th'] > 0
    assert got['loss_seg_th'] == 0
    assert got['loss_seg_st'] != expected['loss_seg_st']
    # the position losses do not involve the generators
    assert torch.equal(got['loss_pos_th'], expected['loss_pos_th'])
    assert torch.equal(got['loss_pos_st'], expected['loss_pos_st'])


@pytest.fixture(scope='module')
def demo_cfg():
    register_all_modules(init_default_scope=False)
    return Config.fromfile(DEMO)


def test_the_configs_set_k_on_the_thing_generator(demo_cfg):
    head = demo_cfg.model.panoptic_head
    assert 'pos_num' not in head
    assert head.thing_generator.pos_num == 3


@pytest.mark.parametrize('key, message', [
    ('model.panoptic_head.thing_generator.pos_nmu',
     'config key `model.panoptic_head.thing_generator.pos_nmu`: '
     "ThingGenerator takes no argument 'pos_nmu'"),
    ('model.panoptic_head.stuff_generator.with_thing',
     'config key `model.panoptic_head.stuff_generator.with_thing`: '
     "StuffGenerator takes no argument 'with_thing'"),
    # the old place of k is named, not silently ignored
    ('model.panoptic_head.pos_num',
     'config key `model.panoptic_head.pos_num`: PanopticFCNHead takes no '
     "argument 'pos_num'"),
])
def test_a_misspelt_generator_key_is_named(demo_cfg, key, message):
    broken = Config(demo_cfg.to_dict())
    broken.merge_from_dict({key: 3})
    with pytest.raises(ConfigKeyError) as error:
        check_config(broken)
    assert message in str(error.value)


def test_a_config_key_swaps_the_type_and_a_misspelt_type_is_named(demo_cfg):
    swapped = Config(demo_cfg.to_dict())
    swapped.merge_from_dict(
        {'model.panoptic_head.thing_generator.type': 'NoThingMasksGenerator'})
    check_config(swapped)
    broken = Config(demo_cfg.to_dict())
    broken.merge_from_dict(
        {'model.panoptic_head.thing_generator.type': 'ThingGenerater'})
    with pytest.raises(ConfigKeyError,
                       match='`model.panoptic_head.thing_generator.type`: '
                       "'ThingGenerater' is not a registered type"):
        check_config(broken)
