"""Registries of scope ``mmpfcn``, children of mmdet's.

Configs set ``default_scope = 'mmpfcn'``; a name that is not registered here is
looked up in mmdet's registry and then in mmengine's, so every mmdet/mmengine
component stays reachable.
"""
from mmdet.registry import DATA_SAMPLERS as MMDET_DATA_SAMPLERS
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmdet.registry import EVALUATOR as MMDET_EVALUATOR
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import LOG_PROCESSORS as MMDET_LOG_PROCESSORS
from mmdet.registry import LOOPS as MMDET_LOOPS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import MODEL_WRAPPERS as MMDET_MODEL_WRAPPERS
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import (
    OPTIM_WRAPPER_CONSTRUCTORS as MMDET_OPTIM_WRAPPER_CONSTRUCTORS,
)
from mmdet.registry import OPTIM_WRAPPERS as MMDET_OPTIM_WRAPPERS
from mmdet.registry import OPTIMIZERS as MMDET_OPTIMIZERS
from mmdet.registry import PARAM_SCHEDULERS as MMDET_PARAM_SCHEDULERS
from mmdet.registry import RUNNER_CONSTRUCTORS as MMDET_RUNNER_CONSTRUCTORS
from mmdet.registry import RUNNERS as MMDET_RUNNERS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmdet.registry import VISBACKENDS as MMDET_VISBACKENDS
from mmdet.registry import VISUALIZERS as MMDET_VISUALIZERS
from mmdet.registry import WEIGHT_INITIALIZERS as MMDET_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

RUNNERS = Registry('runner', parent=MMDET_RUNNERS, scope='mmpfcn')
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', parent=MMDET_RUNNER_CONSTRUCTORS, scope='mmpfcn')
LOOPS = Registry('loop', parent=MMDET_LOOPS, scope='mmpfcn')
HOOKS = Registry('hook', parent=MMDET_HOOKS, scope='mmpfcn')
DATASETS = Registry(
    'dataset',
    parent=MMDET_DATASETS,
    scope='mmpfcn',
    locations=['mmpfcn.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMDET_DATA_SAMPLERS, scope='mmpfcn')
TRANSFORMS = Registry(
    'transform',
    parent=MMDET_TRANSFORMS,
    scope='mmpfcn',
    locations=['mmpfcn.datasets.transforms'])
MODELS = Registry(
    'model', parent=MMDET_MODELS, scope='mmpfcn', locations=['mmpfcn.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMDET_MODEL_WRAPPERS, scope='mmpfcn')
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMDET_WEIGHT_INITIALIZERS, scope='mmpfcn')
OPTIMIZERS = Registry('optimizer', parent=MMDET_OPTIMIZERS, scope='mmpfcn')
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMDET_OPTIM_WRAPPERS, scope='mmpfcn')
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMDET_OPTIM_WRAPPER_CONSTRUCTORS,
    scope='mmpfcn')
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMDET_PARAM_SCHEDULERS, scope='mmpfcn')
METRICS = Registry(
    'metric',
    parent=MMDET_METRICS,
    scope='mmpfcn',
    locations=['mmpfcn.evaluation.metrics'])
EVALUATOR = Registry('evaluator', parent=MMDET_EVALUATOR, scope='mmpfcn')
TASK_UTILS = Registry(
    'task util',
    parent=MMDET_TASK_UTILS,
    scope='mmpfcn',
    locations=['mmpfcn.models'])
VISUALIZERS = Registry(
    'visualizer',
    parent=MMDET_VISUALIZERS,
    scope='mmpfcn',
    locations=['mmpfcn.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMDET_VISBACKENDS, scope='mmpfcn')
LOG_PROCESSORS = Registry(
    'log_processor', parent=MMDET_LOG_PROCESSORS, scope='mmpfcn')
