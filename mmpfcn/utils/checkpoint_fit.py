"""Whether a checkpoint's weights fit a model: the missing, unexpected and
wrongly shaped keys, listed. One check for :func:`~mmpfcn.apis.init_model`
and ``tools/test.py`` (:class:`~mmpfcn.engine.CheckpointFitHook`)."""
from typing import Dict, List, Mapping

import torch

# how many key names an error lists before summarising
MAX_KEYS_LISTED = 30


class CheckpointMismatchError(ValueError):
    """A checkpoint whose parameters do not fit the model of the config."""


def _list_keys(keys: List[str]) -> str:
    shown = ', '.join(keys[:MAX_KEYS_LISTED])
    more = len(keys) - MAX_KEYS_LISTED
    return shown + (f', ... ({more} more)' if more > 0 else '')


def model_state_of(checkpoint: Mapping) -> Dict[str, torch.Tensor]:
    """The state dict of a loaded checkpoint (``state_dict``, or the whole
    mapping), without DataParallel's ``module.`` prefix."""
    state = checkpoint.get('state_dict', checkpoint)
    return {(k[len('module.'):] if k.startswith('module.') else k): v
            for k, v in state.items()}


def checkpoint_mismatches(model: torch.nn.Module,
                          state: Mapping[str, torch.Tensor]) -> Dict[str,
                                                                     List]:
    """The keys of ``state`` that do not fit ``model``.

    Args:
        model (nn.Module): The built model.
        state (Mapping[str, Tensor]): A state dict (see
            :func:`model_state_of`).

    Returns:
        dict[str, list[str]]: ``missing`` (the model's keys ``state``
        lacks, BN's ``num_batches_tracked`` ignored), ``unexpected`` (keys
        the model lacks) and ``shapes`` (``'KEY (shape) in checkpoint vs
        (shape)'``), each sorted.
    """
    own = model.state_dict()
    return dict(
        missing=sorted(k for k in own if k not in state
                       and not k.endswith('num_batches_tracked')),
        unexpected=sorted(k for k in state if k not in own),
        shapes=sorted(
            f'{k} {tuple(v.shape)} in checkpoint vs {tuple(own[k].shape)}'
            for k, v in state.items()
            if k in own and hasattr(v, 'shape') and v.shape != own[k].shape))


def mismatch_message(checkpoint: str, mismatches: Dict[str, List]) -> str:
    """The error text of :func:`checkpoint_mismatches` ('' if it fits)."""
    problems = []
    for key, what in (('missing', 'missing keys'),
                      ('unexpected', 'unexpected keys'),
                      ('shapes', 'shape mismatches')):
        if mismatches[key]:
            problems.append(f'{what} ({len(mismatches[key])}): '
                            f'{_list_keys(mismatches[key])}')
    if not problems:
        return ''
    return (f'checkpoint {checkpoint!r} does not fit the model of the '
            'config:\n  ' + '\n  '.join(problems))


def check_checkpoint_fits(model: torch.nn.Module, checkpoint: str,
                          state: Mapping[str, torch.Tensor]) -> None:
    """Raise unless every key of ``state`` fits ``model`` and none is
    missing.

    Raises:
        CheckpointMismatchError: Listing the missing and unexpected keys
            and the keys whose shapes differ.
    """
    message = mismatch_message(checkpoint,
                               checkpoint_mismatches(model, state))
    if message:
        raise CheckpointMismatchError(message)
