"""Checkpoint loading that works with mmengine 0.10.7 on torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7
checkpoints hold more than tensors (``message_hub`` history buffers, numpy
scalars, the config), so ``resume`` and ``tools/test.py`` fail with an
``UnpicklingError``. mmpfcn re-registers mmengine's loaders for local files,
``open-mmlab://`` names and URLs with an explicit ``weights_only=False``: a
checkpoint is a trusted file the user points the runner at, exactly as in
torch < 2.6.
"""
import os.path as osp

import torch
from mmengine.runner.checkpoint import (
    CheckpointLoader,
    _get_mmengine_home,
    get_deprecated_model_names,
    get_external_models,
)


def load_trusted_checkpoint(filename: str, map_location=None) -> dict:
    """``torch.load`` a local checkpoint file with ``weights_only=False``."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


def load_trusted_url(url: str, map_location=None) -> dict:
    """Download (once, into torch's hub cache) and load a checkpoint URL."""
    return torch.hub.load_state_dict_from_url(
        url, map_location=map_location, weights_only=False)


def load_trusted_openmmlab(filename: str, map_location=None) -> dict:
    """Resolve an ``open-mmlab://NAME`` alias the way mmengine does."""
    prefix = 'open-mmlab://' if filename.startswith('open-mmlab://') \
        else 'openmmlab://'
    name = filename[len(prefix):]
    name = get_deprecated_model_names().get(name, name)
    model_url = get_external_models()[name]
    if model_url.startswith(('http://', 'https://')):
        return load_trusted_url(model_url, map_location)
    return load_trusted_checkpoint(
        osp.join(_get_mmengine_home(), model_url), map_location)


def register_trusted_checkpoint_loaders() -> None:
    """Override mmengine's local / URL / open-mmlab loaders (idempotent)."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_trusted_checkpoint, force=True)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), loader=load_trusted_url, force=True)
    CheckpointLoader.register_scheme(
        prefixes=('open-mmlab://', 'openmmlab://'),
        loader=load_trusted_openmmlab,
        force=True)


# importing this module (``import mmpfcn`` arranges it as soon as mmengine's
# checkpoint module is loaded) registers the loaders
register_trusted_checkpoint_loaders()
