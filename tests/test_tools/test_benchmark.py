"""benchmark.py on a tiny run: every stage timed, the ONNX backend and
mmdet's Panoptic FPN side by side."""
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(ROOT, 'configs/panoptic_fcn/'
                       'panoptic-fcn_r18_fpn_synthetic-panoptic.py')


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('analysis_tools/benchmark.py')


def test_stage_table_with_onnx_and_panoptic_fpn(tool, capsys):
    assert tool.main([DEMO_CONFIG, '--num-images', '2', '--shape', '96',
                      '128', '--backend', 'onnxruntime']) == 0
    out = capsys.readouterr().out
    header = [line for line in out.splitlines()
              if 'Panoptic FCN (pytorch)' in line and '|' in line][0]
    assert 'Panoptic FCN (onnxruntime)' in header
    assert 'panoptic-fpn_r50_fpn_1x_coco.py' in header
    for stage in tool.STAGES + ('other', 'peak memory (MB)'):
        assert stage in out, stage
    rows = {line.split('|')[0].strip(): line for line in out.splitlines()
            if '|' in line}
    # the first column is the reference of the ratios
    assert '(1.00x)' in rows['end to end (ms / image)'].split('|')[1]
    # PyTorch has every network stage; ONNX one network row instead
    cells = rows['backbone + FPN'].split('|')
    assert '%' in cells[1] and '%' not in cells[2] and '%' in cells[3]
    assert '%' in rows['network (onnxruntime)'].split('|')[2]
    assert '%' in rows['panoptic merge'].split('|')[1]
    # the peak heap of every stage, in its own row
    for stage in ('backbone + FPN', 'panoptic merge', 'RPN + RoI heads'):
        assert f'{stage} (MB)' in rows, stage
    assert rows['RPN + RoI heads (MB)'].split('|')[3].strip().isdigit()


def test_stage_timer_restores_what_it_wraps(tool):
    import types
    module = types.SimpleNamespace(f=lambda x: x + 1)
    original = module.f
    timer = tool.StageTimer()
    with timer.wrap(module, 'f', 'f'):
        assert module.f(1) == 2
    assert module.f is original and timer.seconds['f'] > 0


def test_optimized_column(tool, capsys):
    assert tool.main([DEMO_CONFIG, '--num-images', '1', '--shape', '96',
                      '128', '--no-baseline', '--with-optimized']) == 0
    out = capsys.readouterr().out
    assert 'freed memory kept' in out
    rows = {line.split('|')[0].strip(): line.split('|')[1:]
            for line in out.splitlines() if '|' in line}
    assert [c.strip() for c in rows['']] == [
        'Panoptic FCN (pytorch)', 'Panoptic FCN (folded, NHWC)']
    for stage in ('backbone + FPN', 'kernel generator', 'panoptic merge'):
        assert all('%' in cell for cell in rows[stage]), stage
