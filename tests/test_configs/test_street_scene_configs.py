"""The Cityscapes and Mapillary Vistas configs: the paper's settings, and a
training smoke test of each (tiny backbone, two iterations on a fake tree
in the dataset's real layout, then a validation pass, on CPU)."""
import contextlib
import io
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mmpfcn.testing.street_scenes import (
    write_cityscapes_tree,
    write_mapillary_tree,
)
from mmpfcn.utils.setup_env import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

CITYSCAPES = 'panoptic-fcn_r50_fpn_4xb8-65k_cityscapes-panoptic.py'
CITYSCAPES_STAR = 'panoptic-fcn-star_r50_fpn_4xb8-65k_cityscapes-panoptic.py'
MAPILLARY = 'panoptic-fcn_r50_fpn_150k_mapillary-panoptic.py'
MAPILLARY_STAR = 'panoptic-fcn-star_r50_fpn_150k_mapillary-panoptic.py'
STREET_RANGES = ((1, 128), (64, 256), (128, 512), (256, 1024), (512, 2048))


def load(name: str) -> Config:
    return Config.fromfile(osp.join(ROOT, 'configs/panoptic_fcn', name))


def test_cityscapes_configs_follow_the_paper():
    cfg = load(CITYSCAPES)
    head = cfg.model.panoptic_head
    assert (head.num_things_classes, head.num_stuff_classes) == (8, 11)
    assert head.target_generator.scale_ranges == STREET_RANGES
    assert head.target_generator.max_things_per_level == 150
    assert head.loss_seg.loss_weight == 4.0
    test_cfg = cfg.model.test_cfg
    assert (test_cfg.mask_thr, test_cfg.fusion_sim_thr,
            test_cfg.thing_peak_thr, test_cfg.stuff_score_thr,
            test_cfg.peaks_per_level, test_cfg.max_per_img,
            test_cfg.stuff_area_limit) == (0.5, 0.97, 0.01, 0.1, 100, 200,
                                           2048)
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    assert cfg.train_cfg.max_iters == cfg.param_scheduler[0].end == 65000
    assert cfg.param_scheduler[0].power == 0.9
    assert cfg.train_dataloader.batch_size * 4 == 32
    pipeline = {t.type: t for t in cfg.train_pipeline}
    assert pipeline['RandomResize'].ratio_range == (0.5, 2.0)
    assert pipeline['RandomCropWithInstance'].crop_size == (512, 1024)
    assert cfg.test_pipeline[1].scale == (2048, 1024)
    # real paths stay in the configs
    assert cfg.train_dataloader.dataset.data_root == 'data/cityscapes/'
    star = load(CITYSCAPES_STAR)
    assert star.model.panoptic_head.feature_encoder.use_dcn is True
    assert star.model.panoptic_head.feature_encoder.feat_channels == 256


def test_mapillary_configs_follow_the_paper():
    cfg = load(MAPILLARY)
    head = cfg.model.panoptic_head
    assert (head.num_things_classes, head.num_stuff_classes) == (37, 28)
    assert head.target_generator.scale_ranges == \
        STREET_RANGES[:4] + ((512, 4096), )
    assert head.target_generator.max_things_per_level == 400
    assert head.loss_seg.loss_weight == 3.0
    assert head.thing_generator.pos_num == 3
    test_cfg = cfg.model.test_cfg
    assert (test_cfg.mask_thr, test_cfg.fusion_sim_thr,
            test_cfg.thing_peak_thr, test_cfg.stuff_score_thr,
            test_cfg.peaks_per_level, test_cfg.max_per_img) == (0.5, 0.95,
                                                                0.2, 0.1,
                                                                100, 200)
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    assert cfg.train_cfg.max_iters == cfg.param_scheduler[0].end == 150000
    assert cfg.train_dataloader.batch_size * 8 == 32
    pipeline = {t.type: t for t in cfg.train_pipeline}
    assert [s[1] for s in pipeline['RandomResize'].scale] == [1024, 2048]
    assert pipeline['RandomCropWithInstance'].crop_size == (1024, 1024)
    dataset = cfg.train_dataloader.dataset
    assert dataset.version == 'v1.2'
    assert dataset.data_root == 'data/mapillary_vistas/'
    assert dataset.ann_file == 'training/v1.2/panoptic/panoptic_2018.json'
    star = load(MAPILLARY_STAR)
    assert star.model.panoptic_head.feature_encoder.use_dcn is True
    assert star.model.panoptic_head.feature_encoder.feat_channels == 256


@pytest.fixture(scope='module')
def cityscapes_root(tmp_path_factory, load_tool):
    root = str(tmp_path_factory.mktemp('cityscapes'))
    write_cityscapes_tree(root, height=64, width=128, images_per_city=1)
    load_tool('dataset_converters/cityscapes_panoptic.py').convert(root)
    return root


def shrink(cfg: Config, data_root: str, work_dir: str,
           image_scale: tuple, crop: tuple) -> Config:
    """The config on a tiny model and tiny images for two CPU iterations."""
    # GroupNorm(32) needs a multiple of 32, and >1 value per group on the
    # 1x1 P7 of a 64x128 image
    channels = 64
    cfg.model.backbone = dict(
        type='ResNet', depth=18, base_channels=8, num_stages=4,
        out_indices=(0, 1, 2, 3), frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
        style='pytorch', init_cfg=None)
    cfg.model.neck.in_channels = [8, 16, 32, 64]
    cfg.model.neck.out_channels = channels
    cfg.model.semantic_fpn.in_channels = channels
    cfg.model.semantic_fpn.feat_channels = channels
    head = cfg.model.panoptic_head
    head.in_channels = head.kernel_channels = channels
    head.feature_encoder.feat_channels = min(
        head.feature_encoder.feat_channels, channels)
    for stage in ('train', 'val', 'test'):
        loader = cfg[f'{stage}_dataloader']
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset.data_root = data_root + '/'
        for step in loader.dataset.pipeline:
            if step.type in ('RandomResize', 'Resize'):
                step.scale = image_scale
            if step.type == 'RandomResize' and 'ratio_range' not in step:
                step.scale = [(image_scale[0], image_scale[1] // 2),
                              image_scale]
            if step.type == 'RandomCropWithInstance':
                step.crop_size = crop
    for stage in ('val', 'test'):
        for evaluator in cfg[f'{stage}_evaluator']:
            for key in ('ann_file', 'seg_prefix'):
                evaluator[key] = osp.join(
                    data_root, osp.relpath(evaluator[key], cfg.data_root))
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=100, save_last=False)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    return cfg


def train_and_validate(cfg: Config) -> dict:
    """Train (validating after the last iteration); the val metrics."""
    register_all_modules()
    runner = Runner.from_cfg(cfg)
    with contextlib.redirect_stdout(io.StringIO()):
        runner.train()
    return {
        key: runner.message_hub.get_scalar(f'val/coco_panoptic/{key}')
        .current() for key in ('PQ', 'PQ_th', 'PQ_st')
    }


@pytest.mark.parametrize('name', [CITYSCAPES, CITYSCAPES_STAR])
def test_cityscapes_config_trains(name, cityscapes_root, tmp_path):
    cfg = shrink(load(name), cityscapes_root, str(tmp_path),
                 image_scale=(128, 64), crop=(32, 64))
    metrics = train_and_validate(cfg)
    assert all(0 <= value <= 100 for value in metrics.values())


@pytest.fixture(scope='module')
def mapillary_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('mapillary'))
    return write_mapillary_tree(root, height=64, width=96, versions=('v1.2',
                                                                     ))


@pytest.mark.parametrize('name', [MAPILLARY, MAPILLARY_STAR])
def test_mapillary_config_trains(name, mapillary_root, tmp_path):
    cfg = shrink(load(name), mapillary_root, str(tmp_path),
                 image_scale=(256, 64), crop=(48, 48))
    metrics = train_and_validate(cfg)
    assert all(0 <= value <= 100 for value in metrics.values())
