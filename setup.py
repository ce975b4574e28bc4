"""Install mmpfcn: ``pip install -e .`` or ``pip install .`` after torch and
mmcv (docs/get_started.md).

As mmdet's ``setup.py`` does, ``configs/``, ``tools/``, ``demo/`` and
``model-index.yml`` are placed in the package as ``mmpfcn/.mim/`` -- links
for an editable install, copies for a wheel or sdist -- so that OpenMMLab's
``mim`` and ``PanopticFCNInferencer(model=NAME)`` find them once installed.
"""
import os
import os.path as osp
import re
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))
# what mim looks for in <package>/.mim
MIM_FILES = ('configs', 'tools', 'demo', 'model-index.yml')
# the extras of requirements/optional.txt by what they enable
OPTIONAL_EXTRAS = {
    'onnx': ('onnx', 'onnxruntime'),
    'cityscapes': ('cityscapesscripts', ),
    'tensorboard': ('tensorboard', ),
}


def get_version() -> str:
    with open(osp.join(HERE, 'mmpfcn', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def parse_requirements(fname: str) -> list:
    """Requirement lines of ``requirements/FNAME`` (comments dropped)."""
    reqs = []
    with open(osp.join(HERE, 'requirements', fname)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-'):
                reqs.append(line)
    return reqs


def requirement_name(req: str) -> str:
    """``'onnx>=1.14'`` -> ``'onnx'``."""
    return re.split(r'[<>=!~;\[ ]', req, maxsplit=1)[0].lower()


def optional_extras() -> dict:
    """The extras of :data:`OPTIONAL_EXTRAS`, with the version ranges of
    ``requirements/optional.txt``, plus ``optional`` (all of it)."""
    optional = parse_requirements('optional.txt')
    by_name = {requirement_name(req): req for req in optional}
    extras = {}
    for extra, names in OPTIONAL_EXTRAS.items():
        missing = [name for name in names if name not in by_name]
        if missing:
            raise ValueError(f'setup.py: extra {extra!r} needs {missing} '
                             'in requirements/optional.txt')
        extras[extra] = [by_name[name] for name in names]
    extras['optional'] = optional
    return extras


def mim_install_mode(argv: list) -> str:
    """``'symlink'`` for an editable install, ``'copy'`` for a wheel or an
    sdist, ``''`` for any other setup.py command (nothing to place)."""
    if 'develop' in argv or 'editable_wheel' in argv:
        return 'symlink'
    if 'sdist' in argv or 'bdist_wheel' in argv:
        return 'copy'
    return ''


def add_mim_extension(mode: str) -> None:
    """Place :data:`MIM_FILES` in ``mmpfcn/.mim/`` (as mmdet's
    ``add_mim_extension``): relative symlinks, or copies."""
    if not mode:
        return
    mim_path = osp.join(HERE, 'mmpfcn', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(HERE, name)
        if not osp.exists(src):
            continue
        dst = osp.join(mim_path, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            try:
                os.symlink(osp.relpath(src, mim_path), dst)
                continue
            except OSError:  # e.g. no symlinks on Windows: copy instead
                pass
        if osp.isdir(src):
            shutil.copytree(
                src, dst, ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension(mim_install_mode(sys.argv))
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        long_description = f.read()
    setup(
        name='mmpfcn',
        version=get_version(),
        description='Panoptic FCN (CVPR 2021) on MMDetection 3',
        long_description=long_description,
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('configs', 'tools', 'demo', 'tests',
                                        'tests.*')),
        include_package_data=True,
        python_requires='>=3.10',
        install_requires=parse_requirements('runtime.txt'),
        extras_require=dict(
            mim=parse_requirements('mminstall.txt'),
            tests=parse_requirements('tests.txt'),
            **optional_extras()),
        license='Apache License 2.0',
        classifiers=[
            'License :: OSI Approved :: Apache Software License',
            'Programming Language :: Python :: 3',
            'Programming Language :: Python :: 3.10',
            'Programming Language :: Python :: 3.11',
        ],
        zip_safe=False)
