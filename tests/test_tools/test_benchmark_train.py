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
