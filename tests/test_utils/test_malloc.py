"""keep_freed_memory: glibc's mallopt thresholds raised, a no-op without
mallopt, and the same model outputs with it as without."""
import ctypes
import os.path as osp
import platform
import subprocess
import sys

import pytest

from mmpfcn.utils import keep_freed_memory, malloc

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GLIBC = platform.system() == 'Linux' and platform.libc_ver()[0] == 'glibc'

# one forward of the small demo model on a fixed input; prints a digest
PROBE = '''
import hashlib, sys, torch
from mmpfcn.apis import init_model
from mmpfcn.apis.onnx_export import TensorForward
from mmpfcn.utils import keep_freed_memory
if sys.argv[1] == 'kept':
    assert keep_freed_memory()
torch.manual_seed(0)
model = init_model(sys.argv[2])
inputs = torch.randn(1, 3, 320, 448)
digest = hashlib.sha1()
with torch.no_grad():
    for _ in range(2):
        for out in TensorForward(model)(inputs):
            digest.update(out.numpy().tobytes())
print(digest.hexdigest())
'''


@pytest.mark.skipif(not GLIBC, reason='mallopt is glibc\'s')
def test_applied_with_glibc():
    assert keep_freed_memory() is True


def test_no_mallopt_is_a_no_op(monkeypatch):
    class NoMallopt:
        pass

    monkeypatch.setattr(malloc, '_libc', NoMallopt)
    assert keep_freed_memory() is False
    assert malloc.heap_in_use() is None

    # no loadable C library at all
    monkeypatch.setattr(malloc, '_libc', lambda: None)
    assert malloc.keep_freed_memory() is False
    assert malloc.heap_in_use() is None


def test_c_library_looked_up_once(monkeypatch):
    """heap_in_use is sampled every few ms by benchmark.py: the C library
    (found by running ldconfig) must not be looked up again each time."""
    malloc._libc.cache_clear()
    malloc.heap_in_use()

    def no_second_lookup(name):
        raise AssertionError(f'C library loaded again ({name})')

    monkeypatch.setattr(ctypes, 'CDLL', no_second_lookup)
    for _ in range(3):
        malloc.heap_in_use()
        malloc.keep_freed_memory()


@pytest.mark.skipif(not GLIBC, reason='mallopt is glibc\'s')
def test_same_outputs_with_and_without():
    config = osp.join(ROOT, 'configs/panoptic_fcn/'
                      'panoptic-fcn_r18_fpn_synthetic-panoptic.py')
    digests = []
    for mode in ('default', 'kept'):
        proc = subprocess.run(
            [sys.executable, '-c', PROBE, mode, config],
            capture_output=True, text=True, timeout=300,
            env={'PYTHONPATH': ROOT, 'OMP_NUM_THREADS': '1',
                 'PATH': '/usr/bin:/bin'})
        assert proc.returncode == 0, proc.stderr[-2000:]
        digests.append(proc.stdout.strip().splitlines()[-1])
    assert digests[0] == digests[1]


@pytest.mark.skipif(not GLIBC, reason='mallinfo2 is glibc\'s')
def test_heap_in_use_counts_a_tensor_kept_or_not():
    import torch

    from mmpfcn.utils.malloc import heap_in_use
    if heap_in_use() is None:
        pytest.skip('glibc without mallinfo2 (< 2.33)')
    keep_freed_memory()
    for _ in range(2):  # the second time from kept memory
        before = heap_in_use()
        tensor = torch.ones(64, 1024, 1024)  # 256 MB
        assert heap_in_use() - before >= 256 * 2**20
        del tensor
        assert heap_in_use() - before < 16 * 2**20
