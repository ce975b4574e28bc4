"""Dataloader workers that die with the training process.

A torch dataloader worker whose parent is killed (``kill -9``, the OOM
killer) notices it only between batches, and one with a full result queue
then blocks at exit joining its queue's feeder thread, which nobody reads:
it stays behind, holding its memory, forever. On Linux a forked child can
ask the kernel to kill it when its parent dies (``PR_SET_PDEATHSIG``).
"""
import os
import signal
import sys

from .malloc import _libc

PR_SET_PDEATHSIG = 1  # linux/prctl.h
_registered = False
_forking = {}  # pid of the process about to fork


def _die_with_parent() -> None:
    """In a just-forked child: be killed when its parent dies."""
    libc = _libc()
    if libc is None or libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        return
    if os.getppid() != _forking.get('parent'):
        os._exit(1)  # the parent died before the prctl


def exit_with_parent() -> bool:
    """Have every child this process forks from now on (the dataloader
    workers, with the ``fork`` start method that the configs set in
    ``env_cfg.mp_cfg``) killed when the process dies, however it dies.

    Forking must happen in the main thread: the kernel acts when the
    forking thread ends. Idempotent; a no-op off Linux.

    Returns:
        bool: Whether the rule is in place.
    """
    global _registered
    if not sys.platform.startswith('linux'):
        return False
    if not _registered:
        os.register_at_fork(
            before=lambda: _forking.update(parent=os.getpid()),
            after_in_child=_die_with_parent)
        _registered = True
    return True
