"""tools/analysis_tools/pq_eval.py: table, --out JSON, engines, errors."""
import contextlib
import io
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from panopticapi.evaluation import pq_compute as panopticapi_pq_compute

from mmpfcn.testing.panoptic_cases import (
    CASE_CATEGORIES,
    make_case,
    write_split,
)

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


def test_wrong_ground_truth_areas_give_panopticapi_pq_on_true_areas(
        pq_eval, dataset, tmp_path):
    """A tenth of every GT area made panopticapi's IoUs exceed 1 (PQ above
    100 %); PQ counts the PNG's pixels instead."""
    _, (gt_json, gt_dir, pred_json, pred_dir), reference = dataset
    with open(gt_json) as f:
        gt = json.load(f)
    for ann in gt['annotations']:
        for seg in ann['segments_info']:
            seg['area'] = max(1, seg['area'] // 10)
    wrong = tmp_path / 'gt.json'
    wrong.write_text(json.dumps(gt))
    out = tmp_path / 'metrics.json'
    for engine in ('hotcoco', 'panopticapi'):
        assert pq_eval.main([str(wrong), gt_dir, pred_json, pred_dir,
                             '--engine', engine, '--nproc', '1',
                             '--out', str(out)]) == 0
        check_metrics(json.loads(out.read_text()), reference)


def test_files_that_are_not_json_are_named(pq_eval, dataset, tmp_path,
                                           capsys):
    _, (gt_json, gt_dir, pred_json, pred_dir), _ = dataset
    text = tmp_path / 'text.json'
    text.write_text('PQ 41.2\n')
    binary = tmp_path / 'binary.json'
    binary.write_bytes(b'\x89PNG\r\n\x1a\n\x00\xff')
    for bad in (text, binary):
        assert pq_eval.main([gt_json, gt_dir, str(bad), pred_dir]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f'pq_eval: error: {bad}: not a JSON file (')
        assert err.endswith('expected a COCO panoptic JSON with '
                            '`annotations` lists\n')
        assert pq_eval.main([str(bad), gt_dir, pred_json, pred_dir]) == 1
        assert '`annotations` and `categories` lists' in \
            capsys.readouterr().err
    no_categories = tmp_path / 'no_categories.json'
    no_categories.write_text(json.dumps({'annotations': []}))
    assert pq_eval.main([str(no_categories), gt_dir, pred_json,
                         pred_dir]) == 1
    assert f'{no_categories}: expected a COCO panoptic JSON with a ' \
        '`categories` list' in capsys.readouterr().err


def test_bad_pngs_give_one_line_errors(dataset, tmp_path):
    """Grey and RGBA PNGs, and a PNG of another size than its image entry,
    end the command with one line naming the file (no traceback)."""
    from PIL import Image
    _, (gt_json, gt_dir, pred_json, pred_dir), _ = dataset
    cases = [('L', 'pred', "is (48, 64), PIL mode 'L'; a COCO panoptic PNG "
              'must be RGB with 8 bits per channel, (H, W, 3) = (48, 64, 3)'),
             ('RGBA', 'gt', "is (48, 64, 4), PIL mode 'RGBA'"),
             ('size', 'gt', 'PNG size (h, w) (48, 63) differs from the image '
              'entry (height, width) (48, 64)')]
    for case, side, message in cases:
        folders = {}
        for name, folder in (('gt', gt_dir), ('pred', pred_dir)):
            folders[name] = str(tmp_path / case / name)
            os.makedirs(folders[name])
            for file_name in os.listdir(folder):
                Image.open(osp.join(folder, file_name)).save(
                    osp.join(folders[name], file_name))
        path = osp.join(folders[side], '000022.png')
        image = Image.open(path)
        if case == 'size':
            image.crop((0, 0, 63, 48)).save(path)
            # the prediction too, so that only the image entry disagrees
            pred_path = osp.join(folders['pred'], '000022.png')
            Image.open(pred_path).crop((0, 0, 63, 48)).save(pred_path)
        else:
            image.convert(case).save(path)
        proc = subprocess.run(
            [sys.executable, SCRIPT, gt_json, folders['gt'], pred_json,
             folders['pred'], '--nproc', '1'],
            env=dict(os.environ, PYTHONPATH=PROJECT_ROOT),
            capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, case
        describe = 'ground truth' if side == 'gt' else 'prediction'
        assert proc.stderr.startswith(
            f'pq_eval: error: {describe} of image 22 (000022.png): '), case
        assert message in proc.stderr, (case, proc.stderr)
        if case != 'size':
            assert f'PNG {path} ' in proc.stderr
        assert proc.stderr.count('\n') == 1, proc.stderr
