"""analyze_logs.py plot_curve on mmengine-style scalars.json logs."""
import json

import mmcv
import pytest

from mmpfcn.visualization.training_curves import load_scalars


def write_log(path, num_iters=60, pq_every=20):
    lines = []
    for step in range(10, num_iters + 1, 10):
        lines.append(dict(lr=0.01, loss=10.0 / step, loss_seg_th=5.0 / step,
                          iter=step, step=step, time=0.5))
        if step % pq_every == 0:
            lines.append({'coco_panoptic/PQ': float(step), 'step': step})
    path.write_text('\n'.join(json.dumps(line) for line in lines) + '\n')
    return str(path)


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('analysis_tools/analyze_logs.py')


def test_load_scalars(tmp_path):
    series = load_scalars(write_log(tmp_path / 'scalars.json'))
    steps, values = series['loss']
    assert steps == [10, 20, 30, 40, 50, 60]
    assert values[0] == pytest.approx(1.0)
    assert series['coco_panoptic/PQ'] == ([20, 40, 60], [20.0, 40.0, 60.0])
    assert 'step' not in series and 'iter' not in series


def test_plot_curve_writes_one_panel_per_key(tool, tmp_path, capsys):
    first = write_log(tmp_path / 'a.json')
    second = write_log(tmp_path / 'b.json', num_iters=40)
    out = tmp_path / 'plots' / 'curves.png'
    code = tool.main(['plot_curve', first, second, '--keys', 'loss',
                      'loss_seg_th', 'PQ', '--legend', 'a', 'b', '--out',
                      str(out)])
    assert code == 0
    assert 'coco_panoptic/PQ plotted' in capsys.readouterr().out
    three = mmcv.imread(str(out))
    tool.main(['plot_curve', first, '--keys', 'loss', '--out', str(out)])
    one = mmcv.imread(str(out))
    # one panel per key: three panels are taller than one
    assert three.shape[0] > 2 * one.shape[0] > 0


def test_plot_curve_errors(tool, tmp_path, capsys):
    log = write_log(tmp_path / 'scalars.json')
    out = str(tmp_path / 'x.png')
    assert tool.main(['plot_curve', log, '--keys', 'mIoU', '--out',
                      out]) == 1
    err = capsys.readouterr().err
    assert "'mIoU' is in none of the logs" in err and 'loss_seg_th' in err
    bad = tmp_path / 'bad.json'
    bad.write_text('{"loss": 1, "step": 1}\n[1, 2]\n')
    assert tool.main(['plot_curve', str(bad), '--out', out]) == 1
    assert 'bad.json:2' in capsys.readouterr().err
    assert tool.main(['plot_curve', log, '--legend', 'a', 'b', '--out',
                      out]) == 1
