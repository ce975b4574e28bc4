"""Real 2-process runs of tools/dist_train.sh and tools/dist_test.sh on the
CPU (gloo, chosen without a flag): the run works end to end, its first
step is exactly single-process SGD on the averaged gradient, the
multi-node branch of the launcher works, and a killed rank ends the job."""
import os
import os.path as osp
import signal
import subprocess
import time

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from mmpfcn.registry import DATASETS, MODELS
from mmpfcn.testing.train_runs import (
    assert_same_dumped_panoptic_maps,
    free_port,
    kill_tree,
    printed_metrics,
    python_tool,
    read_probe,
    run_tool,
    shell_tool,
    tool_env,
    write_config,
)
from mmpfcn.utils import register_all_modules


def _dist_env(**extra):
    return tool_env(PORT=str(free_port()), **extra)


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


@pytest.mark.slow
def test_two_process_training_then_dist_test_equals_test_py(
        synthetic_dataset_dir, tmp_path):
    cfg = write_config(
        str(tmp_path / 'cfg.py'), synthetic_dataset_dir, max_iters=3,
        checkpoint_interval=3)
    work = str(tmp_path / 'train')
    proc = run_tool(
        shell_tool('dist_train.sh') + [cfg, '2', '--work-dir', work],
        cwd=str(tmp_path), env=_dist_env())
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'dist_train.sh: single node, 2 processes' in proc.stdout
    for rank in (0, 1):
        assert f'rank {rank} of 2 uses the gloo backend' in proc.stdout
    ranks = [read_probe(work, rank) for rank in (0, 1)]
    assert [r['iter'] for r in ranks[0]] == [1, 2, 3]
    assert [r['iter'] for r in ranks[1]] == [1, 2, 3]
    # each rank trains its own images (DistributedSampler shards)
    for first, second in zip(*ranks):
        assert not set(first['img_paths']) & set(second['img_paths'])
    checkpoint = osp.join(work, 'iter_3.pth')
    assert _load(checkpoint)['meta']['iter'] == 3

    dist = run_tool(
        shell_tool('dist_test.sh') + [
            cfg, checkpoint, '2', '--work-dir',
            str(tmp_path / 'dist_test'), '--out',
            str(tmp_path / 'dist.pkl')
        ],
        cwd=str(tmp_path), env=_dist_env())
    assert dist.returncode == 0, dist.stdout[-3000:]
    single = run_tool(
        python_tool('test.py') + [
            cfg, checkpoint, '--work-dir',
            str(tmp_path / 'single_test'), '--out',
            str(tmp_path / 'single.pkl')
        ],
        cwd=str(tmp_path))
    assert single.returncode == 0, single.stdout[-3000:]
    dist_metrics = printed_metrics(dist.stdout)
    assert {'PQ', 'SQ', 'RQ', 'PQ_th', 'PQ_st', 'mIoU'} <= set(dist_metrics)
    assert dist_metrics == printed_metrics(single.stdout)
    # not only the numbers: the same panoptic map for every image
    assert_same_dumped_panoptic_maps(str(tmp_path / 'dist.pkl'),
                                     str(tmp_path / 'single.pkl'), 4)


def _exact_config(tmp_path, root, init):
    extra = f"""
load_from = {init!r}
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0),
    clip_grad=dict(type='value', clip_value=35))
"""
    return write_config(
        str(tmp_path / 'cfg.py'), root, max_iters=1, batch_size=1,
        fixed_pipeline=True, extra=extra)


def test_first_ddp_step_is_sgd_on_the_mean_of_single_image_gradients(
        synthetic_dataset_dir, tmp_path):
    """1 image per process; also the launcher's multi-node branch (one
    node of one, explicit master address and port)."""
    register_all_modules(init_default_scope=False)
    init = str(tmp_path / 'init.pth')
    cfg_path = _exact_config(tmp_path, synthetic_dataset_dir, init)
    cfg = Config.fromfile(cfg_path)
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    torch.save(dict(state_dict=initial, meta={}), init)

    work = str(tmp_path / 'train')
    port = free_port()
    proc = run_tool(
        shell_tool('dist_train.sh') + [cfg_path, '2', '--work-dir', work],
        cwd=str(tmp_path),
        env=tool_env(NNODES='1', NODE_RANK='0', MASTER_ADDR='127.0.0.1',
                     PORT=str(port)))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (f'dist_train.sh: node 0 of 1, 2 processes per node, master '
            f'127.0.0.1:{port}') in proc.stdout
    records = [read_probe(work, rank)[0] for rank in (0, 1)]
    paths = [r['img_paths'][0] for r in records]
    assert paths[0] != paths[1]

    # single-process runs on each rank's image alone, from the same weights
    index = {dataset.get_data_info(i)['img_path']: i
             for i in range(len(dataset))}
    grads = []
    model.train()
    for path, record in zip(paths, records):
        model.load_state_dict(initial)
        model.zero_grad()
        data = model.data_preprocessor(
            pseudo_collate([dataset[index[path]]]), training=True)
        losses = model.loss(data['inputs'], data['data_samples'])
        loss, log_vars = model.parse_losses(losses)
        for key, value in log_vars.items():
            assert float(value.detach()) == pytest.approx(
                record['losses'][key], rel=1e-5, abs=1e-6), key
        loss.backward()
        grads.append({n: p.grad.clone()
                      for n, p in model.named_parameters()})

    # one SGD step (same optimiser config) on the mean gradient
    model.load_state_dict(initial)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    for name, param in model.named_parameters():
        param.grad = (grads[0][name] + grads[1][name]) / 2
    optim_wrapper.step()
    trained = _load(osp.join(work, 'iter_1.pth'))['state_dict']
    moved = 0.0
    for name, param in model.named_parameters():
        torch.testing.assert_close(
            trained[name], param.detach(), rtol=0, atol=1e-5, msg=name)
        moved = max(moved, (param.detach() - initial[name]).abs().max())
    assert moved > 1e-2  # the step is large against the tolerance
    # a step on either image's gradient alone would land 1e-3 away (lr 0.05
    # times half the gradient difference): the mean is what was applied
    assert max((grads[0][n] - grads[1][n]).abs().max()
               for n in grads[0]) > 4e-2


@pytest.mark.slow
@pytest.mark.parametrize('sig, bound', [
    (signal.SIGKILL, 60),
    # a hung rank: the other one's collective times out after 20 s, then
    # torchrun stops the job (SIGTERM, SIGKILL 30 s later)
    (signal.SIGSTOP, 120),
], ids=['killed', 'hung'])
def test_a_dead_or_hung_rank_ends_the_whole_job(synthetic_dataset_dir,
                                                tmp_path, sig, bound):
    cfg = write_config(
        str(tmp_path / 'cfg.py'), synthetic_dataset_dir, max_iters=10000,
        batch_size=1, checkpoint_interval=100000,
        extra='env_cfg = dict(dist_cfg=dict(timeout=20))')
    work = str(tmp_path / 'train')
    proc = subprocess.Popen(
        shell_tool('dist_train.sh') + [cfg, '2', '--work-dir', work],
        cwd=str(tmp_path), env=_dist_env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (read_probe(work, 0) and read_probe(work, 1)):
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            assert time.monotonic() < deadline, 'training did not start'
            time.sleep(0.5)
        os.kill(read_probe(work, 1)[0]['pid'], sig)
        hit = time.monotonic()
        out, _ = proc.communicate(timeout=bound + 60)
        elapsed = time.monotonic() - hit
    finally:
        if proc.poll() is None:
            kill_tree(proc)
    assert proc.returncode != 0, out[-3000:]
    assert elapsed < bound, f'the job took {elapsed:.0f} s to stop'
    assert 'timeout 20 s' in out
