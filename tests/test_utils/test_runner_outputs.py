"""The runner's loops ask the fusion head for RLE instance masks (the
built model, not the config), and what reads their outputs takes them."""
import numpy as np
import torch
from mmdet.evaluation import INSTANCE_OFFSET
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData, PixelData

from mmpfcn.evaluation.functional.rle import encode_masks
from mmpfcn.evaluation.metrics import encode_prediction
from mmpfcn.models.seg_heads import PanopticFCNFusionHead
from mmpfcn.registry import MODELS
from mmpfcn.testing.train_runs import SYNTHETIC_CONFIG
from mmpfcn.utils import enable_tta, register_all_modules
from mmpfcn.utils.runner_outputs import use_rle_instance_masks


def _forms(model):
    return [m.test_cfg.instance_masks for m in model.modules()
            if isinstance(m, PanopticFCNFusionHead)]


def _built(cfg):
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        return MODELS.build(cfg.model)


def test_the_runner_model_gets_rle_and_the_config_keeps_its_default():
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    model = _built(cfg)
    assert _forms(model) == ['bitmap']  # the model's (mmdet's) default
    before = cfg.pretty_text
    use_rle_instance_masks(model, cfg)
    assert _forms(model) == ['rle']
    assert cfg.pretty_text == before  # the work dir's config: no change


def test_a_form_named_by_the_config_or_the_command_line_is_kept():
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    cfg.merge_from_dict({'model.test_cfg.instance_masks': 'bitmap'})
    model = _built(cfg)
    use_rle_instance_masks(model, cfg)
    assert _forms(model) == ['bitmap']
    # tools/test.py --tta: the detector is the TTA model's module
    enable_tta(cfg)
    use_rle_instance_masks(model, cfg)
    assert _forms(model) == ['bitmap']


def test_the_tta_model_of_tools_test_gets_rle_too():
    from mmpfcn.models.test_time_augs import PanopticFCNTTAModel
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    model = PanopticFCNTTAModel(module=_built(cfg))
    use_rle_instance_masks(model, enable_tta(cfg))
    assert _forms(model) == ['rle']


def _predicted(masks):
    """A 8x12 prediction with two things, its masks in the given form."""
    pan = torch.full((1, 8, 12), 2, dtype=torch.long)
    bitmaps = torch.zeros(2, 8, 12, dtype=torch.bool)
    bitmaps[0, 1:4, 1:5] = True
    bitmaps[1, 4:7, 6:11] = True
    for k, mask in enumerate(bitmaps):
        pan[0][mask] = k + (k + 1) * INSTANCE_OFFSET
    sample = DetDataSample()
    sample.pred_panoptic_seg = PixelData(sem_seg=pan)
    sample.pred_instances = InstanceData(
        masks=bitmaps if masks == 'bitmap' else encode_masks(bitmaps),
        labels=torch.tensor([0, 1]), scores=torch.tensor([0.9, 0.6]),
        bboxes=torch.tensor([[1., 1., 5., 4.], [6., 4., 11., 7.]]))
    return sample


def test_the_pictures_and_the_dump_of_rle_masks_equal_the_bitmaps(tmp_path):
    from mmpfcn.visualization import PanopticFCNVisualizer
    meta = dict(classes=('disc', 'square', 'sky'),
                thing_classes=('disc', 'square'), stuff_classes=('sky', ),
                palette=[(220, 40, 40), (40, 60, 220), (150, 195, 240)])
    image = np.full((8, 12, 3), 128, dtype=np.uint8)
    drawn, dumped = {}, {}
    for form in ('bitmap', 'rle'):
        vis = PanopticFCNVisualizer(name=f'runner_outputs_{form}',
                                    save_dir=str(tmp_path))
        vis.dataset_meta = meta
        sample = _predicted(form)
        vis.add_datasample('img', image, sample, draw_gt=False)
        drawn[form] = vis.get_image()
        dumped[form] = encode_prediction(sample.to_dict())
    np.testing.assert_array_equal(drawn['rle'], drawn['bitmap'])
    assert not np.array_equal(drawn['rle'], image)
    assert dumped['rle']['pred_instances']['masks'] == \
        dumped['bitmap']['pred_instances']['masks']
