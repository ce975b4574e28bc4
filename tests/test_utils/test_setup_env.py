"""The mmpfcn registries are children of mmdet's and reach every component."""
from mmengine import DefaultScope
from mmengine.registry import MODELS as MMENGINE_MODELS

import mmpfcn
from mmpfcn import registry
from mmpfcn.utils import register_all_modules


def test_version_is_exposed():
    assert isinstance(mmpfcn.__version__, str)
    assert mmpfcn.version_info[:2] == tuple(
        int(p) for p in mmpfcn.__version__.split('.')[:2])


def test_registries_are_children_of_mmdet():
    from mmdet import registry as mmdet_registry
    for name in ('MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'TASK_UTILS',
                 'VISUALIZERS', 'HOOKS', 'OPTIM_WRAPPERS'):
        ours = getattr(registry, name)
        assert ours.scope == 'mmpfcn', name
        assert ours.parent is getattr(mmdet_registry, name), name
    assert registry.MODELS.parent.parent is MMENGINE_MODELS


def test_default_scope_builds_mmdet_and_mmengine_components():
    register_all_modules(init_default_scope=True)
    assert DefaultScope.get_current_instance().scope_name == 'mmpfcn'
    # an mmdet model and an mmdet transform, looked up through our scope
    resnet = registry.MODELS.build(dict(type='ResNet', depth=18))
    assert type(resnet).__module__.startswith('mmdet.')
    flip = registry.TRANSFORMS.build(dict(type='RandomFlip', prob=0.5))
    assert type(flip).__name__ == 'RandomFlip'
    # an mmengine optimizer wrapper
    assert registry.OPTIM_WRAPPERS.get('OptimWrapper') is not None
