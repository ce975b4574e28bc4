"""Config typos caught before the runner starts, named by their key.

Three checks run in ``tools/train.py`` / ``tools/test.py`` right after the
command-line overrides are merged, before any process group, dataset or
checkpoint is touched:

- every ``type`` name in the config must be registered (in mmpfcn's, mmdet's
  or mmengine's registries), e.g. ``model.backbone.type='ResNett'`` fails
  with that key; a type that mmpfcn no longer has (:data:`REPLACED_TYPES`)
  with what to write instead;
- every key of the dicts the runner consumes must be taken by what
  consumes it (:mod:`mmpfcn.utils.config_keys`: derived from the classes'
  and functions' signatures and sources), e.g. ``optimizer.lrr`` fails
  with ``did you mean 'lr'?``;
- the model is built once on the CPU; an argument its class does not take
  (``--cfg-options model.nonexistent=1``) fails with the key that holds it,
  and a key of its ``test_cfg`` that no component reads with the key meant
  (the detector checks it when built, with the same message).
"""
import re
from typing import Any, Iterator, List, Tuple

from mmengine.config import Config
from mmengine.registry import DefaultScope, Registry

from .config_keys import (
    MODE_TYPE_KEYS,
    ConfigKeyError,
    _registered,
    accepted_arguments,
    did_you_mean,
    find_unknown_keys,
)

#: Types that mmpfcn registered before, and what a config lists instead.
REPLACED_TYPES = {
    'PanopticFCNMetric':
    'the metric is now three; list them instead, each with the same '
    "ann_file and seg_prefix: [dict(type='PanopticQualityMetric', ...), "
    "dict(type='PanopticMaskAPMetric', ...), dict(type='SemanticIoUMetric'"
    ', ...)] (as configs/_base_/datasets/coco_panoptic.py does; '
    'format_only, outfile_prefix, nproc and engine are '
    "PanopticQualityMetric's, ap_engine is PanopticMaskAPMetric's engine)",
}

# "KernelGenerator.__init__() got an unexpected keyword argument 'foo'"
_UNEXPECTED_ARG = re.compile(r"(?:(?P<cls>\w+)\.__init__\(\) )?got an "
                             r"unexpected keyword argument '(?P<arg>\w+)'")


def _all_registries() -> List[Registry]:
    """mmpfcn's registries and their mmdet / mmengine ancestors' roots."""
    import mmdet.registry
    import mmengine.registry

    import mmpfcn.registry
    registries = []
    for module in (mmpfcn.registry, mmdet.registry, mmengine.registry):
        for value in vars(module).values():
            if isinstance(value, Registry) and all(
                    value is not seen for seen in registries):
                registries.append(value)
    return registries


def _typed_dicts(node: Any, path: str) -> Iterator[Tuple[str, dict]]:
    """Every dict with a ``type`` key under ``node``, with its dotted key."""
    if isinstance(node, dict):
        if 'type' in node:
            yield path, node
        for key, value in node.items():
            yield from _typed_dicts(value, f'{path}.{key}' if path else key)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _typed_dicts(value, f'{path}.{index}')


def find_unknown_types(cfg: Config) -> List[str]:
    """Keys whose ``type`` names no registered class.

    Args:
        cfg (Config): A loaded config (overrides merged).

    Returns:
        list[str]: One message per unknown type, e.g.
        ``"config key `model.backbone.type`: 'ResNett' is not a
        registered type ..."``.
    """
    registries = _all_registries()
    errors = []
    for path, node in _typed_dicts(cfg.to_dict(), ''):
        name = node['type']
        if not isinstance(name, str) or path.split('.')[-1] in MODE_TYPE_KEYS:
            continue  # a class object, or a mode name
        if name in REPLACED_TYPES:
            errors.append(f'config key `{path}.type`: {name!r}: '
                          f'{REPLACED_TYPES[name]}')
        elif all(registry.get(name) is None for registry in registries):
            errors.append(f'config key `{path}.type`: {name!r} is not a '
                          'registered type (misspelt, or its module is not '
                          'imported: see `custom_imports`)')
    return errors


def _keys_holding(node: Any, arg: str, cls: str, path: str) -> List[str]:
    """Dotted keys of ``arg`` in the dicts under ``node`` of type ``cls``
    (or in any dict, when ``cls`` is empty)."""
    found = []
    if isinstance(node, dict):
        type_name = str(node.get('type', '')).split('.')[-1]
        if arg in node and (not cls or type_name == cls):
            found.append(f'{path}.{arg}')
        for key, value in node.items():
            found += _keys_holding(value, arg, cls, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            found += _keys_holding(value, arg, cls, f'{path}.{index}')
    return found


def _child_taking(model_cfg: dict, key: str, arg: str) -> str:
    """``"; it is an argument of `model.head.gen` now"`` when a typed dict
    directly under the one holding ``key`` (``model.a.b.arg``) takes
    ``arg``, e.g. an option that moved into a sub-module's config; else
    ''."""
    node = model_cfg
    parts = key.split('.')[1:-1]
    for part in parts:
        node = node[int(part)] if isinstance(node, (list, tuple)) \
            else node[part]
    for child, value in node.items():
        if isinstance(value, dict) and isinstance(value.get('type'), str):
            for obj in _registered(value['type'], _all_registries()):
                if arg in (accepted_arguments(obj) or ()):
                    where = '.'.join(key.split('.')[:-1] + [child, arg])
                    return f'; it is an argument of {value["type"]} now: ' \
                           f'set `{where}`'
    return ''


def check_model_arguments(cfg: Config) -> None:
    """Build ``cfg.model`` once on the CPU and name the key of an argument
    that its class does not take.

    Args:
        cfg (Config): A loaded config with ``model`` and ``default_scope``.

    Raises:
        ConfigKeyError: For an unexpected keyword argument found in the
            config, e.g. ``model.nonexistent``; other build errors
            propagate unchanged.
    """
    from mmpfcn.registry import MODELS
    scope = cfg.get('default_scope', 'mmpfcn')
    model_cfg = cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') \
        else dict(cfg.model)
    try:
        with DefaultScope.overwrite_default_scope(scope):
            MODELS.build(model_cfg)
    except TypeError as error:
        match = _UNEXPECTED_ARG.search(str(error))
        if match is None:
            raise
        arg, cls = match['arg'], match['cls'] or ''
        keys = _keys_holding(model_cfg, arg, cls, 'model') or \
            _keys_holding(model_cfg, arg, '', 'model')
        if not keys:
            raise
        accepted = set()
        for obj in _registered(cls, _all_registries()) if cls else ():
            accepted |= accepted_arguments(obj) or set()
        hint = did_you_mean(arg, accepted) or \
            _child_taking(model_cfg, keys[0], arg) or \
            ' (a typo, or an option of another class?)'
        raise ConfigKeyError(
            f'config key `{keys[0]}`: {cls or "the model"} takes no argument '
            f'{arg!r}{hint}') from error


def check_config(cfg: Config, build_model: bool = True) -> None:
    """Unknown type names anywhere and unknown keys outside the model, then
    (optionally) unknown model arguments; all before any data is read.

    Args:
        cfg (Config): A loaded config (overrides merged).
        build_model (bool): Also run :func:`check_model_arguments`.
            Defaults to True.

    Raises:
        ConfigKeyError: Naming every unknown type's key and every unknown
            key (with the accepted key it is closest to), or the key of an
            unknown model argument.
    """
    errors = find_unknown_types(cfg)
    errors += find_unknown_keys(cfg.to_dict(), _all_registries())
    if errors:
        raise ConfigKeyError('; '.join(errors))
    if build_model and 'model' in cfg:
        check_model_arguments(cfg)
