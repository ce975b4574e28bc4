"""The versions of mmcv, mmengine and mmdet mmpfcn works with, checked when
``mmpfcn`` is imported (as mmdet checks mmcv and mmengine).

The installed versions are read from the packages' metadata, so the check
imports none of them: ``import mmpfcn`` stays free of torch and the
OpenMMLab stack (the stand-alone PQ engine relies on that). A package that
is not installed is not checked; importing the parts of mmpfcn that need it
then fails with Python's own ``ModuleNotFoundError``.
"""
from importlib import metadata
from typing import Callable, Dict, List, Tuple

#: distribution name -> (lowest version, first version too new); the same
#: ranges as requirements/mminstall.txt (a test compares them)
REQUIRED_VERSIONS: Dict[str, Tuple[str, str]] = {
    'mmcv': ('2.0.0rc4', '2.2.0'),
    'mmengine': ('0.10.0', '1.0.0'),
    'mmdet': ('3.3.0', '3.4.0'),
}


def incompatible_versions(
        version_of: Callable[[str], str] = None) -> List[str]:
    """Describe every installed package of :data:`REQUIRED_VERSIONS` whose
    version is outside its range.

    Args:
        version_of (callable, optional): Distribution name -> installed
            version; raises ``metadata.PackageNotFoundError`` for a package
            that is not installed. Defaults to
            ``importlib.metadata.version``.

    Returns:
        list[str]: One ``'mmcv==2.2.0 (needs mmcv>=2.0.0rc4,<2.2.0)'`` per
        incompatible package; empty when all fit (or ``packaging``, which
        mmcv requires, is missing and nothing can be compared).
    """
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:
        return []
    version_of = version_of or metadata.version
    problems = []
    for name, (lowest, too_new) in REQUIRED_VERSIONS.items():
        try:
            found = version_of(name)
        except metadata.PackageNotFoundError:
            continue
        try:
            fits = Version(lowest) <= Version(found) < Version(too_new)
        except InvalidVersion:
            fits = False
        if not fits:
            problems.append(f'{name}=={found} (needs {name}>={lowest},'
                            f'<{too_new})')
    return problems


def check_dependencies(version_of: Callable[[str], str] = None) -> None:
    """Raise if an installed mmcv, mmengine or mmdet is outside its range.

    Args:
        version_of (callable, optional): As in
            :func:`incompatible_versions`.

    Raises:
        ImportError: Naming each incompatible package, its version and the
            range to install.
    """
    problems = incompatible_versions(version_of)
    if problems:
        wanted = ' '.join(f'"{name}>={low},<{high}"'
                          for name, (low, high) in REQUIRED_VERSIONS.items())
        raise ImportError(
            'mmpfcn is incompatible with the installed '
            f'{", ".join(problems)}. Install versions in range, e.g. pip '
            f'install {wanted} (mmcv with its compiled ops: see '
            'docs/get_started.md).')
