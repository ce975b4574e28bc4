"""pq_eval.py is a stand-alone command: it and the PQ engine load without
torch, mmengine or mmdet (most of its time used to be their start-up)."""
import json
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(ROOT, 'tests/data/coco_panoptic_sample')
HEAVY = ('torch', 'mmengine', 'mmdet', 'mmcv')

SCRIPT = """
import json, runpy, sys
sys.argv = ['pq_eval.py'] + sys.argv[1:]
try:
    runpy.run_path({tool!r}, run_name='__main__')
except SystemExit as exit:
    code = exit.code
print(json.dumps(dict(code=code, loaded=[m for m in {heavy!r}
                                         if m in sys.modules])))
"""


def test_pq_eval_runs_without_torch_mmengine_mmdet(tmp_path):
    tool = osp.join(ROOT, 'tools/analysis_tools/pq_eval.py')
    gt_json = osp.join(SAMPLE, 'panoptic_examples.json')
    gt_dir = osp.join(SAMPLE, 'panoptic')
    out = str(tmp_path / 'metrics.json')
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, '-c', SCRIPT.format(tool=tool, heavy=HEAVY),
         gt_json, gt_dir, gt_json, gt_dir, '--out', out, '--nproc', '1'],
        capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == dict(code=0, loaded=[]), proc.stderr
    with open(out) as f:
        assert json.load(f)['PQ'] == 100.0  # GT against itself


def test_importing_mmpfcn_loads_no_framework():
    code = ('import sys, mmpfcn, mmpfcn.evaluation.functional; '
            f'print([m for m in {HEAVY!r} if m in sys.modules])')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=ROOT),
                          check=True)
    assert proc.stdout.strip() == '[]'


def test_trusted_loaders_are_registered_whatever_the_import_order():
    for first, then in (('mmpfcn', 'mmengine.runner'),
                        ('mmengine.runner', 'mmpfcn'),
                        ('mmpfcn.utils', 'mmengine.runner')):
        code = (f'import {first}, {then}; '
                'from mmengine.runner.checkpoint import CheckpointLoader; '
                "print(CheckpointLoader._schemes[''].__module__)")
        proc = subprocess.run([sys.executable, '-c', code],
                              capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=ROOT),
                              check=True)
        assert proc.stdout.strip() == 'mmpfcn.utils.checkpoint', (first,
                                                                  then)
