"""AtomicCheckpointHook and --resume's checkpoint choice: a kill -9 or a
full disk during a save leaves the previous checkpoint and
``last_checkpoint`` intact, and resuming skips (and names) broken files."""
import errno
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.fileio.backends import LocalBackend

from mmpfcn.engine import NoCheckpointError, find_resumable_checkpoint
from mmpfcn.testing.toy_training import toy_runner

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))


def _iter_of(path):
    checkpoint = torch.load(path, map_location='cpu', weights_only=False)
    return checkpoint['meta']['iter']


def _last_checkpoint(work):
    with open(osp.join(work, 'last_checkpoint')) as f:
        return f.read().strip()


def _assert_only_iteration_1_saved(work):
    """iter_1.pth whole and named by last_checkpoint; no other checkpoint
    file, complete or not, under a checkpoint name."""
    assert _last_checkpoint(work) == osp.join(work, 'iter_1.pth')
    assert _iter_of(osp.join(work, 'iter_1.pth')) == 1
    assert not osp.exists(osp.join(work, 'iter_2.pth'))


def test_kill_during_a_save_keeps_the_previous_checkpoint(tmp_path):
    work = str(tmp_path / 'work')
    os.makedirs(work)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'mmpfcn.testing.toy_training', work, '3', '2',
         'atomic'],
        env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1'),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not osp.exists(osp.join(work, 'writing')):
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        assert time.time() < deadline, 'the save of iteration 2 never began'
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)  # half of iteration 2 written
    proc.wait()
    _assert_only_iteration_1_saved(work)
    assert os.listdir(work).count('iter_2.pth.tmp') == 1

    # --resume's choice: iteration 1, and training goes on to the end
    runner = toy_runner(work, 3, resume_from=find_resumable_checkpoint(work))
    runner.train()
    assert runner.iter == 3 and _iter_of(_last_checkpoint(work)) == 3
    assert not any(name.endswith('.tmp') for name in os.listdir(work))


def test_disk_full_during_a_save_leaves_no_partial_file(tmp_path,
                                                        monkeypatch):
    work = str(tmp_path / 'work')
    put = LocalBackend.put

    def disk_fills_at_iteration_2(self, obj, filepath):
        if 'iter_2.pth' in osp.basename(str(filepath)):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 3])
            raise OSError(errno.ENOSPC, 'No space left on device', filepath)
        put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', disk_fills_at_iteration_2)
    with pytest.raises(OSError, match='No space left on device'):
        toy_runner(work, 3).train()
    _assert_only_iteration_1_saved(work)
    assert sorted(name for name in os.listdir(work)
                  if 'iter_' in name) == ['iter_1.pth']


def test_old_checkpoints_go_once_the_new_one_is_written(tmp_path):
    work = str(tmp_path / 'work')
    toy_runner(work, 3, max_keep_ckpts=2).train()
    assert sorted(n for n in os.listdir(work) if n.endswith('.pth')) == \
        ['iter_2.pth', 'iter_3.pth']
    # a save interrupted before: its temporary file goes at the next start
    open(osp.join(work, 'iter_4.pth.tmp'), 'w').close()
    toy_runner(work, 4, max_keep_ckpts=2,
               resume_from=osp.join(work, 'iter_3.pth')).train()
    assert sorted(os.listdir(work)).count('iter_4.pth.tmp') == 0
    assert _iter_of(osp.join(work, 'iter_4.pth')) == 4


def test_resume_skips_broken_checkpoints_and_names_them(tmp_path):
    work = str(tmp_path / 'work')
    toy_runner(work, 3, max_keep_ckpts=-1).train()
    newest = osp.join(work, 'iter_3.pth')
    with open(newest, 'r+b') as f:
        f.truncate(os.path.getsize(newest) // 2)
    warnings = []
    assert find_resumable_checkpoint(work, warnings.append) == \
        osp.join(work, 'iter_2.pth')
    assert len(warnings) == 1 and newest in warnings[0]
    assert 'does not load' in warnings[0]
    # last_checkpoint naming a deleted file, the others broken too
    os.remove(osp.join(work, 'iter_2.pth'))
    with open(osp.join(work, 'iter_1.pth'), 'wb') as f:
        f.write(b'not a checkpoint')
    with pytest.raises(NoCheckpointError, match='skipped: .*iter_3.pth'):
        find_resumable_checkpoint(work, warnings.append)
    with pytest.raises(NoCheckpointError, match='no last_checkpoint'):
        find_resumable_checkpoint(str(tmp_path / 'empty'))
