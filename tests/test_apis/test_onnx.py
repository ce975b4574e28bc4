"""ONNX export of the network and the onnxruntime-backed predictor: same
network outputs (max abs diff < 1e-4) at sizes other than the export's,
same panoptic results as PyTorch, with and without the (pure-PyTorch)
deformable position head; a clear refusal for mmcv's deformable convs."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.evaluation import INSTANCE_OFFSET
from mmengine.config import Config

from mmpfcn.apis import (
    NotExportableError,
    ONNXPanopticPredictor,
    export_onnx,
    inference_model,
    init_model,
)
from mmpfcn.apis.onnx_export import TensorForward
from mmpfcn.registry import MODELS
from mmpfcn.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(ROOT, 'configs/panoptic_fcn/'
                       'panoptic-fcn_r18_fpn_synthetic-panoptic.py')
IMAGES = [
    osp.join(ROOT, 'tests/data/coco_panoptic_sample/images', name)
    for name in ('000000142238.jpg', '000000439180.jpg')
]
KEEP_ALL = {'model.test_cfg.merge_thing_thr': 0.0,
            'model.test_cfg.stuff_area_limit': 1}
POSITION_DCN = {'model.panoptic_head.kernel_generator.position_dcn': True}
MMCV_DCN = {**POSITION_DCN,
            'model.panoptic_head.kernel_generator.dcn_impl': 'mmcv'}


def _export(root, cfg_options):
    register_all_modules()
    torch.manual_seed(0)
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(cfg_options)
    model = MODELS.build(cfg.model)
    model.init_weights()
    for name, param in model.named_parameters():
        if 'conv_offset' in name:  # offsets of a few pixels, not the grid
            torch.nn.init.normal_(param, std=0.01)
    checkpoint = str(root / 'model.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    cfg_options = {**cfg_options, **KEEP_ALL}
    model = init_model(DEMO_CONFIG, checkpoint, cfg_options=cfg_options)
    onnx_file = str(root / 'model.onnx')
    export_onnx(model, onnx_file, shape=(192, 256))
    return model, checkpoint, onnx_file, cfg_options


@pytest.fixture(scope='module')
def plain(tmp_path_factory):
    return _export(tmp_path_factory.mktemp('onnx'), {})


@pytest.fixture(scope='module')
def position_dcn(tmp_path_factory):
    return _export(tmp_path_factory.mktemp('onnx_dcn'), POSITION_DCN)


@pytest.fixture(params=['plain', 'position_dcn'])
def exported(request):
    return request.getfixturevalue(request.param)


def test_deformable_head_exports_to_standard_ops(exported):
    import onnx
    model, _, onnx_file, cfg_options = exported
    graph = onnx.load(onnx_file).graph
    ops = {node.op_type for node in graph.node}
    assert {node.domain for node in graph.node} <= {''}  # no custom op
    has_dcn = 'kernel_generator.position_dcn' in str(cfg_options)
    assert ('GridSample' in ops) == has_dcn
    assert any(
        type(m).__name__ == 'ModulatedDeformConv2dPackPT'
        for m in model.modules()) == has_dcn


def test_onnxruntime_matches_pytorch_at_other_sizes(exported):
    model, checkpoint, onnx_file, cfg_options = exported
    predictor = ONNXPanopticPredictor(onnx_file, DEMO_CONFIG, checkpoint,
                                      cfg_options=cfg_options)
    rng = np.random.default_rng(0)
    for shape in ((2, 3, 192, 256), (1, 3, 320, 224)):
        inputs = torch.from_numpy(
            rng.normal(0, 50, size=shape).astype(np.float32))
        with torch.no_grad():
            expected = TensorForward(model)(inputs)
        found = predictor.network(inputs)
        flat = [*found[0], *found[1], *found[2], found[3]]
        assert len(flat) == len(expected) == 16
        for out, ref in zip(flat, expected):
            assert out.shape == ref.shape
            assert (out - ref).abs().max().item() < 1e-4


def test_onnx_predictor_gives_the_pytorch_panoptic_result(exported):
    model, checkpoint, onnx_file, cfg_options = exported
    predictor = ONNXPanopticPredictor(onnx_file, DEMO_CONFIG, checkpoint,
                                      cfg_options=cfg_options)
    ours = predictor(IMAGES, batch_size=2)
    reference = inference_model(model, IMAGES, batch_size=2)
    for got, want in zip(ours, reference):
        pan = want.pred_panoptic_seg.sem_seg
        assert (pan % INSTANCE_OFFSET != 8).any()  # not all void
        # the untrained model's many near-identical candidates may flip a
        # few pixels at the mask threshold (1e-4 apart in the network's
        # outputs), in the masks and so in the panoptic map
        assert (got.pred_panoptic_seg.sem_seg != pan).float().mean() < 1e-3
        masks, ref_masks = got.pred_instances.masks, want.pred_instances.masks
        assert masks.shape == ref_masks.shape
        assert (masks != ref_masks).float().mean() < 1e-3
        torch.testing.assert_close(got.pred_instances.scores,
                                   want.pred_instances.scores,
                                   rtol=0, atol=1e-4)
    single = predictor(IMAGES[0])
    assert (single.pred_panoptic_seg.sem_seg !=
            reference[0].pred_panoptic_seg.sem_seg).float().mean() < 1e-3


def test_wrong_onnx_file_for_the_config(plain, tmp_path):
    _, checkpoint, onnx_file, _ = plain
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.model.panoptic_head.num_things_classes = 3
    with pytest.raises(ValueError, match='do not fit the config'):
        ONNXPanopticPredictor(onnx_file, cfg, None)


def test_mmcv_deformable_convs_are_refused_before_writing(tmp_path):
    model = init_model(DEMO_CONFIG, None, cfg_options=MMCV_DCN)
    out = tmp_path / 'dcn.onnx'
    with pytest.raises(NotExportableError,
                       match='mmcv deformable convolution.*dcn_impl=pytorch'):
        export_onnx(model, str(out), shape=(64, 64))
    assert not out.exists()
    pure = init_model(DEMO_CONFIG, None, cfg_options=POSITION_DCN)
    with pytest.raises(NotExportableError,
                       match='GridSample, which needs --opset >= 16; got 13'):
        export_onnx(pure, str(out), shape=(64, 64), opset_version=13)
    assert not out.exists()
    with pytest.raises(ValueError, match='multiples of 32'):
        export_onnx(init_model(DEMO_CONFIG), str(out), shape=(60, 64))


def test_export_tool(plain, tmp_path, capsys, load_tool):
    _, checkpoint, _, _ = plain
    tool = load_tool('deployment/export_onnx.py')
    out = tmp_path / 'cli.onnx'
    assert tool.main([DEMO_CONFIG, checkpoint, '--out', str(out), '--shape',
                      '64', '96']) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and 'max abs difference' in printed
    dcn_options = [f'{key}={value}' for key, value in MMCV_DCN.items()]
    dcn = init_model(DEMO_CONFIG, None, cfg_options=MMCV_DCN)
    dcn_checkpoint = str(tmp_path / 'dcn.pth')
    torch.save(dict(state_dict=dcn.state_dict()), dcn_checkpoint)
    refused = tmp_path / 'refused.onnx'
    assert tool.main([
        DEMO_CONFIG, dcn_checkpoint, '--out', str(refused), '--cfg-options',
        *dcn_options
    ]) == 1
    err = capsys.readouterr().err
    assert 'deformable convolution' in err and 'no file was written' in err
    assert not refused.exists()
