"""tools/train.py stopped from outside: Ctrl-C ends with one line naming
the last checkpoint; killing the main process leaves no dataloader worker
behind."""
import os
import os.path as osp
import signal
import subprocess
import time

import pytest

from mmpfcn.testing.train_runs import (
    _descendants,
    kill_tree,
    python_tool,
    read_probe,
    tool_env,
    write_config,
)

WORKERS = ['train_dataloader.num_workers=2',
           'train_dataloader.persistent_workers=True']


def _default_sigint():
    """Ctrl-C's default in the child, whatever the test runner inherited:
    a shell ignores SIGINT in the jobs it starts in the background without
    job control (``(make test &)``), and an ignored signal stays ignored
    across exec, so Python would install no KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_training(tmp_path, data_root):
    """tools/train.py for 1000 iterations with 2 persistent workers,
    a checkpoint every 2, in its own process group, its output into
    ``tmp_path/log.txt``; returns it and its work dir once 3 iterations
    are done."""
    cfg = write_config(str(tmp_path / 'cfg.py'), data_root, max_iters=1000,
                       batch_size=1, checkpoint_interval=2)
    work = str(tmp_path / 'work')
    # a file, not a pipe: workers outliving the process would hold a pipe
    with open(tmp_path / 'log.txt', 'w') as log:
        proc = subprocess.Popen(
            python_tool('train.py') + [cfg, '--work-dir', work,
                                       '--cfg-options'] + WORKERS,
            cwd=str(tmp_path), env=tool_env(), stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_default_sigint)
    deadline = time.time() + 300
    while len(read_probe(work)) < 3:
        if proc.poll() is not None or time.time() > deadline:
            kill_tree(proc)
            pytest.fail('training did not reach iteration 3:\n' +
                        _log(tmp_path)[-3000:])
        time.sleep(0.5)
    return proc, work


def _log(tmp_path):
    return (tmp_path / 'log.txt').read_text()


def _gone_within(pids, seconds):
    """Whether every process of ``pids`` has exited (or is a zombie)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        alive = []
        for pid in pids:
            try:
                with open(f'/proc/{pid}/stat') as f:
                    if f.read().rsplit(')', 1)[1].split()[0] != 'Z':
                        alive.append(pid)
            except OSError:
                pass
        if not alive:
            return True
        time.sleep(0.5)
    return False


def test_ctrl_c_names_the_last_checkpoint(synthetic_dataset_dir, tmp_path):
    proc, work = _start_training(tmp_path, synthetic_dataset_dir)
    workers = _descendants(proc.pid)
    assert len(workers) == 2
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        pytest.fail('Ctrl-C did not stop the training')
    out = _log(tmp_path)
    assert proc.returncode == 130, out[-3000:]
    with open(osp.join(work, 'last_checkpoint')) as f:
        last = f.read().strip()
    assert out.rstrip().splitlines()[-1].startswith(
        'tools/train.py: interrupted at iteration ')
    assert out.rstrip().endswith(
        f'; last checkpoint: {last} (continue with --resume)'), out[-2000:]
    assert 'Traceback' not in out
    assert _gone_within(workers, 10)


def test_killed_training_leaves_no_worker(synthetic_dataset_dir, tmp_path):
    proc, _ = _start_training(tmp_path, synthetic_dataset_dir)
    workers = _descendants(proc.pid)
    assert len(workers) == 2
    os.kill(proc.pid, signal.SIGKILL)  # the main process only
    proc.wait()
    gone = _gone_within(workers, 20)
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert gone, 'dataloader workers outlived the killed training'


def test_ctrl_c_during_a_checkpoint_save_is_an_interrupt(load_tool,
                                                         monkeypatch):
    """Ctrl-C while mmengine formats the config for a checkpoint's meta
    reaches tools/train.py as a SyntaxError raised during the
    KeyboardInterrupt (seen in CI); it is still an interrupt, a plain
    SyntaxError is not."""
    import mmengine.config.config as mmengine_config
    from mmengine.config import Config

    train = load_tool('train.py')

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mmengine_config, 'FormatCode', interrupted)
    with pytest.raises(SyntaxError) as caught:
        Config(dict(a=1)).pretty_text
    assert train.was_interrupted(caught.value)
    assert train.was_interrupted(KeyboardInterrupt())
    assert not train.was_interrupted(SyntaxError('a real syntax error'))
    loop = ValueError('a')
    loop.__context__ = ValueError('b')
    loop.__context__.__context__ = loop
    assert not train.was_interrupted(loop)
