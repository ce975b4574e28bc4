"""``tools/analysis_tools/benchmark_train.py`` on tiny synthetic images:
every stage is timed and the stages add up to the table's iteration (the
timings themselves are not tested)."""
import os.path as osp
import re

import pytest

PROJECT_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(PROJECT_ROOT, 'configs', 'panoptic_fcn',
                  'panoptic-fcn_r18_fpn_synthetic-panoptic.py')


def test_benchmark_times_every_stage(load_tool, capsys):
    benchmark = load_tool('analysis_tools/benchmark_train.py')
    result = benchmark.main([
        CONFIG, '--batch-size', '2', '--iters', '2', '--warmup', '1',
        '--img-size', '64', '96', '--cfg-options',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False'
    ])
    printed = capsys.readouterr().out
    assert result['batch_size'] == 2
    for stage in benchmark.STAGES:
        assert result[stage] > 0, stage
        assert re.search(rf'\| {stage} \| [\d.]+ \| [\d.]+% \|', printed)
    iteration = float(re.search(r'\| iteration \| ([\d.]+) \|',
                                printed).group(1))
    assert iteration == pytest.approx(
        sum(result[s] for s in benchmark.STAGES), abs=0.1)
    assert 'targets + losses: ' in printed
    assert result['peak_memory_mb'] > 0


TINY = [
    CONFIG, '--batch-size', '2', '--iters', '1', '--warmup', '1',
    '--img-size', '64', '96', '--cfg-options',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False'
]


def test_same_seed_same_losses_with_or_without_keep_freed_memory(
        load_tool, capsys):
    """The losses of every iteration are printed; glibc keeping freed
    memory changes nothing in them (the comparison the training
    measurements of docs/benchmarks.md rest on)."""
    benchmark = load_tool('analysis_tools/benchmark_train.py')
    plain = benchmark.main(TINY)
    kept = benchmark.main(TINY[:1] + ['--keep-freed-memory'] + TINY[1:])
    printed = capsys.readouterr().out
    assert len(plain['loss_per_iter']) == 2
    assert kept['loss_per_iter'] == plain['loss_per_iter']
    assert 'keep_freed_memory' in printed
    assert 'loss per iteration (warm-up first, seed 0): ' + ', '.join(
        f'{v:.8g}' for v in plain['loss_per_iter']) in printed
    other_seed = benchmark.main(TINY[:1] + ['--seed', '1'] + TINY[1:])
    assert other_seed['loss_per_iter'] != plain['loss_per_iter']


def test_compiled_path_times_the_whole_train_step(load_tool, capsys,
                                                  monkeypatch):
    """``--compile`` runs mmengine's ``model.train_step`` through
    ``torch.compile`` (replaced here by the identity: compiling takes
    minutes on a CPU) and tables ``data`` + ``train_step``; its losses are
    the staged loop's (the same step, the same seed)."""
    benchmark = load_tool('analysis_tools/benchmark_train.py')
    compiled = []

    def fake_compile(fn, **kwargs):
        compiled.append(fn.__name__)
        return fn

    staged = benchmark.main(TINY)
    monkeypatch.setattr(benchmark.torch, 'compile', fake_compile)
    result = benchmark.main(TINY[:1] + ['--compile'] + TINY[1:])
    printed = capsys.readouterr().out
    assert compiled == ['train_step']
    assert set(benchmark.COMPILED_STAGES) <= set(result)
    assert 'forward' not in result
    assert re.search(r'\| train_step \| [\d.]+ \| [\d.]+% \|', printed)
    assert 'torch.compile' in printed
    assert result['loss_per_iter'] == pytest.approx(
        staged['loss_per_iter'], rel=1e-6)
