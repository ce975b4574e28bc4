"""`make demo`'s script end to end on a tiny run: dataset -> 2 training
iterations -> checkpoint reloaded in a fresh runner -> metrics, results
table and pictures."""
import json
import os
import os.path as osp

import pytest


@pytest.fixture(scope='module')
def run_demo(load_tool):
    return load_tool('misc/run_demo.py')


def _args(tmp_path):
    return [
        '--data-root', str(tmp_path / 'data'), '--work-dir',
        str(tmp_path / 'work'), '--num-train', '8', '--num-val', '2',
        '--max-iters', '2'
    ]


def test_demo_runs_end_to_end(run_demo, tmp_path, capsys):
    metrics = run_demo.main(_args(tmp_path))
    for key in ('PQ', 'PQ_th', 'PQ_st', 'SQ', 'RQ', 'AP', 'mIoU'):
        assert f'coco_panoptic/{key}' in metrics
    assert metrics['train_seconds'] > 0
    work = tmp_path / 'work'
    assert (work / 'iter_2.pth').is_file()
    table = (work / 'results.md').read_text()
    assert '| Things |' in table and '| Stuff |' in table
    saved = json.loads((work / 'results.json').read_text())
    assert saved['coco_panoptic/PQ'] == pytest.approx(
        metrics['coco_panoptic/PQ'])
    assert (work / 'curves.png').is_file()
    assert 'Training curves:' in table
    pictures = os.listdir(metrics['vis_dir'])
    assert len(pictures) == 2
    assert 'writing 8 train + 2 val images' in capsys.readouterr().out

    # the same dataset is reused, not rewritten; another recipe rewrites it
    run_demo.prepare_dataset(run_demo.parse_args(_args(tmp_path)))
    assert 'reusing' in capsys.readouterr().out
    run_demo.prepare_dataset(
        run_demo.parse_args(_args(tmp_path) + ['--num-val', '3']))
    assert 'writing 8 train + 3 val images' in capsys.readouterr().out
    assert osp.isfile(tmp_path / 'data' / 'annotations' /
                      'panoptic_val.json')


def test_seed_seeds_the_training_not_the_dataset(run_demo, tmp_path, capsys):
    import torch
    from mmengine.runner import Runner

    from mmpfcn.utils import register_all_modules
    register_all_modules(init_default_scope=False)

    def first_weight(argv):
        """Seed the way the demo does and return its first conv weight."""
        args = run_demo.parse_args(_args(tmp_path) + argv)
        cfg = run_demo.demo_config(args)
        assert cfg.randomness.seed == args.seed
        runner = Runner.from_cfg(cfg)
        return runner.model.backbone.conv1.weight.detach().clone()

    default = run_demo.parse_args(_args(tmp_path))
    assert (default.seed, default.data_seed) == (0, 0)
    assert torch.equal(first_weight(['--seed', '3']),
                       first_weight(['--seed', '3']))
    assert not torch.equal(first_weight(['--seed', '3']),
                           first_weight(['--seed', '4']))

    # the dataset written for one training seed is the one of every other
    run_demo.prepare_dataset(run_demo.parse_args(_args(tmp_path)))
    assert 'writing 8 train + 2 val images' in capsys.readouterr().out
    run_demo.prepare_dataset(
        run_demo.parse_args(_args(tmp_path) + ['--seed', '7']))
    assert 'reusing' in capsys.readouterr().out
    run_demo.prepare_dataset(
        run_demo.parse_args(_args(tmp_path) + ['--data-seed', '1']))
    assert 'writing 8 train + 2 val images' in capsys.readouterr().out
