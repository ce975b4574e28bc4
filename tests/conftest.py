"""Shared pytest fixtures: paths to the shipped real COCO sample and a
session-wide synthetic panoptic dataset."""
import os
import os.path as osp
import sys

import pytest

PROJECT_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED_DIR = os.environ.get('MMPFCN_SHARED_DIR',
                            osp.join(osp.dirname(PROJECT_ROOT), 'shared'))
COCO_SAMPLE_DIR = osp.join(SHARED_DIR, 'data', 'coco_panoptic_sample')


@pytest.fixture(scope='session')
def coco_sample_dir() -> str:
    """The two real COCO val2017 images with their panoptic ground truth."""
    if not osp.isdir(COCO_SAMPLE_DIR):
        pytest.fail(f'shared COCO sample not found at {COCO_SAMPLE_DIR}; set '
                    'MMPFCN_SHARED_DIR to the folder holding data/')
    return COCO_SAMPLE_DIR


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
    import importlib.util
    name = 'tool_' + osp.splitext(path)[0].replace('/', '_')
    spec = importlib.util.spec_from_file_location(
        name, osp.join(PROJECT_ROOT, 'tools', path))
    module = importlib.util.module_from_spec(spec)
    # registered, so that pickle finds its functions (multiprocessing)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def load_tool():
    """``load_tool('misc/run_demo.py')`` imports a script under tools/."""
    return _load_tool
