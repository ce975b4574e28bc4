"""Packaging: the wheel carries configs/, tools/, demo/ and model-index.yml
as mmpfcn/.mim/ (mmdet's add_mim_extension), an editable install links
them, the installed package finds its model index and runs its tools, the
declared Python version fits the syntax, the mmcv / mmengine / mmdet ranges
are those of requirements/mminstall.txt and a version outside them stops
``import mmpfcn`` with a clear message."""
import ast
import glob
import importlib.util
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata

import pytest

from mmpfcn import dependencies

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MIM_DIRS = ('configs', 'tools', 'demo')


def load_setup():
    spec = importlib.util.spec_from_file_location(
        'mmpfcn_setup', osp.join(ROOT, 'setup.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # setup() runs under __main__ only
    return module


def tracked_files():
    if shutil.which('git') is None or not osp.exists(osp.join(ROOT, '.git')):
        pytest.skip('not a git checkout: no list of tracked files')
    out = subprocess.run(['git', 'ls-files', '-z'], cwd=ROOT, check=True,
                         capture_output=True).stdout.decode()
    return [name for name in out.split('\0')
            if name and osp.isfile(osp.join(ROOT, name))]


@pytest.fixture(scope='module')
def source_copy(tmp_path_factory):
    """The tracked files of the repository, copied (the build writes
    mmpfcn/.mim/ into its source tree)."""
    src = tmp_path_factory.mktemp('source')
    for name in tracked_files():
        os.makedirs(osp.dirname(src / name), exist_ok=True)
        shutil.copy2(osp.join(ROOT, name), src / name)
    return src


@pytest.fixture(scope='module')
def wheel(source_copy, tmp_path_factory):
    out = tmp_path_factory.mktemp('wheel')
    subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '-q', str(source_copy), '-w', str(out)],
        check=True, capture_output=True, cwd=source_copy)
    (path, ) = glob.glob(str(out / 'mmpfcn-*.whl'))
    return path


def test_wheel_ships_configs_tools_demo_and_model_index(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    expected = {
        'mmpfcn/.mim/' + name for name in tracked_files()
        if name.split('/')[0] in MIM_DIRS
    } | {'mmpfcn/.mim/model-index.yml'}
    assert 'mmpfcn/.mim/configs/panoptic_fcn/metafile.yml' in expected
    assert not expected - names, sorted(expected - names)
    assert not any(name.startswith(('tests/', 'configs/', 'tools/'))
                   for name in names)


def test_installed_wheel_finds_its_index_and_runs_its_tools(wheel, tmp_path):
    target = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps',
                    '-q', '--target', str(target), wheel],
                   check=True, capture_output=True)
    env = dict(os.environ, PYTHONPATH=str(target))
    code = (
        'import os.path as osp, mmpfcn\n'
        'from mmengine.infer import BaseInferencer\n'
        "root = BaseInferencer._get_repo_or_mim_dir('mmpfcn')\n"
        'names = [m["Name"] for m in '
        'BaseInferencer._get_models_from_metafile(root)]\n'
        'print(osp.dirname(mmpfcn.__file__), root, len(names))\n')
    proc = subprocess.run([sys.executable, '-c', code], cwd=tmp_path,
                          env=env, capture_output=True, text=True,
                          check=True)
    package, root, count = proc.stdout.split()
    assert package == str(target / 'mmpfcn')
    assert root == str(target / 'mmpfcn' / '.mim')
    assert int(count) == len(glob.glob(
        osp.join(ROOT, 'configs', 'panoptic_fcn', '*.py')))
    tool = target / 'mmpfcn' / '.mim' / 'tools' / 'test.py'
    proc = subprocess.run([sys.executable, str(tool), '--help'],
                          cwd=tmp_path, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0 and '--tta' in proc.stdout, proc.stderr


def test_editable_install_links_and_other_commands_place_nothing(
        source_copy, monkeypatch):
    setup = load_setup()
    assert setup.mim_install_mode(['setup.py', 'develop']) == 'symlink'
    assert setup.mim_install_mode(['x', 'editable_wheel', '--dist-dir',
                                   'd']) == 'symlink'
    assert setup.mim_install_mode(['x', 'bdist_wheel']) == 'copy'
    assert setup.mim_install_mode(['x', 'egg_info']) == ''
    monkeypatch.setattr(setup, 'HERE', str(source_copy))
    setup.add_mim_extension('symlink')
    mim = source_copy / 'mmpfcn' / '.mim'
    for name in MIM_DIRS + ('model-index.yml', ):
        assert osp.islink(mim / name), name
        assert osp.samefile(mim / name, source_copy / name)
    setup.add_mim_extension('copy')  # replaces the links
    assert not osp.islink(mim / 'configs')
    assert osp.isfile(mim / 'configs' / 'panoptic_fcn' / 'metafile.yml')


def _needs_310(tree: ast.AST) -> list:
    """``X | Y`` annotations evaluated at definition time (no ``from
    __future__ import annotations``): Python 3.10 syntax at run time."""
    if any(isinstance(node, ast.ImportFrom) and node.module == '__future__'
           and any(a.name == 'annotations' for a in node.names)
           for node in ast.walk(tree)):
        return []
    found = []
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            annotations = [a.annotation for a in
                           args.posonlyargs + args.args + args.kwonlyargs +
                           [args.vararg, args.kwarg] if a is not None]
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        found += [node.lineno for a in annotations if a is not None and any(
            isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr)
            for n in ast.walk(a))]
    return found


def test_python_requires_fits_the_syntax():
    setup_py = open(osp.join(ROOT, 'setup.py')).read()
    assert "python_requires='>=3.10'" in setup_py
    users = []
    for name in tracked_files():
        if name.endswith('.py'):
            with open(osp.join(ROOT, name), encoding='utf-8') as f:
                tree = ast.parse(f.read(), feature_version=(3, 10))
            if _needs_310(tree):
                users.append(name)
    # the 3.10 floor is needed: some modules evaluate `X | None`
    assert 'mmpfcn/evaluation/functional/pq.py' in users


def test_version_ranges_are_those_of_mminstall():
    setup = load_setup()
    ranges = {}
    for req in setup.parse_requirements('mminstall.txt'):
        name = setup.requirement_name(req)
        low = req.split('>=')[1].split(',')[0]
        high = req.split('<')[1]
        ranges[name] = (low, high)
    assert ranges == dependencies.REQUIRED_VERSIONS


@pytest.mark.parametrize('package, version', [
    ('mmcv', '2.2.0'), ('mmcv', '1.7.2'), ('mmengine', '1.0.0'),
    ('mmdet', '3.2.0'), ('mmdet', 'not-a-version')])
def test_a_version_outside_its_range_is_named(package, version):
    installed = dict(mmcv='2.1.0', mmengine='0.10.7', mmdet='3.3.0')
    installed[package] = version
    with pytest.raises(ImportError) as error:
        dependencies.check_dependencies(installed.__getitem__)
    message = str(error.value)
    low, high = dependencies.REQUIRED_VERSIONS[package]
    assert f'{package}=={version} (needs {package}>={low},<{high})' in \
        message
    assert message.count('==') == 1  # the others fit
    assert 'docs/get_started.md' in message


def test_packages_in_range_or_absent_pass():
    dependencies.check_dependencies(
        dict(mmcv='2.1.0', mmengine='0.10.7', mmdet='3.3.0').__getitem__)

    def only_mmdet(name):
        if name != 'mmdet':
            raise metadata.PackageNotFoundError(name)
        return '3.3.0'

    dependencies.check_dependencies(only_mmdet)


def test_import_mmpfcn_checks_the_installed_versions():
    code = ('import importlib.metadata as m\n'
            "real = m.version\n"
            "m.version = lambda n: '2.5.0' if n == 'mmcv' else real(n)\n"
            'import mmpfcn\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode != 0
    assert 'ImportError: mmpfcn is incompatible with the installed ' \
        'mmcv==2.5.0 (needs mmcv>=2.0.0rc4,<2.2.0)' in proc.stderr
