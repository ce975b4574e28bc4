"""Checkpoint loading that runs no code: weights-only, plus the few data
classes that mmengine's checkpoints hold.

A checkpoint is a pickle, and a pickle can name any function to call when
it is loaded (``os.system``, ...). torch >= 2.6 loads with
``weights_only=True`` by default, which only rebuilds tensors and plain
containers; mmengine 0.10.7's checkpoints also hold the message hub's
``HistoryBuffer`` objects (numpy arrays and scalars, and their statistics
methods referred to as ``getattr(HistoryBuffer, 'mean')``), so mmengine's
own loaders cannot resume or test them. mmpfcn re-registers mmengine's
loaders for local files, ``http(s)://`` and ``open-mmlab://`` with a
weights-only load that additionally allows exactly those
(:data:`SAFE_GLOBALS`; ``getattr`` only for the statistics methods), for the
duration of the load only: other ``torch.load`` calls in the process see
torch's allowlist unchanged. Every path goes through them: ``tools/test.py
CKPT``, :func:`~mmpfcn.apis.init_model`, ``--resume``, ``load_from``, a
``Pretrained`` ``init_cfg`` and mmdet's ``init_detector`` alike.

Anything else a checkpoint names is refused with
:class:`UntrustedCheckpointError`, naming the file and the global. A file
the user trusts that needs more loads with full pickle only on an explicit
opt-in: the environment variable ``MMPFCN_TRUST_CHECKPOINTS=1`` (the tools'
``--trust-checkpoint`` sets it).
"""
import codecs
import importlib
import os
import os.path as osp
import pickle
import re
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Tuple, Union
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import (
    CheckpointLoader,
    _get_mmengine_home,
    get_deprecated_model_names,
    get_external_models,
)

#: the opt-in for trusted checkpoints that a weights-only load refuses
TRUST_ENV = 'MMPFCN_TRUST_CHECKPOINTS'
TRUE_VALUES = ('1', 'true', 'yes', 'on')
FALSE_VALUES = ('', '0', 'false', 'no', 'off')
# how the opt-in is named in errors
OPT_IN = (f'if you trust the file, set {TRUST_ENV}=1 (or pass '
          '--trust-checkpoint to the tools) to load it with full pickle, '
          'which runs any code it holds')
# the statistics methods HistoryBuffer registers by default
HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')
# the first bytes of torch.save's zip archives and legacy (pickle) files
TORCH_FILE_STARTS = (b'PK\x03\x04', b'\x80')
# the global a refusal of torch's weights-only unpickler names
_REFUSED_GLOBAL = re.compile(r'GLOBAL (\S+)')
_UNPICKLER_ERROR = re.compile(r'WeightsUnpickler error:\s*(.+)', re.S)


class CheckpointLoadError(ValueError):
    """A checkpoint file that cannot be loaded: corrupt, truncated, not a
    checkpoint, or refused (:class:`UntrustedCheckpointError`)."""


class UntrustedCheckpointError(CheckpointLoadError):
    """A checkpoint that names code or classes a weights-only load does not
    allow (it would run them when loaded)."""


def checkpoints_trusted() -> bool:
    """Whether the user opted in to full-pickle loading
    (``MMPFCN_TRUST_CHECKPOINTS``).

    Raises:
        ValueError: The variable holds neither a yes nor a no value.
    """
    value = os.environ.get(TRUST_ENV, '').strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ValueError(f'environment variable {TRUST_ENV}={value!r}: expected '
                     f'1 (trust every checkpoint) or 0')


def trust_checkpoints() -> None:
    """Opt in to full-pickle loading for this process and its children
    (what the tools' ``--trust-checkpoint`` does)."""
    os.environ[TRUST_ENV] = '1'


def history_buffer_method(owner: Any, name: str) -> Callable:
    """``getattr`` as a checkpoint may call it: only a statistics method of
    ``HistoryBuffer`` (how pickle refers to ``HistoryBuffer.mean``).

    Raises:
        pickle.UnpicklingError: Any other attribute of any other object.
    """
    allowed = set(HISTORY_BUFFER_METHODS) | set(
        HistoryBuffer._statistics_methods)
    if owner is HistoryBuffer and name in allowed:
        return getattr(owner, name)
    owner_name = getattr(owner, '__qualname__', type(owner).__qualname__)
    raise pickle.UnpicklingError(
        f'Unsupported global: GLOBAL getattr:{owner_name}.{name} (only '
        'HistoryBuffer statistics methods are allowed)')


def _numpy_multiarray():
    """numpy's ``multiarray`` module (``numpy._core`` from numpy 2 on,
    ``numpy.core`` before, without numpy 2's deprecation warning)."""
    if np.lib.NumpyVersion(np.__version__) >= '2.0.0':
        return importlib.import_module('numpy._core.multiarray')
    return importlib.import_module('numpy.core.multiarray')


def _numpy_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """numpy's array / scalar / dtype reconstruction, under the names of
    numpy 1 (``numpy.core``) and numpy 2 (``numpy._core``) pickles."""
    core = _numpy_multiarray()
    found: List[Union[Callable, Tuple[Callable, str]]] = [np.ndarray,
                                                          np.dtype]
    for func in (core._reconstruct, core.scalar):
        for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
            found.append((func, f'{module}.{func.__name__}'))
    # the dtype classes (numpy >= 1.25: numpy.dtypes.Float64DType, ...)
    dtypes = getattr(np, 'dtypes', None)
    for name in dir(dtypes) if dtypes is not None else ():
        cls = getattr(dtypes, name)
        if isinstance(cls, type) and issubclass(cls, np.dtype):
            found.append((cls, f'numpy.dtypes.{name}'))
    return found


def safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """What a weights-only load of an mmengine checkpoint allows besides
    torch's default: ``HistoryBuffer``, numpy arrays / scalars / dtypes and
    :func:`history_buffer_method` as ``getattr``. None of them runs code
    named by the file."""
    return [HistoryBuffer, (history_buffer_method, 'builtins.getattr')
            ] + _numpy_globals()


@contextmanager
def allow_checkpoint_globals() -> Iterator[None]:
    """:func:`safe_globals` allowed within the ``with`` block only (those
    the user had allowed before stay allowed after)."""
    before = torch.serialization.get_safe_globals()
    added = [g for g in safe_globals() if g not in before]
    torch.serialization.add_safe_globals(added)
    try:
        yield
    finally:
        now = torch.serialization.get_safe_globals()
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(
            [g for g in now if g not in added])


def _refusal(filename: str, err: Exception) -> CheckpointLoadError:
    """The error of a weights-only load that failed with ``err``."""
    text = str(err)
    match = _REFUSED_GLOBAL.search(text)
    if match:
        return UntrustedCheckpointError(
            f'checkpoint {filename!r} refused: it names the global '
            f'{match[1]}, which a weights-only load does not allow (a '
            f'pickle can run code when loaded); {OPT_IN}')
    detail = _UNPICKLER_ERROR.search(text)
    reason = (detail[1] if detail else text).strip().splitlines()[0]
    return CheckpointLoadError(
        f'checkpoint {filename!r} is not a checkpoint a weights-only load '
        f'can read ({reason}): corrupt, not saved by torch, or holding '
        f'objects only full pickle restores; {OPT_IN}')


def safe_torch_load(filename: str, map_location=None) -> Any:
    """``torch.load`` a local file weights-only with :func:`safe_globals`
    (full pickle if :func:`checkpoints_trusted`).

    Args:
        filename (str): A local file.
        map_location: As :func:`torch.load`.

    Returns:
        The loaded object (an mmengine checkpoint is a dict with
        ``state_dict``, ``meta``, ...).

    Raises:
        UntrustedCheckpointError: The file names a global outside the
            allowlist (named in the message, with the opt-in).
        CheckpointLoadError: The file is truncated, corrupt or not a
            checkpoint (not starting as a zip archive or a pickle).
    """
    with open(filename, 'rb') as f:
        head = f.read(4)
    if not head:
        raise CheckpointLoadError(f'checkpoint {filename!r} is empty (0 '
                                  'bytes)')
    if not head.startswith(TORCH_FILE_STARTS):
        raise CheckpointLoadError(
            f'{filename!r} is not a checkpoint (neither a torch zip archive '
            f'nor a pickle: it starts with {head!r})')
    if checkpoints_trusted():
        return torch.load(filename, map_location=map_location,
                          weights_only=False)
    try:
        with allow_checkpoint_globals():
            return torch.load(filename, map_location=map_location,
                              weights_only=True)
    except pickle.UnpicklingError as err:
        raise _refusal(filename, err) from None
    except (EOFError, RuntimeError) as err:
        text = str(err)
        if isinstance(err, RuntimeError) and 'PytorchStreamReader' not in \
                text and 'zip archive' not in text:
            raise  # not about the file (e.g. a CUDA map_location)
        first = (text.strip().splitlines() or ['empty file'])[0]
        raise CheckpointLoadError(
            f'checkpoint {filename!r} is truncated or corrupt '
            f'({first.split(". ")[0]})') from None


def load_checkpoint_file(filename: str, map_location=None) -> Any:
    """mmengine's loader of local checkpoint files, made safe (see
    :func:`safe_torch_load`).

    Raises:
        FileNotFoundError: Naming the file.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} can not be found.')
    return safe_torch_load(filename, map_location)


def download_checkpoint(url: str) -> str:
    """The local copy of a checkpoint URL, downloaded once into torch's hub
    cache (``$TORCH_HOME/hub/checkpoints``); in a distributed run rank 0
    downloads first."""
    model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))

    def fetch() -> None:
        if not osp.exists(cached):
            os.makedirs(model_dir, exist_ok=True)
            print(f'Downloading: "{url}" to {cached}', flush=True)
            torch.hub.download_url_to_file(url, cached, progress=False)

    rank, world_size = get_dist_info()
    if rank == 0:
        fetch()
    if world_size > 1:
        torch.distributed.barrier()
        fetch()  # nothing to do unless rank 0 failed
    return cached


def load_checkpoint_url(url: str, map_location=None) -> Any:
    """mmengine's ``http(s)://`` loader, made safe: download, then
    :func:`load_checkpoint_file`."""
    return load_checkpoint_file(download_checkpoint(url), map_location)


def load_checkpoint_openmmlab(filename: str, map_location=None) -> Any:
    """Resolve an ``open-mmlab://NAME`` alias the way mmengine does, then
    load it safely."""
    prefix = 'open-mmlab://' if filename.startswith('open-mmlab://') \
        else 'openmmlab://'
    name = filename[len(prefix):]
    name = get_deprecated_model_names().get(name, name)
    model_url = get_external_models()[name]
    if model_url.startswith(('http://', 'https://')):
        return load_checkpoint_url(model_url, map_location)
    return load_checkpoint_file(
        osp.join(_get_mmengine_home(), model_url), map_location)


class NumpyUnpickler(pickle.Unpickler):
    """A pickle reader that restores plain containers and numpy arrays /
    scalars / dtypes only (detectron2's ``.pkl`` checkpoints: a dict of
    numpy arrays); any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = {'collections.OrderedDict': OrderedDict,
                   '_codecs.encode': codecs.encode}
        for item in _numpy_globals():
            obj, path = item if isinstance(item, tuple) else (
                item, f'numpy.{item.__name__}')
            allowed[path] = obj
        path = f'{module}.{name}'
        if path not in allowed:
            raise pickle.UnpicklingError(
                f'Unsupported global: GLOBAL {path} (only numpy arrays are '
                'allowed)')
        return allowed[path]


def safe_pickle_load(filename: str) -> Any:
    """Read a plain pickle checkpoint (detectron2's ``.pkl``) with
    :class:`NumpyUnpickler` (full pickle if :func:`checkpoints_trusted`);
    strings of Python 2 pickles are decoded as latin-1.

    Raises:
        FileNotFoundError: Naming the file.
        UntrustedCheckpointError: The file names a global other than
            numpy's (named in the message, with the opt-in).
        CheckpointLoadError: The file is truncated or not a pickle.
    """
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} can not be found.')
    with open(filename, 'rb') as f:
        unpickler = pickle.Unpickler if checkpoints_trusted() else \
            NumpyUnpickler
        try:
            return unpickler(f, encoding='latin1').load()
        except (pickle.UnpicklingError, EOFError, ValueError,
                IndexError, KeyError) as err:
            if _REFUSED_GLOBAL.search(str(err)):
                raise _refusal(filename, err) from None
            first = (str(err).strip().splitlines() or ['no data'])[0]
            raise CheckpointLoadError(
                f'checkpoint {filename!r} is truncated or not a pickle '
                f'({type(err).__name__}: {first[:200]})') from None


def register_checkpoint_loaders() -> None:
    """Replace mmengine's local / URL / open-mmlab loaders by the safe ones
    (idempotent). mmengine's other schemes (``torchvision://``, ...) keep
    torch's plain weights-only load."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_checkpoint_file, force=True)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), loader=load_checkpoint_url,
        force=True)
    CheckpointLoader.register_scheme(
        prefixes=('open-mmlab://', 'openmmlab://'),
        loader=load_checkpoint_openmmlab,
        force=True)


# importing this module (``import mmpfcn`` arranges it as soon as mmengine's
# checkpoint module is loaded) registers the loaders
register_checkpoint_loaders()
