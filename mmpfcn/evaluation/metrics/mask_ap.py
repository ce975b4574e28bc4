"""COCO mask AP from in-memory RLE instances.

The runner metric gathers, per image, the ground-truth thing segments (crowd
segments as ``iscrowd=1``) and the predicted instance masks as RLEs; this
module builds the two COCO objects in memory (no JSON round trip) and runs
the ``segm`` COCOeval of pycocotools or of hotcoco, whose evaluator gives
the same numbers on the same inputs (see the metric's tests) and is faster.
"""
import contextlib
import io
from typing import Dict, List, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

from ..functional.engines import hotcoco_or

AP_ENGINES = ('pycocotools', 'hotcoco')
# COCOeval.stats[:6] in its order.
AP_KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl')


def _boxes(rles: List[dict]) -> np.ndarray:
    """(N, 4) ``[x, y, w, h]`` boxes of N RLE masks."""
    if not rles:
        return np.zeros((0, 4))
    return mask_utils.toBbox(rles)


def _coco_objects(engine: str, gt_dataset: dict, detections: List[dict]):
    """Build the GT and detection COCO objects of ``engine``."""
    if engine == 'hotcoco':
        import hotcoco
        coco_gt = hotcoco.COCO(gt_dataset)
        return hotcoco, coco_gt, coco_gt.loadRes(detections)
    from pycocotools import coco, cocoeval
    coco_gt = coco.COCO()
    coco_gt.dataset = gt_dataset
    coco_gt.createIndex()
    return cocoeval, coco_gt, coco_gt.loadRes(detections)


def evaluate_mask_ap(
        images: Sequence[dict],
        categories: Sequence[dict],
        gt_instances: Sequence[dict],
        detections: Sequence[dict],
        engine: str = 'pycocotools') -> Tuple[Dict[str, float], Dict[
            int, float], str]:
    """COCO ``segm`` AP of RLE detections against RLE ground truth.

    Args:
        images (Sequence[dict]): ``{'id', 'height', 'width'}`` of every
            evaluated image (images without any instance included); ids
            may be any hashable (e.g. Mapillary's strings).
        categories (Sequence[dict]): ``{'id', 'name'}`` of the thing
            categories.
        gt_instances (Sequence[dict]): ``{'image_id', 'category_id',
            'segmentation' (RLE), 'area', 'iscrowd'}`` per GT instance.
        detections (Sequence[dict]): ``{'image_id', 'category_id',
            'segmentation' (RLE), 'score'}`` per predicted instance; the
            box around the mask is added (it sets the detection's area for
            the small/medium/large ranges, as in detectron2 and mmdet).
        engine (str): ``'pycocotools'`` or ``'hotcoco'`` (pycocotools,
            with a logged warning, where hotcoco cannot be imported).

    Returns:
        tuple:
            - dict: fractions under :data:`AP_KEYS` (-1 where COCOeval has
              no ground truth, e.g. no small objects); all 0 if there is no
              detection at all.
            - dict: category id -> AP over IoU 0.5:0.95 (-1 if the class has
              no ground truth).
            - str: COCOeval's printed summary.
    """
    if engine not in AP_ENGINES:
        raise ValueError(f'mask AP engine must be one of {AP_ENGINES}, got '
                         f'{engine!r}')
    if engine == 'hotcoco':
        engine = hotcoco_or('pycocotools', 'mask AP')
    if len(detections) == 0:
        return dict.fromkeys(AP_KEYS, 0.0), {
            cat['id']: 0.0
            for cat in categories
        }, 'no detections: mask AP is 0'

    if not all(isinstance(img['id'], int) and img['id'] >= 0
               for img in images):
        # COCOeval (hotcoco's in particular) takes integer image ids;
        # Mapillary's are strings. The numbering stays inside this function.
        index = {img['id']: i for i, img in enumerate(images)}
        images = [dict(img, id=index[img['id']]) for img in images]
        gt_instances = [dict(ann, image_id=index[ann['image_id']])
                        for ann in gt_instances]
        detections = [dict(det, image_id=index[det['image_id']])
                      for det in detections]
    gt_boxes = _boxes([ann['segmentation'] for ann in gt_instances])
    det_boxes = _boxes([det['segmentation'] for det in detections])
    gt_dataset = dict(
        images=[dict(id=img['id'], height=img['height'],
                     width=img['width']) for img in images],
        categories=[dict(id=cat['id'], name=cat['name'])
                    for cat in categories],
        annotations=[
            dict(ann, id=i + 1, bbox=box.tolist())
            for i, (ann, box) in enumerate(zip(gt_instances, gt_boxes))
        ])
    # Fresh dicts: ``loadRes`` writes into the dicts it gets. The box makes
    # ``loadRes`` take a detection's area from its box, as detectron2's
    # COCOEvaluator (the reference's numbers) and mmdet's CocoMetric do.
    detections = [
        dict(det, bbox=box.tolist())
        for det, box in zip(detections, det_boxes)
    ]

    # Both libraries print progress; keep it out of the log.
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        module, coco_gt, coco_dt = _coco_objects(engine, gt_dataset,
                                                 detections)
        coco_eval = module.COCOeval(coco_gt, coco_dt, 'segm')
        coco_eval.evaluate()
        coco_eval.accumulate()
    with contextlib.redirect_stdout(summary := io.StringIO()):
        coco_eval.summarize()

    stats = dict(zip(AP_KEYS, (float(v) for v in coco_eval.stats[:6])))
    # precision: (T iou thresholds, R recalls, K classes, A areas, M maxdets)
    precision = np.asarray(coco_eval.eval['precision'])[:, :, :, 0, -1]
    cat_ids = list(coco_eval.params.catIds)
    per_class = {}
    for k, cat_id in enumerate(cat_ids):
        valid = precision[:, :, k][precision[:, :, k] > -1]
        per_class[int(cat_id)] = float(valid.mean()) if valid.size else -1.0
    return stats, per_class, summary.getvalue()
