"""Turn a test config into its test-time-augmented version (``tools/test.py
--tta``), as mmdet's ``tools/test.py`` does."""
from mmengine.config import Config

from mmpfcn.utils.config_check import ConfigKeyError


def enable_tta(cfg: Config) -> Config:
    """Test with ``cfg.tta_pipeline`` and the model wrapped in
    ``cfg.tta_model``.

    ``cfg.test_dataloader.dataset.pipeline`` becomes ``cfg.tta_pipeline``
    and ``cfg.model`` becomes ``cfg.tta_model`` with the original model as
    its ``module``. Unlike mmdet, a missing ``tta_model`` or
    ``tta_pipeline`` is an error (mmdet's default would merge boxes, which
    this model has not).

    Args:
        cfg (Config): A test config; changed in place.

    Returns:
        Config: ``cfg``.

    Raises:
        ConfigKeyError: Naming the missing key and what to add.
    """
    if cfg.get('tta_model') is None:
        raise ConfigKeyError(
            '--tta: the config has no `tta_model`; add '
            "tta_model = dict(type='PanopticFCNTTAModel') (as "
            'configs/_base_/default_runtime.py does)')
    if cfg.get('tta_pipeline') is None:
        raise ConfigKeyError(
            '--tta: the config has no `tta_pipeline`; add a test pipeline '
            "whose views come from dict(type='TestTimeAug', ...) (as "
            'configs/_base_/datasets/coco_panoptic.py does)')
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model
    return cfg
