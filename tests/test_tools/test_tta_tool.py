"""``tools/test.py --tta`` and ``tools/dist_test.sh --tta``: the config's
tta_pipeline and tta_model replace the test pipeline and the model; a
config without them is refused, naming what to add."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmpfcn.evaluation.metrics import load_predictions
from mmpfcn.registry import MODELS
from mmpfcn.testing.train_runs import (
    SYNTHETIC_CONFIG,
    assert_same_dumped_panoptic_maps,
    free_port,
    printed_metrics,
    python_tool,
    run_tool,
    shell_tool,
    tool_env,
)
from mmpfcn.utils import ConfigKeyError, enable_tta, register_all_modules


def _untrained_checkpoint(path: str) -> str:
    register_all_modules(init_default_scope=False)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        model = MODELS.build(Config.fromfile(SYNTHETIC_CONFIG).model)
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


def _data_options(root: str) -> list:
    return [
        '--cfg-options', f'test_dataloader.dataset.data_root={root}/',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        # the three metrics of the list
        *[f'test_evaluator.{i}.ann_file={root}/annotations/panoptic_val.json'
          for i in range(3)],
        *[f'test_evaluator.{i}.seg_prefix={root}/annotations/panoptic_val/'
          for i in range(3)]
    ]


def test_enable_tta_wraps_the_model_and_swaps_the_pipeline():
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    model = cfg.model.copy()
    enable_tta(cfg)
    assert cfg.model.type == 'PanopticFCNTTAModel'
    assert cfg.model.module == model
    views = cfg.test_dataloader.dataset.pipeline[1]
    assert views.type == 'TestTimeAug'
    # the test scale first: the reference frame of the merge
    assert views.transforms[0][0].scale == (256, 192)
    assert [flip.prob for flip in views.transforms[1]] == [0., 1.]


@pytest.mark.parametrize('key', ['tta_model', 'tta_pipeline'])
def test_a_config_without_tta_keys_is_refused_naming_them(key):
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    cfg.pop(key)
    with pytest.raises(ConfigKeyError, match=f'no `{key}`; add'):
        enable_tta(cfg)


def test_test_py_tta_without_tta_model_names_the_key(tmp_path):
    # before any data is read or the checkpoint is opened
    config = tmp_path / 'no_tta.py'
    config.write_text(f'_base_ = {SYNTHETIC_CONFIG!r}\ntta_model = None\n')
    proc = run_tool(
        python_tool('test.py') +
        [str(config), str(tmp_path / 'missing.pth'), '--tta'],
        cwd=str(tmp_path))
    assert proc.returncode != 0
    assert ("tools/test.py: error: --tta: the config has no `tta_model`; "
            "add tta_model = dict(type='PanopticFCNTTAModel')") in proc.stdout


def test_test_py_tta_evaluates_the_merged_views(synthetic_dataset_dir,
                                                tmp_path):
    checkpoint = _untrained_checkpoint(str(tmp_path / 'untrained.pth'))
    proc = run_tool(
        python_tool('test.py') + [
            SYNTHETIC_CONFIG, checkpoint, '--tta', '--work-dir',
            str(tmp_path / 'work'), '--out',
            str(tmp_path / 'tta.pkl')
        ] + _data_options(synthetic_dataset_dir),
        cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:]
    metrics = printed_metrics(proc.stdout)
    assert {'PQ', 'SQ', 'RQ', 'PQ_th', 'PQ_st', 'mIoU'} <= set(metrics)
    preds = load_predictions(str(tmp_path / 'tta.pkl'))
    assert len(preds) == 4
    for pred in preds:
        # at the original size (the synthetic val images are 96 x 128)
        assert pred['pred_panoptic_seg']['sem_seg'].shape == (1, 96, 128)
        assert pred['ori_shape'] == (96, 128)
        assert pred['flip'] is False


@pytest.mark.slow
def test_dist_test_sh_tta_equals_test_py_tta(synthetic_dataset_dir,
                                             tmp_path):
    checkpoint = _untrained_checkpoint(str(tmp_path / 'untrained.pth'))
    options = _data_options(synthetic_dataset_dir)
    dist = run_tool(
        shell_tool('dist_test.sh') + [
            SYNTHETIC_CONFIG, checkpoint, '2', '--tta', '--work-dir',
            str(tmp_path / 'dist'), '--out',
            str(tmp_path / 'dist.pkl')
        ] + options,
        cwd=str(tmp_path), env=tool_env(PORT=str(free_port())))
    assert dist.returncode == 0, dist.stdout[-3000:]
    single = run_tool(
        python_tool('test.py') + [
            SYNTHETIC_CONFIG, checkpoint, '--tta', '--work-dir',
            str(tmp_path / 'single'), '--out',
            str(tmp_path / 'single.pkl')
        ] + options,
        cwd=str(tmp_path))
    assert single.returncode == 0, single.stdout[-3000:]
    assert printed_metrics(dist.stdout) == printed_metrics(single.stdout)
    assert_same_dumped_panoptic_maps(osp.join(tmp_path, 'dist.pkl'),
                                     osp.join(tmp_path, 'single.pkl'), 4)


def test_benchmark_tta_flip_run_keeps_the_test_scale_only(load_tool):
    tool = load_tool('analysis_tools/benchmark_tta.py')
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    flip = tool.first_scale_only(cfg)
    assert tool.num_views(cfg) == 6 and tool.num_views(flip) == 2
    assert [r.scale for r in flip.tta_pipeline[1].transforms[0]] == \
        [(256, 192)]
    # the config itself keeps its three scales
    assert len(cfg.tta_pipeline[1].transforms[0]) == 3
    metrics = {f'coco_panoptic/{k}': v
               for k, v in dict(PQ=50., PQ_th=40., PQ_st=60.).items()}
    text = tool.table([
        dict(name='plain', views=1, metrics=metrics, seconds=2., images=4),
        dict(name='flip', views=2, metrics=metrics, seconds=5., images=4)
    ])
    assert text.splitlines()[-1] == \
        '| flip | 2 | 50.0 | 40.0 | 60.0 | 1.25 | 2.5x |'
