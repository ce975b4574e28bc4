"""Config typos named by their key before anything is built for real."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmpfcn.utils import ConfigKeyError, check_config, register_all_modules
from mmpfcn.utils.config_check import find_unknown_types

SYNTHETIC_CONFIG = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    'panoptic_fcn', 'panoptic-fcn_r18_fpn_synthetic-panoptic.py')


@pytest.fixture(scope='module')
def cfg():
    register_all_modules(init_default_scope=False)
    return Config.fromfile(SYNTHETIC_CONFIG)


def test_a_valid_config_passes(cfg):
    assert find_unknown_types(cfg) == []
    check_config(cfg)


@pytest.mark.parametrize('key, value, message', [
    ('model.backbone.type', 'ResNett',
     "config key `model.backbone.type`: 'ResNett' is not a registered type"),
    ('train_dataloader.dataset.pipeline.3.type', 'RandomFlipp',
     "config key `train_dataloader.dataset.pipeline.3.type`: 'RandomFlipp'"),
    ('default_hooks.logger.type', 'LogerHook',
     "config key `default_hooks.logger.type`: 'LogerHook'"),
    ('model.nonexistent', 1,
     'config key `model.nonexistent`: PanopticFCN takes no argument '
     "'nonexistent'"),
    ('model.panoptic_head.kernel_generator.nonexistent', 1,
     'config key `model.panoptic_head.kernel_generator.nonexistent`: '
     "KernelGenerator takes no argument 'nonexistent'"),
])
def test_typos_name_their_key(cfg, key, value, message):
    broken = Config(cfg.to_dict())
    broken.merge_from_dict({key: value})
    with pytest.raises(ConfigKeyError) as error:
        check_config(broken)
    assert message in str(error.value)


def test_a_mode_name_is_not_a_type(cfg):
    # OptimWrapper's clip_grad=dict(type='value') picks a mode
    assert cfg.optim_wrapper.clip_grad.type == 'value'
    assert find_unknown_types(cfg) == []
