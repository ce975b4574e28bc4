"""Layering: the test helpers are the package :mod:`mmpfcn.testing` (as
``mmdet.testing``), imported normally. No test, tool or demo edits
``sys.path``, no helper module lives under tests/, and ``import mmpfcn``
neither loads :mod:`mmpfcn.testing` nor does any of its modules load
pytest."""
import os
import os.path as osp
import re
import subprocess
import sys

from mmpfcn.testing.source_scan import pattern_locations

PROJECT_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PATH_EDIT = re.compile(r'\bsys\.path\.(insert|append|extend)\(')


def _python_files(folder: str) -> list:
    """Paths (relative to the project root) of the .py files in folder."""
    found = []
    for root, _, names in os.walk(osp.join(PROJECT_ROOT, folder)):
        found += [
            osp.relpath(osp.join(root, n), PROJECT_ROOT) for n in names
            if n.endswith('.py')
        ]
    return sorted(found)


def test_no_test_tool_or_demo_edits_sys_path():
    offenders = []
    for name in _python_files('tests') + _python_files('tools') + \
            _python_files('demo'):
        with open(osp.join(PROJECT_ROOT, name)) as f:
            text = f.read()
        offenders += pattern_locations(name, text, PATH_EDIT)
    assert not offenders, ('sys.path edited (import helpers from '
                           f'mmpfcn.testing instead): {offenders}')


def test_helpers_live_in_mmpfcn_testing_not_tests():
    helpers = [
        name for name in _python_files('tests')
        if not osp.basename(name).startswith('test_')
        and osp.basename(name) != 'conftest.py'
    ]
    assert not helpers, ('helper modules under tests/ (move them to '
                         f'mmpfcn/testing/): {helpers}')


def test_import_mmpfcn_leaves_testing_out_and_testing_needs_no_pytest():
    modules = sorted(
        osp.splitext(n)[0]
        for n in os.listdir(osp.join(PROJECT_ROOT, 'mmpfcn', 'testing'))
        if n.endswith('.py') and n != '__init__.py')
    assert 'panoptic_samples' in modules and 'golden_cases' in modules
    code = ('import sys\n'
            'import mmpfcn\n'
            "assert 'mmpfcn.testing' not in sys.modules, 'import mmpfcn "
            "loads mmpfcn.testing'\n" + ''.join(
                f'import mmpfcn.testing.{m}\n' for m in modules) +
            "assert 'pytest' not in sys.modules, 'mmpfcn.testing loads "
            "pytest'\n")
    proc = subprocess.run(
        [sys.executable, '-c', code], cwd=PROJECT_ROOT, capture_output=True,
        text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=PROJECT_ROOT, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
