"""ONNX export of the network and the onnxruntime-backed predictor: same
network outputs (max abs diff < 1e-4) at sizes other than the export's,
same panoptic results as PyTorch, a clear refusal for deformable convs."""
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


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp('onnx')
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(DEMO_CONFIG).model)
    model.init_weights()
    checkpoint = str(root / 'model.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    model = init_model(DEMO_CONFIG, checkpoint, cfg_options=KEEP_ALL)
    onnx_file = str(root / 'model.onnx')
    export_onnx(model, onnx_file, shape=(192, 256))
    return model, checkpoint, onnx_file


def test_onnxruntime_matches_pytorch_at_other_sizes(exported):
    model, checkpoint, onnx_file = exported
    predictor = ONNXPanopticPredictor(onnx_file, DEMO_CONFIG, checkpoint,
                                      cfg_options=KEEP_ALL)
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
    model, checkpoint, onnx_file = exported
    predictor = ONNXPanopticPredictor(onnx_file, DEMO_CONFIG, checkpoint,
                                      cfg_options=KEEP_ALL)
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


def test_wrong_onnx_file_for_the_config(exported, tmp_path):
    _, checkpoint, onnx_file = exported
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.model.panoptic_head.num_things_classes = 3
    with pytest.raises(ValueError, match='do not fit the config'):
        ONNXPanopticPredictor(onnx_file, cfg, None)


def test_deformable_convs_are_refused_before_writing(tmp_path, load_tool):
    model = init_model(DEMO_CONFIG, None, cfg_options={
        'model.panoptic_head.kernel_generator.position_dcn': True})
    out = tmp_path / 'dcn.onnx'
    with pytest.raises(NotExportableError,
                       match='deformable convolution.*position_dcn=False'):
        export_onnx(model, str(out), shape=(64, 64))
    assert not out.exists()
    with pytest.raises(ValueError, match='multiples of 32'):
        export_onnx(init_model(DEMO_CONFIG), str(out), shape=(60, 64))


def test_export_tool(exported, tmp_path, capsys, load_tool):
    _, checkpoint, _ = exported
    tool = load_tool('deployment/export_onnx.py')
    out = tmp_path / 'cli.onnx'
    assert tool.main([DEMO_CONFIG, checkpoint, '--out', str(out), '--shape',
                      '64', '96']) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and 'max abs difference' in printed
    dcn_option = 'model.panoptic_head.kernel_generator.position_dcn=True'
    dcn = init_model(DEMO_CONFIG, None, cfg_options={
        'model.panoptic_head.kernel_generator.position_dcn': True})
    dcn_checkpoint = str(tmp_path / 'dcn.pth')
    torch.save(dict(state_dict=dcn.state_dict()), dcn_checkpoint)
    refused = tmp_path / 'refused.onnx'
    assert tool.main([
        DEMO_CONFIG, dcn_checkpoint, '--out', str(refused), '--cfg-options',
        dcn_option
    ]) == 1
    err = capsys.readouterr().err
    assert 'deformable convolution' in err and 'no file was written' in err
    assert not refused.exists()
