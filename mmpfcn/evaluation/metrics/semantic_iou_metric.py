"""Mean IoU of the semantic prediction of the paper's stuff branch: the
stuff classes and all things merged into one class."""
from typing import Dict

import numpy as np
from mmengine.logging import MMLogger, print_log

from mmpfcn.registry import METRICS

from .base_panoptic_metric import BasePanopticMetric
from .semantic_iou import mean_iou


@METRICS.register_module()
class SemanticIoUMetric(BasePanopticMetric):
    """mIoU in percent over ``things`` + the stuff classes.

    Reads ``pred_sem_seg.sem_seg`` ((1, H, W), 0 = things, ``1 + i`` =
    i-th stuff class) at the original image size. The GT semantic map is
    the panoptic GT with all things merged into 0; void pixels (and ids no
    GT segment lists) are left out. Per image only three pixel counts per
    class are kept (:func:`~.semantic_iou.semantic_area_stats_rle`).

    Args: those of :class:`~.base_panoptic_metric.BasePanopticMetric`
    (``classwise`` logs the per-class IoU).
    """
    parts = ('sem_stats', )
    inputs = ('pred_sem_seg', )

    def keep(self, parts: dict) -> dict:
        """The (3, 1 + N_st) pixel counts."""
        return dict(sem_stats=parts['sem_stats'])

    def score(self, results: list, logger: MMLogger) -> Dict[str, float]:
        """``mIoU`` in percent."""
        stats = np.zeros((3, self.class_maps.num_sem_classes), np.int64)
        for r in results:
            stats += r['sem_stats']
        miou, iou = mean_iou(stats)
        if self.classwise:
            names = ['things'] + self.class_maps.stuff_classes
            print_log('Per-class IoU:\n' + '\n'.join(
                f'{n:>24s} {100 * v:7.3f}' for n, v in zip(names, iou)),
                logger=logger)
        return {'mIoU': 100 * miou}
