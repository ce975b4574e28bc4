"""Run a callback when a module finishes importing, without importing it.

``import mmpfcn`` must register the safe checkpoint loaders with
mmengine (see :mod:`mmpfcn.utils.checkpoint`), but must not import torch
or mmengine itself: the PQ engine is also a stand-alone command that
starts in a fraction of a second. The registration therefore happens the
moment ``mmengine.runner.checkpoint`` is loaded (at once if it already is).
"""
import importlib.abc
import importlib.util
import sys
from typing import Callable


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """One-shot finder: lets the regular finders locate ``name`` and wraps
    its loader so that ``callback`` runs after the module is executed."""

    def __init__(self, name: str, callback: Callable[[], None]) -> None:
        self.name = name
        self.callback = callback

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or \
                not hasattr(spec.loader, 'exec_module'):
            return spec
        exec_module = spec.loader.exec_module
        callback = self.callback

        def exec_then_call(module) -> None:
            exec_module(module)
            callback()

        spec.loader.exec_module = exec_then_call
        return spec


def when_imported(name: str, callback: Callable[[], None]) -> None:
    """Call ``callback`` once ``name`` is imported (now if it already is).

    Args:
        name (str): Full module name, e.g. ``'mmengine.runner.checkpoint'``.
        callback (callable): Called without arguments.
    """
    if name in sys.modules:
        callback()
        return
    sys.meta_path.insert(0, _PostImportFinder(name, callback))
