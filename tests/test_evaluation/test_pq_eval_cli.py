"""tools/analysis_tools/pq_eval.py: table, --out JSON, engines, errors."""
import contextlib
import io
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from panoptic_cases import CASE_CATEGORIES, make_case, write_split
from panopticapi.evaluation import pq_compute as panopticapi_pq_compute

PROJECT_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(PROJECT_ROOT, 'tools', 'analysis_tools', 'pq_eval.py')
HEADLINE_KEYS = ['PQ', 'SQ', 'RQ', 'PQ_th', 'SQ_th', 'RQ_th', 'PQ_st',
                 'SQ_st', 'RQ_st']


@pytest.fixture(scope='module')
def pq_eval(load_tool):
    return load_tool('analysis_tools/pq_eval.py')


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    """Six generated images as COCO panoptic JSON + PNG folders, and
    panopticapi's own results on them."""
    root = str(tmp_path_factory.mktemp('cli'))
    pairs = [make_case(seed) for seed in range(20, 26)]
    gt_json, gt_dir = write_split(root, 'gt', pairs)
    pred_json, pred_dir = write_split(root, 'pred', pairs)
    with contextlib.redirect_stdout(io.StringIO()):
        reference = panopticapi_pq_compute(gt_json, pred_json, gt_dir,
                                           pred_dir)
    return root, [gt_json, gt_dir, pred_json, pred_dir], reference


def check_metrics(metrics: dict, reference: dict) -> None:
    """``--out`` JSON against panopticapi's fractions (ours in percent)."""
    assert list(metrics) == HEADLINE_KEYS + ['per_class']
    for group, suffix in (('All', ''), ('Things', '_th'), ('Stuff', '_st')):
        for key in ('pq', 'sq', 'rq'):
            assert metrics[key.upper() + suffix] == pytest.approx(
                100 * reference[group][key], abs=1e-7)
    assert set(metrics['per_class']) == {str(c['id'])
                                         for c in CASE_CATEGORIES}
    for cat_id, res in reference['per_class'].items():
        row = metrics['per_class'][str(cat_id)]
        assert row['PQ'] == pytest.approx(100 * res['pq'], abs=1e-7)
        assert row['RQ'] == pytest.approx(100 * res['rq'], abs=1e-7)
    assert metrics['per_class']['7']['name'] == 'sky'


def test_main_prints_table_and_writes_metrics(pq_eval, dataset, tmp_path,
                                              capsys):
    _, paths, reference = dataset
    out = tmp_path / 'metrics.json'
    assert pq_eval.main(paths + ['--nproc', '1', '--out', str(out),
                                 '--classwise']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split() == [
        'All', '|', f"{100 * reference['All']['pq']:.1f}",
        f"{100 * reference['All']['sq']:.1f}",
        f"{100 * reference['All']['rq']:.1f}", str(reference['All']['n'])]
    assert any(line.split()[0] == 'pred_only' for line in lines)
    check_metrics(json.loads(out.read_text()), reference)


def test_command_line_with_panopticapi_engine(dataset, tmp_path):
    _, paths, reference = dataset
    out = tmp_path / 'metrics.json'
    proc = subprocess.run(
        [sys.executable, SCRIPT, *paths, '--engine', 'panopticapi',
         '--nproc', '2', '--out', str(out)],
        env=dict(os.environ, PYTHONPATH=PROJECT_ROOT), capture_output=True,
        text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'Things' in proc.stdout
    check_metrics(json.loads(out.read_text()), reference)


def test_bad_input_exits_with_a_message(pq_eval, dataset, tmp_path,
                                        capsys):
    root, (gt_json, gt_dir, pred_json, pred_dir), _ = dataset
    with open(pred_json) as f:
        pred = json.load(f)
    pred['annotations'][1]['segments_info'].pop()
    bad_json = tmp_path / 'pred.json'
    bad_json.write_text(json.dumps(pred))
    assert pq_eval.main([gt_json, gt_dir, str(bad_json), pred_dir]) == 1
    err = capsys.readouterr().err
    assert err.startswith('pq_eval: error: ')
    assert 'prediction of image 21 (000021.png)' in err
    assert 'in the PNG but not in segments_info' in err

    assert pq_eval.main([gt_json, gt_dir, pred_json, str(tmp_path)]) == 1
    assert 'prediction of image 20 (000020.png): PNG' in \
        capsys.readouterr().err
    bad_json.write_text(json.dumps({'images': []}))
    assert pq_eval.main([gt_json, gt_dir, str(bad_json), pred_dir]) == 1
    assert 'with a `annotations` list' in capsys.readouterr().err
    assert pq_eval.main([gt_json, str(tmp_path / 'nope'), pred_json,
                         pred_dir]) == 1
    assert 'nope does not exist' in capsys.readouterr().err
