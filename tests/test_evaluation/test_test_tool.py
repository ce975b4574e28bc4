"""``tools/test.py CONFIG CKPT``: progress over the images, then the PQ
table, mask AP and mIoU of the config's ``test_evaluator``."""
import os
import os.path as osp
import re
import subprocess
import sys

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmpfcn.registry import MODELS
from mmpfcn.utils import register_all_modules

PROJECT_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(PROJECT_ROOT, 'configs', 'panoptic_fcn',
                  'panoptic-fcn_r18_fpn_synthetic-panoptic.py')


def run_test_tool(checkpoint, root, tmp_path, *extra):
    """``tools/test.py CONFIG CHECKPOINT`` on the synthetic split at
    ``root`` (``extra`` before its ``--cfg-options``), in a subprocess."""
    return subprocess.run(
        [sys.executable, osp.join(PROJECT_ROOT, 'tools', 'test.py'), CONFIG,
         checkpoint, '--work-dir', str(tmp_path / 'work'), *extra,
         '--cfg-options',
         f'test_dataloader.dataset.data_root={root}/',
         'test_dataloader.num_workers=0',
         'test_dataloader.persistent_workers=False',
         # the three metrics of the list
         *[f'test_evaluator.{i}.ann_file={root}/annotations/'
           'panoptic_val.json' for i in range(3)],
         *[f'test_evaluator.{i}.seg_prefix={root}/annotations/panoptic_val/'
           for i in range(3)]],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=PROJECT_ROOT, OMP_NUM_THREADS='1'))


def test_test_tool_prints_progress_and_the_pq_table(synthetic_dataset_dir,
                                                     tmp_path):
    # An untrained model: the numbers are near 0, the output is complete.
    register_all_modules(init_default_scope=False)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        model = MODELS.build(Config.fromfile(CONFIG).model)
    checkpoint = str(tmp_path / 'untrained.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)

    proc = run_test_tool(checkpoint, synthetic_dataset_dir, tmp_path,
                         '--log-interval', '1')
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    # Progress: a line per image of the 4-image split, then the table
    # (the metrics line repeats [4/4]).
    progress = [int(n) for n in re.findall(r'Iter\(test\) \[(\d)/4\]', out)]
    assert progress[:4] == [1, 2, 3, 4]
    start = out.index('|     PQ     SQ     RQ     N')
    assert out.index('Iter(test) [3/4]') < start
    table = out[start:]
    rows = [line.split() for line in table.splitlines()[2:5]]
    assert [row[0] for row in rows] == ['All', 'Things', 'Stuff']
    assert all(row[1] == '|' and len(row) == 6 for row in rows)
    assert 'Mask AP:' in out
    for key in ('PQ', 'PQ_th', 'PQ_st', 'AP', 'mIoU'):
        assert f'coco_panoptic/{key}: ' in out, key


def test_test_tool_refuses_a_checkpoint_of_another_config(
        synthetic_dataset_dir, tmp_path):
    # ResNet-34 weights into the ResNet-18 config: mmengine would load the
    # keys that fit, evaluate the rest at random and exit 0
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.depth = 34
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        model = MODELS.build(cfg.model)
    state = model.state_dict()
    state['panoptic_head.thing_generator.embed_extractor.bias'] = \
        torch.zeros(3)
    checkpoint = str(tmp_path / 'r34.pth')
    torch.save(dict(state_dict=state, meta={}), checkpoint)

    proc = run_test_tool(checkpoint, synthetic_dataset_dir, tmp_path)
    assert proc.returncode != 0
    out = proc.stderr
    assert 'Traceback' not in out, out[-3000:]
    assert f"tools/test.py: error: checkpoint '{checkpoint}' does not fit " \
        'the model of the config:' in out
    assert 'unexpected keys (' in out and 'backbone.layer1.2.conv1.weight' \
        in out
    assert 'shape mismatches (1): panoptic_head.thing_generator.' \
        'embed_extractor.bias (3,) in checkpoint vs (64,)' in out
    assert 'Iter(test)' not in proc.stdout + out  # nothing evaluated


def test_test_tool_names_a_config_typo_before_reading_data(tmp_path):
    proc = subprocess.run(
        [sys.executable, osp.join(PROJECT_ROOT, 'tools', 'test.py'), CONFIG,
         str(tmp_path / 'no_checkpoint.pth'), '--work-dir',
         str(tmp_path / 'work'), '--cfg-options',
         'test_dataloader.batch_szie=1',
         f'test_dataloader.dataset.data_root={tmp_path}/no_data/'],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=PROJECT_ROOT, OMP_NUM_THREADS='1'))
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == (
        'tools/test.py: error: config key `test_dataloader.batch_szie`: '
        "`test_dataloader` takes no key 'batch_szie'; did you mean "
        "'batch_size'?")
    assert 'Traceback' not in proc.stderr and 'no_data' not in proc.stderr
