"""``tools/train.py --resume`` without a path: the newest checkpoint of the
work dir that loads, skipping (and naming) broken ones."""
import os
import os.path as osp
import re
from typing import Callable, List, Optional

from mmengine.runner.checkpoint import _load_checkpoint

from mmpfcn.utils.checkpoint import UntrustedCheckpointError

# the names CheckpointHook gives (filename_tmpl 'iter_{}.pth' / 'epoch_{}')
CHECKPOINT_NAME = re.compile(r'^(iter|epoch)_\d+\.pth$')


class NoCheckpointError(FileNotFoundError):
    """``--resume`` in a work dir that holds no checkpoint that loads."""


def resume_candidates(work_dir: str) -> List[str]:
    """Checkpoints to resume from, best first: the one ``last_checkpoint``
    names, then every ``iter_N.pth`` / ``epoch_N.pth`` of the work dir and
    of that checkpoint's folder, newest (modification time) first."""
    named = None
    record = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(record):
        with open(record) as f:
            named = f.read().strip() or None
    folders = {osp.abspath(work_dir)}
    if named:
        folders.add(osp.dirname(osp.abspath(named)))
    found = [
        osp.join(folder, name) for folder in sorted(folders)
        if osp.isdir(folder) for name in os.listdir(folder)
        if CHECKPOINT_NAME.match(name)
    ]
    found.sort(key=osp.getmtime, reverse=True)
    ordered = [named] if named else []
    ordered += [p for p in found if not named or
                osp.abspath(p) != osp.abspath(named)]
    return ordered


def find_resumable_checkpoint(
        work_dir: str,
        warn: Callable[[str], None] = print) -> str:
    """The first of :func:`resume_candidates` that loads.

    Args:
        work_dir (str): The training's work dir.
        warn (callable): Told, for every checkpoint skipped, its path and
            why it does not load.

    Returns:
        str: The checkpoint path.

    Raises:
        NoCheckpointError: Naming the work dir (and the broken checkpoints
            skipped) when none loads.
        UntrustedCheckpointError: A checkpoint that a weights-only load
            refuses (not skipped: a planted file is not an older state).
    """
    skipped = []
    for path in resume_candidates(work_dir):
        reason = _load_error(path)
        if reason is None:
            return path
        skipped.append(path)
        warn(f'--resume: skipping {path}: {reason}')
    detail = (f'; skipped: {", ".join(skipped)}' if skipped else
              ' (no last_checkpoint, no iter_*.pth or epoch_*.pth)')
    raise NoCheckpointError(
        f'--resume: no checkpoint to resume from in {work_dir!r}{detail}; '
        'run without --resume to train from scratch')


def _load_error(path: str) -> Optional[str]:
    """Why the checkpoint at ``path`` cannot be resumed from, or None."""
    if not osp.isfile(path):
        return 'file not found'
    try:
        checkpoint = _load_checkpoint(path, map_location='cpu')
    except UntrustedCheckpointError:
        raise
    except Exception as err:  # any failure means: do not resume from it
        # the first sentence: torch appends paragraphs of advice
        first = (str(err).strip().splitlines() or [''])[0].split('. ')[0]
        return f'does not load ({type(err).__name__}: {first[:200]})'
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        return 'holds no state_dict'
    return None
