"""The models and images of the device check: Panoptic FCN with seeded
random weights (or a checkpoint), mmdet's Panoptic FPN R50 as
``benchmark.py`` builds it, both at one test scale, on the CPU."""
from typing import List, Optional

import benchmark
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.runner import set_random_seed

from mmpfcn.apis import init_model, list_images

SEED = 0
# longest side per short side of the COCO test resize (1333, 800)
LONG_PER_SHORT = 1333 / 800
RESIZES = ('Resize', 'PanopticResize', 'RandomResize', 'RandomChoiceResize')


def scale_size(scale: int) -> tuple:
    """``(long, short)`` sides of the COCO resize at short side ``scale``."""
    return round(LONG_PER_SHORT * scale), scale


def set_test_scale(cfg: Config, scale: int, name: str) -> None:
    """Resize the test images of ``cfg`` to short side ``scale`` (long side
    at most ``LONG_PER_SHORT`` times that), in place.

    Raises:
        ValueError: ``cfg`` (named ``name``) has no resize step in
            ``test_dataloader.dataset.pipeline`` or ``test_pipeline``.
    """
    pipelines = []
    if 'test_dataloader' in cfg:
        pipelines.append(cfg.test_dataloader.dataset.get('pipeline') or [])
    pipelines.append(cfg.get('test_pipeline') or [])
    found = False
    for pipeline in pipelines:
        for step in pipeline:
            if step.get('type') in RESIZES:
                step['scale'] = scale_size(scale)
                step['keep_ratio'] = True
                found = True
    if not found:
        raise ValueError(f'{name}: no {"/".join(RESIZES[:2])} step in '
                         'test_dataloader.dataset.pipeline or test_pipeline '
                         'to set --scale on')


def build_model(config: str, checkpoint: Optional[str],
                cfg_options: Optional[dict], scale: int) -> torch.nn.Module:
    """Panoptic FCN on the CPU in eval mode: seeded random weights (the
    config's init, no pretrained backbone) or ``checkpoint``, test scale
    ``scale``."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    set_test_scale(cfg, scale, config)
    set_random_seed(SEED)
    model = init_model(cfg, checkpoint)
    if checkpoint is None:
        model.init_weights()
    return model.eval()


def build_baseline(scale: int) -> torch.nn.Module:
    """mmdet's Panoptic FPN R50 on the CPU in eval mode, as
    ``benchmark.py`` builds it (random weights), at test scale ``scale``."""
    cfg = get_config(benchmark.BASELINE)
    set_test_scale(cfg, scale, benchmark.BASELINE)
    set_random_seed(SEED)
    return init_model(cfg).eval()


def sample_images() -> List[str]:
    """The two COCO sample images of ``tests/data``."""
    return list_images(benchmark.SAMPLE_IMAGES)
