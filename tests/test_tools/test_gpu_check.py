"""``tools/analysis_tools/gpu_check.py``: the whole check against itself on
the CPU (a small model, short side 64), so that the script the GPU run
needs cannot rot; a planted difference on the reference side fails it; its
comparison functions on tensors that differ; the mmcv NMS diversion."""
import importlib
import math
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools/analysis_tools/gpu_check.py')
DEMO_CONFIG = osp.join(ROOT, 'configs/panoptic_fcn/'
                       'panoptic-fcn_r18_fpn_synthetic-panoptic.py')
# the demo model with COCO's classes: the training check reads the sample
COCO_CLASSES = ('model.panoptic_head.num_things_classes=80',
                'model.panoptic_head.num_stuff_classes=53')
SMALL = ['--device', 'cpu', '--ref-device', 'cpu', '--config', DEMO_CONFIG,
         '--scale', '64', '--iters', '2']
ROWS = (
    'cpu vs cpu fp32, thing logits: max relative difference',
    'cpu vs cpu fp32, stuff logits: max relative difference',
    'cpu vs cpu fp32, kernel maps: max relative difference',
    'cpu vs cpu fp32, F_e: max relative difference',
    'cpu vs cpu fp32, panoptic maps: pixels that differ',
    'training batch: built twice',
    'training fp32 on cpu, 2 iterations: losses finite',
    'training bf16 (torch.autocast cpu, OptimWrapper) on cpu, 2 iterations',
    'training fp16 on cpu',
    'fp32 first-iteration losses: cpu vs cpu',
    'inference Panoptic FCN, short side 64, batch 1, fp32',
    'inference Panoptic FCN, short side 64, batch 1, TF32',
    'inference Panoptic FCN, short side 64, batch 1, AMP bf16 autocast',
    'inference Panoptic FPN R50 (mmdet), short side 64, batch 1, fp32',
)


def table_rows(table: str) -> dict:
    """check -> [value, threshold, status] of a printed table."""
    rows = {}
    for line in table.splitlines():
        if line.startswith('| ') and not line.startswith('| check |'):
            cells = [c.strip() for c in line.strip('|').split(' | ')]
            rows[cells[0]] = cells[1:]
    return rows


def find(rows: dict, prefix: str) -> list:
    matches = [cells for name, cells in rows.items()
               if name.startswith(prefix)]
    assert len(matches) == 1, f'{prefix!r}: {len(matches)} rows in {rows}'
    return matches[0]


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('analysis_tools/gpu_check.py')


@pytest.fixture(scope='module')
def parts(tool):
    """The device_check modules (importable once the tool is loaded)."""
    return {name: importlib.import_module(f'device_check.{name}')
            for name in ('compare', 'equality', 'mmcv_fallback', 'table')}


def test_cpu_against_cpu_passes_with_every_row(tmp_path):
    out = tmp_path / 'table.md'
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, TOOL, *SMALL, '--batch-sizes', '1',
         '--timing-runs', '1', '--warmup', '1', '--out', str(out),
         '--cfg-options', *COCO_CLASSES],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = out.read_text()
    assert table in proc.stdout and table.endswith('all checks passed\n')
    rows = table_rows(table)
    for check in ROWS:
        find(rows, check)
    assert {cells[-1] for cells in rows.values()} <= {'pass', 'info', 'n/a'}
    # cpu against itself: exactly equal
    for check in ROWS[:5] + ROWS[9:10]:
        assert find(rows, check)[0].startswith('0.00e+00'), check
        assert find(rows, check)[-1] == 'pass'
    for check in ROWS[6:8]:
        assert find(rows, check)[-1] == 'pass'
    # ours runs in fp32 and under CPU autocast
    for check in (ROWS[10], ROWS[12]):
        assert 'FPS' in find(rows, check)[0] and 'MB' in find(rows, check)[0]
    assert find(rows, ROWS[11])[0] == 'n/a on cpu'
    assert 'FPS' in find(rows, ROWS[13])[0]


def test_planted_differences_fail(tool, monkeypatch, tmp_path, capsys):
    """A kernel map and a loss moved by 1e-3 on the reference side: their
    rows fail, the others pass, the exit status is 1."""
    outputs, losses = tool.equality.network_outputs, tool.training.train
    calls = []

    def planted_outputs(model, batch):
        result = outputs(model, batch)
        calls.append(1)
        if len(calls) > 2:  # the reference device's two images
            kernels = [k.clone() for k in result['kernels']]
            kernels[0][0, 0, 0, 0] += 1e-3 * kernels[0].abs().max()
            result['kernels'] = kernels
        return result

    def planted_train(model, batch, optim_cfg, device, precision, iters):
        result = losses(model, batch, optim_cfg, device, precision, iters)
        if iters == 1:  # the reference device's step (ours take 2)
            result[0]['loss'] *= 1 + 1e-3
        return result

    monkeypatch.setattr(tool.equality, 'network_outputs', planted_outputs)
    monkeypatch.setattr(tool.training, 'train', planted_train)
    out = tmp_path / 'table.md'
    assert tool.main([*SMALL, '--skip-timing', '--out', str(out),
                      '--cfg-options', *COCO_CLASSES]) == 1
    table = out.read_text()
    assert table in capsys.readouterr().out and table.endswith('FAILED\n')
    rows = table_rows(table)
    failed = sorted(name for name, cells in rows.items()
                    if cells[-1] == 'FAIL')
    assert failed == [
        'cpu vs cpu fp32, kernel maps: max relative difference',
        'fp32 first-iteration losses: cpu vs cpu (max relative difference)']
    value = find(rows, 'cpu vs cpu fp32, kernel maps')[0]
    assert float(value) == pytest.approx(1e-3, rel=1e-2)
    assert find(rows, 'fp32 first-iteration')[0].endswith('(loss)')
    assert not any(name.startswith('inference') for name in rows)


def test_differing_outputs_fail(parts):
    compare, equality, table = (parts['compare'], parts['equality'],
                                parts['table'])
    torch.manual_seed(0)
    ref = torch.randn(2, 8, 5, 7, dtype=torch.float64)
    assert compare.max_relative_difference(ref.clone(), ref) == 0
    close = ref + 1e-6 * ref.abs().max()
    assert compare.max_relative_difference(close, ref) == pytest.approx(
        1e-6, rel=1e-3)
    moved = ref.clone()
    moved[1, 3, 2, 4] += 1e-3 * ref.abs().max()
    assert compare.max_relative_difference([ref, moved], [ref, ref]) == \
        pytest.approx(1e-3, rel=1e-3)
    assert compare.max_relative_difference(ref[:1], ref) == math.inf
    assert compare.max_relative_difference([ref], [ref, ref]) == math.inf
    nan = ref.clone()
    nan[0, 0, 0, 0] = float('nan')
    assert compare.max_relative_difference(nan, ref) == math.inf

    outputs = dict(thing=[ref], stuff=[ref], kernels=[ref, ref],
                   encoded=ref, panoptic=[torch.zeros(1, 4, 4)])
    same = equality.compare_outputs([outputs], [outputs])
    assert [row.status for row in same] == ['pass'] * 5
    assert table.exit_status(same) == 0
    pan = torch.zeros(1, 4, 4)
    pan[0, 1, 2] = 7
    differing = dict(outputs, kernels=[ref, moved], panoptic=[pan])
    rows = equality.compare_outputs([differing], [outputs])
    assert [row.status for row in rows] == [
        'pass', 'pass', 'FAIL', 'pass', 'FAIL']
    assert rows[-1].value == f'{1 / 16:.2e}'
    assert table.exit_status(rows) == 1
    assert compare.mismatch_fraction(pan, pan[:, :2]) == 1.0


def test_losses_that_differ_fail(tool):
    row = tool.training.compare_losses(
        dict(loss=1.0, loss_a=0.5), dict(loss=1.0, loss_a=0.5), 'l')
    assert row.status == 'pass' and row.value.startswith('0.00e+00')
    row = tool.training.compare_losses(
        dict(loss=1.0, loss_a=0.5002), dict(loss=1.0, loss_a=0.5), 'l')
    assert row.status == 'FAIL' and row.value.endswith('(loss_a)')
    row = tool.training.compare_losses(dict(loss=1.0),
                                       dict(loss=1.0, loss_a=0.5), 'l')
    assert row.status == 'FAIL' and row.value == 'inf (loss_a)'


def test_nms_diversion_and_torchvision_roi_align(parts):
    """The diverted NMS gets the boxes mmcv's kernel would have had (here
    the diversion runs mmcv's own CPU kernel, so the result is the same);
    mmcv's kernel is back afterwards."""
    from mmcv.ops import RoIAlign, batched_nms
    nms_module = importlib.import_module('mmcv.ops.nms')
    fallback = parts['mmcv_fallback']
    torch.manual_seed(0)
    xy = torch.rand(50, 2) * 40
    boxes = torch.cat([xy, xy + torch.rand(50, 2) * 20 + 1], dim=1)
    scores, labels = torch.rand(50), torch.randint(0, 3, (50, ))
    cfg = dict(type='nms', iou_threshold=0.5)
    expected = batched_nms(boxes, scores, labels, cfg)
    original = nms_module.ext_module
    seen = []

    def spy(b, s, iou):
        seen.append((b.shape[0], iou))
        return original.nms(b, s, iou_threshold=iou, offset=0)

    with fallback.divert_nms(spy, divert=lambda t: True):
        diverted = batched_nms(boxes, scores, labels, cfg)
    assert seen == [(50, 0.5)]
    assert torch.equal(diverted[1], expected[1])
    assert torch.equal(diverted[0], expected[0])
    assert nms_module.ext_module is original
    with fallback.divert_nms(spy):  # CPU tensors stay on mmcv's kernel
        batched_nms(boxes, scores, labels, cfg)
    assert len(seen) == 1
    assert fallback.mmcv_has_cuda_ops() in (True, False)

    model = torch.nn.Sequential(RoIAlign(7, 0.25), torch.nn.ReLU(),
                                torch.nn.Sequential(RoIAlign(14, 0.125)))
    assert fallback.use_torchvision_roi_align(model) == 2
    assert model[0].use_torchvision and model[2][0].use_torchvision


def test_no_cuda_is_a_clear_error(tool, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(SystemExit) as exc:
        tool.parse_args(['--device', 'cuda'])
    assert exc.value.code == 2
    assert 'no CUDA device' in capsys.readouterr().err


def test_test_scale_is_set_on_the_resize(tool):
    from mmengine.config import Config
    models = importlib.import_module('device_check.models')
    cfg = Config.fromfile(DEMO_CONFIG)
    models.set_test_scale(cfg, 400, DEMO_CONFIG)
    resize = [step for step in cfg.test_dataloader.dataset.pipeline
              if step['type'] == 'Resize']
    assert resize[0]['scale'] == (666, 400)
    del cfg.test_dataloader.dataset.pipeline[1]
    cfg.test_pipeline = []
    with pytest.raises(ValueError, match='no Resize/PanopticResize'):
        models.set_test_scale(cfg, 400, DEMO_CONFIG)
