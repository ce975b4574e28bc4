"""Import a script of ``tools/`` (or a package folder beside it) by its
path: the tools are scripts, not a package, and a tool that reuses a
sibling (``gpu_check.py`` and ``benchmark.py``) or a test that calls a
tool's functions imports it this way instead of editing ``sys.path``."""
import importlib.util
import os.path as osp
import sys
from types import ModuleType


def import_script(path: str, name: str) -> ModuleType:
    """Import the file ``path`` (or the package folder ``path``, whose
    submodules then import as ``name.<module>``) as the module ``name``.

    The module is registered in ``sys.modules`` under ``name`` before it
    runs, so that pickle finds its functions (multiprocessing) and other
    modules can ``import name``.

    Args:
        path (str): A ``.py`` file, or a folder with an ``__init__.py``.
        name (str): The module name to register.

    Returns:
        ModuleType: The executed module.

    Raises:
        ImportError: ``path`` is neither a Python file nor a package
            folder.
    """
    if osp.isdir(path):
        spec = importlib.util.spec_from_file_location(
            name, osp.join(path, '__init__.py'),
            submodule_search_locations=[path])
    else:
        spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None or not osp.exists(spec.origin):
        raise ImportError(f'import_script: {path} is neither a Python file '
                          'nor a folder with an __init__.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
