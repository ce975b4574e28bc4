"""The form of the instance masks in the runner's test and validation loops
(``tools/test.py``, validation in ``tools/train.py``).

The fusion head keeps each image's instance masks in the form its
``test_cfg.instance_masks`` names: mmdet's (n, H, W) bitmaps by default,
one byte per pixel per instance (up to 100 full-size masks an image, held
by the results of every image evaluated so far), or pycocotools RLE dicts.
Everything that reads the loops' outputs takes RLE: the panoptic metrics
(:class:`~mmpfcn.evaluation.PanopticMaskAPMetric`, the same AP), the dump
of ``--out`` (:class:`~mmpfcn.evaluation.metrics.DumpPanopticResults`,
which stores RLE anyway), the pictures of ``--show-dir``
(:class:`~mmpfcn.visualization.PanopticFCNVisualizer`) and mmdet's
``CocoMetric`` (not mmdet's ``DumpDetResults``, which encodes bitmaps;
``--out`` uses the former). So the tools ask for RLE, while the
model's own default stays mmdet's bitmaps: ``model.predict``,
``init_model`` + ``inference_model`` and the golden-output tests keep
mmdet's format (the Inferencer asks for RLE itself). A runner built
without the tools gets bitmaps, which the same consumers take as well.
"""
from mmengine.config import Config
from torch import nn

#: The form the runner's loops ask for.
RUNNER_INSTANCE_MASKS = 'rle'


def use_rle_instance_masks(model: nn.Module, cfg: Config) -> None:
    """Set the ``instance_masks`` of every Panoptic FCN fusion head of a
    built runner model to :data:`RUNNER_INSTANCE_MASKS`, unless the config
    (or the command line) names a form in ``model.test_cfg``.

    The built model changes, not the config, so that the config written to
    the work dir (and used with ``init_model`` later) keeps the model's
    default.

    Args:
        model (nn.Module): ``runner.model``, wrapped or not (DDP, the TTA
            model).
        cfg (Config): The runner's config (after ``enable_tta``).
    """
    from mmpfcn.models.seg_heads import PanopticFCNFusionHead
    detector_cfg = cfg.get('model') or {}
    detector_cfg = detector_cfg.get('module', detector_cfg)  # --tta
    if 'instance_masks' in (detector_cfg.get('test_cfg') or {}):
        return
    for module in model.modules():
        if isinstance(module, PanopticFCNFusionHead):
            module.test_cfg.instance_masks = RUNNER_INSTANCE_MASKS
