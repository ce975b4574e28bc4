"""tools/train.py in one process: bad input fails early and clearly, a
NaN loss stops the run in its iteration, a resumed run is the
uninterrupted run, --resume skips a broken checkpoint and says when there
is none, and tools/test.py evaluates what train.py wrote."""
import os
import os.path as osp
import shutil

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmpfcn.registry import MODELS
from mmpfcn.testing.train_runs import (
    printed_metrics,
    python_tool,
    read_probe,
    run_tool,
    write_config,
)
from mmpfcn.utils import register_all_modules


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


@pytest.mark.parametrize('option, message', [
    ('model.nonexistent=1', 'config key `model.nonexistent`: PanopticFCN '
     "takes no argument 'nonexistent'"),
    ('model.backbone.type=ResNett',
     "config key `model.backbone.type`: 'ResNett' is not a registered type"),
])
def test_config_typos_fail_before_any_data_is_read(tmp_path, option,
                                                   message):
    # a dataset that does not exist: reading it would fail differently
    cfg = write_config(
        str(tmp_path / 'cfg.py'), str(tmp_path / 'no_data'), max_iters=1)
    proc = run_tool(
        python_tool('train.py') +
        [cfg, '--work-dir', str(tmp_path / 'work'), '--cfg-options', option],
        cwd=str(tmp_path), timeout=120)
    assert proc.returncode != 0
    assert f'tools/train.py: error: {message}' in proc.stdout
    assert 'Traceback' not in proc.stdout
    assert 'no_data' not in proc.stdout and 'loading annotations' not in \
        proc.stdout


def test_amp_without_cuda_is_a_clear_error(tmp_path):
    cfg = write_config(
        str(tmp_path / 'cfg.py'), str(tmp_path / 'no_data'), max_iters=1)
    proc = run_tool(
        python_tool('train.py') +
        [cfg, '--work-dir', str(tmp_path / 'work'), '--amp'],
        cwd=str(tmp_path), timeout=120)
    assert proc.returncode != 0
    assert 'tools/train.py: error: --amp needs a CUDA GPU' in proc.stdout
    assert 'Traceback' not in proc.stdout


def test_nan_loss_stops_training_in_its_iteration(synthetic_dataset_dir,
                                                  tmp_path):
    cfg = write_config(
        str(tmp_path / 'cfg.py'), synthetic_dataset_dir, max_iters=4,
        batch_size=1, checkpoint_interval=2,
        extra="custom_hooks = [dict(type='TrainProbeHook', nan_at_iter=3)]")
    work = str(tmp_path / 'work')
    proc = run_tool(
        python_tool('train.py') + [cfg, '--work-dir', work],
        cwd=str(tmp_path), timeout=300)
    assert proc.returncode != 0
    assert 'FloatingPointError: non-finite loss at iteration 3: ' \
        'loss_seg_st=nan (finite: loss_pos_th=' in proc.stdout
    # iterations 1 and 2 completed, nothing after; the checkpoint of
    # iteration 2 is the last one and loads into a model, all finite
    assert [r['iter'] for r in read_probe(work)] == [1, 2]
    assert not osp.exists(osp.join(work, 'iter_3.pth'))
    checkpoint = _load(osp.join(work, 'iter_2.pth'))
    assert checkpoint['meta']['iter'] == 2
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        model = MODELS.build(Config.fromfile(cfg).model)
    model.load_state_dict(checkpoint['state_dict'])
    assert all(p.isfinite().all() for p in model.state_dict().values()
               if p.is_floating_point())


RESUME_EXTRA = """
# LR changes every iteration: warm-up over 2, then poly decay to 6
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0,
         end=6)
]
"""


@pytest.fixture(scope='module')
def six_iterations(synthetic_dataset_dir, tmp_path_factory):
    """An uninterrupted 6-iteration run (random resize and flip, AdamW,
    checkpoints at 3 and 6): config path and work dir."""
    root = tmp_path_factory.mktemp('six')
    cfg = write_config(
        str(root / 'cfg.py'), synthetic_dataset_dir, max_iters=6,
        batch_size=2, checkpoint_interval=3, extra=RESUME_EXTRA)
    work = str(root / 'full')
    proc = run_tool(
        python_tool('train.py') + [cfg, '--work-dir', work],
        cwd=str(root), timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return cfg, work


@pytest.mark.slow
def test_resume_equals_the_uninterrupted_run(six_iterations, tmp_path):
    cfg, full = six_iterations
    resumed = str(tmp_path / 'resumed')
    proc = run_tool(
        python_tool('train.py') + [
            cfg, '--work-dir', resumed, '--resume',
            osp.join(full, 'iter_3.pth')
        ],
        cwd=str(tmp_path), timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:]

    # the same batches (images, flips, sizes, pixels), losses and LR
    first, second = read_probe(full), read_probe(resumed)
    assert [r['iter'] for r in second] == [4, 5, 6]
    for a, b in zip(first[3:], second):
        for key in ('img_paths', 'flips', 'img_shapes', 'checksum', 'losses',
                    'lr'):
            assert a[key] == b[key], (a['iter'], key)
    assert len({r['lr'] for r in first}) >= 5  # the LR moves
    assert len({tuple(r['img_paths']) for r in first}) > 1

    # bitwise the same weights, optimiser state and scheduler state
    a = _load(osp.join(full, 'iter_6.pth'))
    b = _load(osp.join(resumed, 'iter_6.pth'))
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for name, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][name]), name
    opt_a, opt_b = a['optimizer'], b['optimizer']
    assert opt_a['param_groups'] == opt_b['param_groups']
    assert opt_a['state'].keys() == opt_b['state'].keys()
    for index, state in opt_a['state'].items():
        for key, value in state.items():
            assert torch.equal(value, opt_b['state'][index][key]), key
    assert a['param_schedulers'] == b['param_schedulers']
    assert a['meta']['iter'] == b['meta']['iter'] == 6


def test_test_py_evaluates_a_train_py_checkpoint(six_iterations, tmp_path):
    cfg, full = six_iterations
    proc = run_tool(
        python_tool('test.py') + [
            cfg, osp.join(full, 'iter_6.pth'), '--work-dir',
            str(tmp_path / 'test')
        ],
        cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    metrics = printed_metrics(proc.stdout)
    assert {'PQ', 'SQ', 'RQ', 'PQ_th', 'PQ_st', 'AP', 'mIoU'} <= set(metrics)
    assert 0 < metrics['mIoU'] <= 100


def test_test_py_optimized_for_inference(six_iterations, tmp_path):
    """--fuse-conv-bn --channels-last: the hook folds the loaded weights
    before testing; the metrics are those of the exact run up to float
    rounding of the network."""
    cfg, full = six_iterations
    runs = {}
    for name, flags in (('exact', []),
                        ('fast', ['--fuse-conv-bn', '--channels-last'])):
        proc = run_tool(
            python_tool('test.py') + [
                cfg, osp.join(full, 'iter_6.pth'), '--work-dir',
                str(tmp_path / name)
            ] + flags,
            cwd=str(tmp_path), timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:]
        runs[name] = (proc.stdout, printed_metrics(proc.stdout))
    assert 'optimized for inference: fuse_conv_bn=True, ' \
        'channels_last=True' in runs['fast'][0]
    assert 'optimized for inference' not in runs['exact'][0]
    exact, fast = runs['exact'][1], runs['fast'][1]
    assert exact.keys() == fast.keys() and 'PQ' in exact
    for key in exact:
        assert fast[key] == pytest.approx(exact[key], abs=0.05), key


def test_resume_in_a_work_dir_without_checkpoint_says_so(tmp_path):
    cfg = write_config(str(tmp_path / 'cfg.py'), str(tmp_path / 'no_data'),
                       max_iters=1)
    work = str(tmp_path / 'work')
    proc = run_tool(python_tool('train.py') + [cfg, '--work-dir', work,
                                               '--resume'],
                    cwd=str(tmp_path), timeout=120)
    assert proc.returncode != 0
    assert 'tools/train.py: error: --resume: no checkpoint to resume from ' \
        f"in '{work}'" in proc.stdout
    assert 'Traceback' not in proc.stdout and 'no_data' not in proc.stdout


@pytest.mark.slow  # the choice itself: tests/test_engine (fast)
def test_resume_skips_a_truncated_last_checkpoint(six_iterations, tmp_path):
    cfg, full = six_iterations
    work = tmp_path / 'work'
    work.mkdir()
    for step in (3, 6):
        shutil.copy(osp.join(full, f'iter_{step}.pth'), work)
    os.utime(work / 'iter_3.pth', (1, 1))  # the older one
    broken = work / 'iter_6.pth'
    broken.write_bytes(broken.read_bytes()[:1000])
    (work / 'last_checkpoint').write_text(str(broken))
    proc = run_tool(python_tool('train.py') + [cfg, '--work-dir', str(work),
                                               '--resume'],
                    cwd=str(tmp_path), timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f'--resume: skipping {broken}: does not load' in proc.stdout
    assert [r['iter'] for r in read_probe(str(work))] == [4, 5, 6]
