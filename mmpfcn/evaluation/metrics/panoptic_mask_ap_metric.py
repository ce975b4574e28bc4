"""COCO mask AP of the predicted instances against the thing segments of
the panoptic ground truth."""
from typing import Dict

from mmengine.logging import MMLogger, print_log

from mmpfcn.registry import METRICS

from .base_panoptic_metric import BasePanopticMetric
from .mask_ap import AP_ENGINES, AP_KEYS, evaluate_mask_ap


@METRICS.register_module()
class PanopticMaskAPMetric(BasePanopticMetric):
    """COCO ``segm`` AP, AP50, AP75, APs, APm, APl in percent.

    Reads ``pred_instances`` (``masks`` at the original image size, as
    (n, H, W) bool or as the list of n pycocotools RLE dicts that the fusion
    head makes with ``test_cfg.instance_masks='rle'``, taken as they are:
    the same AP; ``labels`` indexing ``thing_classes``, ``scores``). GT
    instances are the thing segments of the panoptic annotation, crowd ones
    with ``iscrowd=1``, as detectron2's evaluation of the reference makes
    them (no instance annotation file).

    Args:
        ann_file (str): COCO panoptic JSON.
        engine (str): COCOeval of ``'hotcoco'`` (same numbers, faster)
            or ``'pycocotools'``. Defaults to ``'hotcoco'``.
        classwise (bool): Log the per-class AP. Defaults to False.
        **kwargs: ``seg_prefix``, ``cache_gt``, ``threads``,
            ``backend_args``, ``collect_device``, ``prefix`` of
            :class:`~.base_panoptic_metric.BasePanopticMetric`.
    """
    parts = ('gt', 'instances')
    inputs = ('pred_instances', )

    def __init__(self,
                 ann_file: str,
                 engine: str = 'hotcoco',
                 classwise: bool = False,
                 **kwargs) -> None:
        if engine not in AP_ENGINES:
            raise ValueError(f'PanopticMaskAPMetric: engine must be one of '
                             f'{AP_ENGINES}, got {engine!r}')
        super().__init__(ann_file, classwise=classwise, **kwargs)
        self.engine = engine

    def keep(self, parts: dict) -> dict:
        """The GT's thing segments (not the stuff ones) and the predicted
        instances."""
        thing_ids = {c['id'] for c in self.class_maps.thing_categories}
        return dict(
            gt_instances=[
                dict(category_id=s['category_id'],
                     segmentation=s['segmentation'], area=float(s['area']),
                     iscrowd=s['iscrowd'])
                for s in parts['gt']['segments']
                if s['category_id'] in thing_ids
            ],
            instances=parts['instances'])

    def score(self, results: list, logger: MMLogger) -> Dict[str, float]:
        """Mask AP in percent (-1 where COCOeval has no GT)."""
        gt_instances, detections = [], []
        for r in results:
            gt_instances += [dict(gt, image_id=r['image_id'])
                             for gt in r['gt_instances']]
            inst = r['instances']
            detections += [
                dict(image_id=r['image_id'], category_id=int(c),
                     segmentation=m, score=float(s))
                for c, s, m in zip(inst['category_id'], inst['score'],
                                   inst['segmentation'])
            ]
        images = [dict(id=r['image_id'], height=r['height'],
                       width=r['width']) for r in results]
        stats, per_class, summary = evaluate_mask_ap(
            images, self.class_maps.thing_categories, gt_instances,
            detections, engine=self.engine)
        print_log('Mask AP:\n' + summary, logger=logger)
        if self.classwise:
            names = {c['id']: c['name']
                     for c in self.class_maps.thing_categories}
            print_log('Per-class mask AP:\n' + '\n'.join(
                f'{names[c]:>24s} {100 * ap:7.3f}'
                for c, ap in per_class.items()), logger=logger)
        return {k: v if v < 0 else 100 * v for k, v in stats.items()
                if k in AP_KEYS}
