"""Config typos named by their key before anything is built for real."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmpfcn.registry import PARAM_SCHEDULERS
from mmpfcn.utils import ConfigKeyError, check_config, register_all_modules
from mmpfcn.utils.config_check import _all_registries, find_unknown_types
from mmpfcn.utils.config_keys import find_unknown_keys

CONFIGS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    'panoptic_fcn')
SYNTHETIC_CONFIG = osp.join(CONFIGS,
                            'panoptic-fcn_r18_fpn_synthetic-panoptic.py')


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
    # an option that moved into a generator's own config says where to now
    ('model.panoptic_head.pos_num', 7,
     "config key `model.panoptic_head.pos_num`: PanopticFCNHead takes no "
     "argument 'pos_num'; it is an argument of ThingGenerator now: set "
     "`model.panoptic_head.thing_generator.pos_num`"),
])
def test_typos_name_their_key(cfg, key, value, message):
    broken = Config(cfg.to_dict())
    broken.merge_from_dict({key: value})
    with pytest.raises(ConfigKeyError) as error:
        check_config(broken)
    assert message in str(error.value)


def test_the_former_single_metric_says_what_to_list(cfg):
    """A config of an earlier version naming ``PanopticFCNMetric`` gets one
    line with the three metrics to list, not "not a registered type"."""
    old = Config(cfg.to_dict())
    old.val_evaluator = dict(type='PanopticFCNMetric', ann_file='gt.json',
                             ap_engine='hotcoco')
    with pytest.raises(ConfigKeyError) as error:
        check_config(old, build_model=False)
    message = str(error.value)
    assert message.startswith("config key `val_evaluator.type`: "
                              "'PanopticFCNMetric': the metric is now three")
    for name in ('PanopticQualityMetric', 'PanopticMaskAPMetric',
                 'SemanticIoUMetric'):
        assert f"dict(type='{name}'" in message
    assert 'not a registered type' not in message and '\n' not in message


# the typos of issue 23: silently ignored, or a raw TypeError at runner start
@pytest.mark.parametrize('key, value, message', [
    ('optim_wrapper.paramwise_cfg.norm_decay_mlt', 0.0,
     "`optim_wrapper.paramwise_cfg` takes no key 'norm_decay_mlt'; did you "
     "mean 'norm_decay_mult'?"),
    ('train_dataloader.dataset.filter_cfg.min_szie', 32,
     "`train_dataloader.dataset.filter_cfg` takes no key 'min_szie'; did "
     "you mean 'min_size'?"),
    ('env_cfg.cudnn_benchmrk', True,
     "`env_cfg` takes no key 'cudnn_benchmrk'; did you mean "
     "'cudnn_benchmark'?"),
    ('train_dataloader.batch_szie', 2,
     "`train_dataloader` takes no key 'batch_szie'; did you mean "
     "'batch_size'?"),
    ('optim_wrapper.optimizer.lrr', 0.1,
     "AdamW takes no argument 'lrr'; did you mean 'lr'?"),
    ('optim_wrapper.clip_grad.clip_valeu', 1.0,
     "`optim_wrapper.clip_grad` takes no key 'clip_valeu'; did you mean "
     "'clip_value'?"),
    ('train_cfg.max_iter', 3,
     "IterBasedTrainLoop takes no argument 'max_iter'; did you mean "
     "'max_iters'?"),
    ('randomness.sed', 1,
     "`randomness` takes no key 'sed'; did you mean 'seed'?"),
    ('param_scheduler.0.start_factr', 0.1,
     "LinearLR takes no argument 'start_factr'; did you mean "
     "'start_factor'?"),
    ('default_hooks.checkpoint.intervall', 3,
     "AtomicCheckpointHook takes no argument 'intervall'; did you mean "
     "'interval'?"),
    ('env_cfg.dist_cfg.timeot', 60,
     "`env_cfg.dist_cfg` takes no key 'timeot'; did you mean 'timeout'?"),
    ('model.backbone.deptth', 18,
     "ResNet takes no argument 'deptth'; did you mean 'depth'?"),
])
def test_key_typos_say_what_was_meant(cfg, key, value, message):
    broken = Config(cfg.to_dict())
    if key.startswith('param_scheduler.'):
        broken.param_scheduler[0][key.split('.')[-1]] = value
    else:
        broken.merge_from_dict({key: value})
    with pytest.raises(ConfigKeyError) as error:
        check_config(broken)
    assert str(error.value) == f'config key `{key}`: {message}'


def test_every_config_has_only_known_keys():
    registries = _all_registries()
    for path in sorted(glob.glob(osp.join(CONFIGS, '**', '*.py'),
                                 recursive=True)):
        assert find_unknown_keys(Config.fromfile(path).to_dict(),
                                 registries) == [], path


def test_a_registered_scheduler_is_checked_by_its_signature(cfg):
    from mmengine.optim.scheduler import PolyParamScheduler
    from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin

    class WarmupProbeLR(LRSchedulerMixin, PolyParamScheduler):

        def __init__(self, optimizer, warmup_iters=10, **kwargs):
            super().__init__(optimizer, **kwargs)

    PARAM_SCHEDULERS.register_module(module=WarmupProbeLR)
    try:
        broken = Config(cfg.to_dict())
        broken.param_scheduler = [dict(
            type='WarmupProbeLR', power=0.9, warmup_itres=5, end=10)]
        with pytest.raises(ConfigKeyError) as error:
            check_config(broken, build_model=False)
        assert str(error.value) == (
            'config key `param_scheduler.0.warmup_itres`: WarmupProbeLR '
            "takes no argument 'warmup_itres'; did you mean "
            "'warmup_iters'?")
        broken.param_scheduler[0]['warmup_iters'] = \
            broken.param_scheduler[0].pop('warmup_itres')
        check_config(broken, build_model=False)
    finally:
        PARAM_SCHEDULERS._module_dict.pop('WarmupProbeLR')


def test_unknowable_keys_are_not_guessed():
    # **kwargs that go to another transform, a function taking **kwargs
    from mmcv.transforms import RandomChoiceResize

    from mmpfcn.utils.config_keys import accepted_arguments
    assert accepted_arguments(RandomChoiceResize) is None
    assert accepted_arguments(lambda **kwargs: None) is None


def test_a_mode_name_is_not_a_type(cfg):
    # OptimWrapper's clip_grad=dict(type='value') picks a mode
    assert cfg.optim_wrapper.clip_grad.type == 'value'
    assert find_unknown_types(cfg) == []
