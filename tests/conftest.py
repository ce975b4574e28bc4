"""Pytest fixtures used across the suite: paths to the real data shipped in
tests/data/ and a session-wide synthetic panoptic dataset."""
import os
import os.path as osp

import pytest

PROJECT_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# Under pytest-xdist (`make test` runs TEST_WORKERS processes) each worker
# takes its share of the cores for torch's threads, set before torch is
# imported (here and in the subprocesses the tests start), instead of every
# worker running one thread per core.
if 'PYTEST_XDIST_WORKER_COUNT' in os.environ and \
        'OMP_NUM_THREADS' not in os.environ:
    os.environ['OMP_NUM_THREADS'] = str(
        max(1, (os.cpu_count() or 1) //
            int(os.environ['PYTEST_XDIST_WORKER_COUNT'])))
# the real data the tests read, shipped with the repository (sources and
# licences in tests/data/README.md); MMPFCN_DATA_DIR points elsewhere, to a
# folder with the same layout
DATA_DIR = os.environ.get('MMPFCN_DATA_DIR',
                          osp.join(PROJECT_ROOT, 'tests', 'data'))


def _data_subdir(name: str) -> str:
    """``DATA_DIR/name``; fails the test (naming the folder) if missing."""
    path = osp.join(DATA_DIR, name)
    if not osp.isdir(path):
        pytest.fail(f'test data folder {path} not found; set MMPFCN_DATA_DIR '
                    'to a folder holding coco_panoptic_sample/, '
                    'reference_checkpoint/ and reference_vectors/ (default: '
                    'tests/data of the repository)')
    return path


@pytest.fixture(scope='session')
def coco_sample_dir() -> str:
    """The two real COCO val2017 images with their panoptic ground truth."""
    return _data_subdir('coco_panoptic_sample')


@pytest.fixture(scope='session')
def reference_checkpoint_dir() -> str:
    """Parameter names / shapes of the reference R50 checkpoints."""
    return _data_subdir('reference_checkpoint')


@pytest.fixture(scope='session')
def reference_vectors_dir() -> str:
    """Training targets recorded from the reference implementation."""
    return _data_subdir('reference_vectors')


@pytest.fixture(scope='session')
def golden_outputs_dir() -> str:
    """Inference outputs recorded from commit b0c8676 (see
    mmpfcn/testing/golden_cases.py)."""
    return _data_subdir('golden_outputs')


@pytest.fixture(scope='session')
def synthetic_dataset_dir(tmp_path_factory) -> str:
    """A small synthetic COCO-panoptic dataset (8 train / 4 val images of
    96x128), generated once per test session; returns its root."""
    from mmpfcn.datasets.synthetic import make_synthetic_panoptic
    root = tmp_path_factory.mktemp('synthetic_panoptic')
    make_synthetic_panoptic(
        str(root), num_train=8, num_val=4, seed=0, height=96, width=128)
    return str(root)


def _load_tool(path: str):
    """Import ``tools/<path>`` as a module (the tools are scripts, not a
    package)."""
    from mmpfcn.utils.script_modules import import_script
    name = 'tool_' + osp.splitext(path)[0].replace('/', '_')
    return import_script(osp.join(PROJECT_ROOT, 'tools', path), name)


@pytest.fixture(scope='session')
def load_tool():
    """``load_tool('misc/run_demo.py')`` imports a script under tools/."""
    return _load_tool
