"""The keys a config dict may hold, derived from the code that consumes it,
so that a typo (``optimizer.lrr``, ``randomness.sed``) is named with the
key it probably meant before anything is built.

Three sources, none a hand-written list of keys:

- a dict with a ``type``: the keyword arguments of the registered class
  (``__init__`` up the MRO while it passes ``**kwargs`` on, and where
  mmengine sends them: ``KWARGS_TARGETS``) or function, plus the keys
  the registry's build function pops (``_scope_``, a scheduler's
  ``convert_to_iter_based``);
- a dict the runner unpacks into a function (``randomness`` into
  ``Runner.set_randomness``, a dataloader into ``DataLoader``): that
  function's arguments;
- a dict the runner reads key by key (``env_cfg``, ``paramwise_cfg``, a
  dataset's ``filter_cfg``): the keys the consumer's source reads
  (``NAME.get('key'``, ``NAME['key']``, ``NAME.pop('key'``).

The model is not checked here: :func:`~mmpfcn.utils.config_check.
check_model_arguments` builds it, and :class:`PanopticFCN` checks its
``test_cfg`` / ``train_cfg`` when built, with :func:`unknown_key_errors`
too, so that a model built without the tools (``init_model``, a test) is
checked the same way.
"""
import difflib
import fnmatch
import functools
import inspect
import re
from typing import (
    Any,
    Callable,
    FrozenSet,
    Iterable,
    Iterator,
    List,
    Optional,
    Set,
    Tuple,
)

from mmengine.registry import Registry

# keys whose ``type`` picks a mode of the owner rather than a registered
# class (``OptimWrapper(clip_grad=dict(type='value', ...))``)
MODE_TYPE_KEYS = ('clip_grad', )
# config subtrees checked elsewhere (the model is built) or holding free
# data (class names, palettes)
UNCHECKED = ('model', 'tta_model.module', '*.metainfo')
_PARAMETER_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    inspect.Parameter.KEYWORD_ONLY)


class ConfigKeyError(ValueError):
    """A config key that cannot work: an unknown type or argument."""


def _kwargs_targets() -> dict:
    """Classes whose ``**kwargs`` go to a function rather than to their
    base class: ``CheckpointHook`` passes them to
    ``Runner.save_checkpoint``."""
    from mmengine.hooks import CheckpointHook
    from mmengine.runner import Runner
    return {CheckpointHook: Runner.save_checkpoint}


@functools.lru_cache(maxsize=None)
def keys_read(consumer: Any, name: str) -> FrozenSet[str]:
    """The string keys the source of ``consumer`` (a function, or every
    class of a class's MRO) reads from the dict called ``name``."""
    pattern = re.compile(
        rf"\b{re.escape(name)}(?:\.(?:get|pop|setdefault)\(|\[)\s*"
        r"['\"](\w+)['\"]")
    sources = []
    owners = consumer.__mro__ if inspect.isclass(consumer) else (consumer, )
    for owner in owners:
        try:
            sources.append(inspect.getsource(owner))
        except (OSError, TypeError):
            continue  # a builtin or C extension
    return frozenset(key for source in sources
                     for key in pattern.findall(source))


def _parameters(func: Callable) -> Optional[Tuple[Set[str], bool]]:
    """(named keyword parameters, takes ``**kwargs``) of ``func``; None
    if it has no signature."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    return ({p.name for p in params if p.kind in _PARAMETER_KINDS},
            any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params))


@functools.lru_cache(maxsize=None)
def accepted_arguments(obj: Any) -> Optional[FrozenSet[str]]:
    """The keyword arguments a class (its ``__init__`` up the MRO while it
    passes ``**kwargs`` on to a base class's) or a function takes; None
    when they cannot be known (``**kwargs`` that no base class or
    :func:`_kwargs_targets` entry takes, no signature)."""
    if not inspect.isclass(obj):
        found = _parameters(obj)
        if found is None or found[1]:
            return None
        return frozenset(found[0])
    names: Set[str] = set()
    targets = _kwargs_targets()
    passes_kwargs = False
    for cls in obj.__mro__:
        if cls is object:
            # **kwargs that no base class takes go somewhere else
            # (RandomChoiceResize's to its resize transform): unknown
            return None if passes_kwargs else frozenset(names)
        init = vars(cls).get('__init__')
        if init is None:
            continue
        found = _parameters(init)
        if found is None:
            return None
        names |= found[0]
        passes_kwargs = found[1]
        if not passes_kwargs:
            return frozenset(names)
        if cls in targets:
            target = accepted_arguments(targets[cls])
            return None if target is None else frozenset(names | target)
    return frozenset(names)


@functools.lru_cache(maxsize=None)
def _lookup(name: str, registries: Tuple[Registry, ...]
            ) -> Tuple[Tuple[Registry, Any], ...]:
    """``(registry, object)`` for every registry holding ``name``
    (``Registry.get`` is slow: looked up once per name)."""
    return tuple((registry, obj) for registry in registries
                 for obj in (registry.get(name), ) if obj is not None)


def _registered(name: Any, registries: Iterable[Registry]) -> List[Any]:
    """Every distinct object registered as ``name`` (a class itself is
    returned as is)."""
    if not isinstance(name, str):
        return [name]
    found = []
    for _, obj in _lookup(name, tuple(registries)):
        if all(obj is not seen for seen in found):
            found.append(obj)
    return found


def _build_keys(name: Any, registries: Iterable[Registry]) -> Set[str]:
    """Keys the build functions of the registries holding ``name`` pop
    before calling it (``type``, ``_scope_``, ``convert_to_iter_based``)."""
    keys = {'type', '_scope_'}
    if isinstance(name, str):
        for registry, _ in _lookup(name, tuple(registries)):
            if registry.build_func is not None:
                keys |= keys_read(registry.build_func, 'args')
    return keys


def _typed_keys(path: str, node: dict,
                registries: List[Registry]) -> Optional[Set[str]]:
    """Keys of a dict with a ``type``: its class's or function's arguments
    and what the builders around it pop (None: unknown)."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner import Runner
    objects = _registered(node['type'], registries)
    if not objects:
        return None  # an unknown type: find_unknown_types names it
    keys = _build_keys(node['type'], registries)
    for obj in objects:
        args = accepted_arguments(obj)
        if args is None:
            return None
        keys |= args
    if path == 'optim_wrapper':
        keys |= keys_read(build_optim_wrapper, 'optim_wrapper_cfg')
    if fnmatch.fnmatch(path, 'default_hooks.*') or fnmatch.fnmatch(
            path, 'custom_hooks.*'):
        keys |= keys_read(Runner.register_hook, 'hook')
    return keys


def _untyped_keys(path: str, node: dict, parent: Optional[dict],
                  registries: List[Registry]) -> Optional[Set[str]]:
    """Keys of a dict without a ``type`` that the runner consumes (None:
    not one of those)."""
    import torch
    from mmengine.dist import init_dist
    from mmengine.optim import DefaultOptimWrapperConstructor
    from mmengine.runner import Runner
    from mmengine.utils.dl_utils import set_multi_processing
    from torch.utils.data import DataLoader
    if path == 'env_cfg':
        return keys_read(Runner.setup_env, 'env_cfg')
    if path == 'env_cfg.mp_cfg':
        return accepted_arguments(set_multi_processing) - {'distributed'}
    if path == 'env_cfg.dist_cfg':
        # init_dist passes its **kwargs to torch's init_process_group
        return _parameters(init_dist)[0] | accepted_arguments(
            torch.distributed.init_process_group)
    if path == 'randomness':
        return accepted_arguments(Runner.set_randomness) - {'self'}
    if path == 'auto_scale_lr':
        return keys_read(Runner.scale_lr, 'auto_scale_lr')
    if path in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        return accepted_arguments(DataLoader) | keys_read(
            Runner.build_dataloader, 'dataloader_cfg')
    if path in ('train_cfg', 'val_cfg', 'test_cfg'):
        # without a type: by_epoch picks the train loop
        from mmengine.runner import (
            EpochBasedTrainLoop,
            IterBasedTrainLoop,
            TestLoop,
            ValLoop,
        )
        loop, builder = dict(
            val_cfg=(ValLoop, Runner.build_val_loop),
            test_cfg=(TestLoop, Runner.build_test_loop)).get(path) or (
                EpochBasedTrainLoop if node.get('by_epoch', True) else
                IterBasedTrainLoop, Runner.build_train_loop)
        return accepted_arguments(loop) | keys_read(builder, 'loop_cfg')
    if path == 'optim_wrapper.paramwise_cfg':
        constructor = (parent or {}).get('constructor')
        if constructor not in (None, 'DefaultOptimWrapperConstructor'):
            return None  # a custom constructor reads its own keys
        return keys_read(DefaultOptimWrapperConstructor, 'paramwise_cfg')
    if path == 'optim_wrapper.clip_grad':
        # OptimWrapper: type 'norm' (default) or 'value' picks the function
        clip = dict(norm=torch.nn.utils.clip_grad_norm_,
                    value=torch.nn.utils.clip_grad_value_).get(
                        node.get('type', 'norm'))
        return None if clip is None else \
            accepted_arguments(clip) - {'parameters'} | {'type'}
    if path.endswith('.filter_cfg') and parent and 'type' in parent:
        datasets = _registered(parent['type'], registries)
        return set().union(*(keys_read(d, 'filter_cfg') for d in datasets)) \
            if datasets else None
    return None


def _dicts(node: Any, path: str, parent: Optional[dict]
           ) -> Iterator[Tuple[str, dict, Optional[dict]]]:
    """Every dict under ``node`` with its dotted key and its parent dict,
    outside :data:`UNCHECKED`."""
    if any(fnmatch.fnmatch(path, pattern) for pattern in UNCHECKED):
        return
    if isinstance(node, dict):
        if path:
            yield path, node, parent
        for key, value in node.items():
            yield from _dicts(value, f'{path}.{key}' if path else key, node)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _dicts(value, f'{path}.{index}', parent)


def did_you_mean(key: str, accepted: Iterable[str]) -> str:
    """``"; did you mean 'lr'?"`` for the closest accepted key, or ''."""
    close = difflib.get_close_matches(key, sorted(accepted), n=1, cutoff=0.6)
    return f'; did you mean {close[0]!r}?' if close else ''


def unknown_key_errors(node: Optional[dict], accepted: Iterable[str],
                       owner: str, what: str = 'key',
                       path: Optional[str] = None) -> List[str]:
    """One message per key of ``node`` that ``accepted`` lacks, with the
    closest accepted key, e.g. ``"config key `optim_wrapper.optimizer.lrr`:
    SGD takes no argument 'lrr'; did you mean 'lr'?"``.

    Args:
        node (dict, optional): The dict whose keys are checked; None has
            none.
        accepted (Iterable[str]): The keys its consumer reads.
        owner (str): Who reads it, e.g. ``SGD`` or ```env_cfg```.
        what (str): What a key is to the owner, e.g. ``argument``.
        path (str, optional): The dotted config key of ``node``; without
            it the message starts with the owner.

    Returns:
        list[str]: The messages, in the order of ``node``.
    """
    accepted = frozenset(accepted)
    errors = []
    for key in node or {}:
        if isinstance(key, str) and key not in accepted:
            where = f'config key `{path}.{key}`: ' if path else ''
            errors.append(f'{where}{owner} takes no {what} {key!r}'
                          f'{did_you_mean(key, accepted)}')
    return errors


def find_unknown_keys(cfg_dict: dict, registries: List[Registry]
                      ) -> List[str]:
    """One message per key that nothing consumes, e.g. ``"config key
    `optim_wrapper.optimizer.lrr`: SGD takes no argument 'lrr'; did you
    mean 'lr'?"``.

    Args:
        cfg_dict (dict): A config as a plain dict (overrides merged).
        registries (list[Registry]): Where ``type`` names are looked up.

    Returns:
        list[str]: The messages, in config order.
    """
    errors = []
    for path, node, parent in _dicts(cfg_dict, '', None):
        last = path.split('.')[-1]
        typed = 'type' in node and last not in MODE_TYPE_KEYS
        if typed:
            accepted = _typed_keys(path, node, registries)
            owner = node['type'] if isinstance(node['type'], str) else \
                getattr(node['type'], '__name__', str(node['type']))
            owner, what = owner.split('.')[-1], 'argument'
        else:
            accepted = _untyped_keys(path, node, parent, registries)
            owner, what = f'`{path}`', 'key'
        if accepted is not None:
            errors += unknown_key_errors(node, accepted, owner, what, path)
    return errors
