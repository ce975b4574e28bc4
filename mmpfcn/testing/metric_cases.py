"""A COCO-panoptic split on disk (:class:`Split`) and fake model outputs
for it, to test the runner metrics and their parts against references."""
import contextlib
import io
import json
import logging
import os.path as osp

import numpy as np
import torch
from mmengine.structures import BaseDataElement

from mmpfcn.evaluation import (
    PanopticMaskAPMetric,
    PanopticQualityMetric,
    SemanticIoUMetric,
)
from mmpfcn.evaluation.functional.panoptic_io import read_panoptic_png

OFFSET = 1000  # mmdet's INSTANCE_OFFSET
PQ_KEYS = [f'{k}{s}' for s in ('', '_th', '_st') for k in ('PQ', 'SQ', 'RQ')]
#: The metrics a panoptic config lists, in its order.
METRIC_TYPES = (PanopticQualityMetric, PanopticMaskAPMetric,
                SemanticIoUMetric)


class Split:
    """A GT split on disk and everything needed to fake model outputs."""

    def __init__(self, ann_file, seg_prefix, categories):
        self.ann_file, self.seg_prefix = ann_file, seg_prefix
        with open(ann_file) as f:
            coco = json.load(f)
        self.images = coco['images']
        self.anns = {a['image_id']: a for a in coco['annotations']}
        self.categories = categories
        things = [c for c in categories if c['isthing']]
        stuff = [c for c in categories if not c['isthing']]
        self.meta = dict(classes=[c['name'] for c in things + stuff],
                         thing_classes=[c['name'] for c in things],
                         stuff_classes=[c['name'] for c in stuff])
        self.label = {c['id']: i for i, c in enumerate(things + stuff)}
        self.thing_label = {c['id']: i for i, c in enumerate(things)}
        self.sem_label = {c['id']: 0 for c in things}
        self.sem_label.update({c['id']: 1 + i for i, c in enumerate(stuff)})

    def gt_map(self, image):
        ann = self.anns[image['id']]
        return read_panoptic_png(osp.join(self.seg_prefix, ann['file_name']))

    def metric(self, metric_type=PanopticQualityMetric, **kwargs):
        """One metric on this split, its ``dataset_meta`` set."""
        metric = metric_type(
            ann_file=self.ann_file, seg_prefix=self.seg_prefix, **kwargs)
        metric.dataset_meta = self.meta
        return metric

    def metrics(self, **kwargs):
        """The three metrics of :data:`METRIC_TYPES`, each built with
        ``kwargs`` (arguments they all take: ``classwise``, ``threads``,
        ``cache_gt``)."""
        return [self.metric(t, **kwargs) for t in METRIC_TYPES]

    def sample(self, image, id_map, segments, scores=None, sem=None):
        """A model output whose panoptic map is ``id_map`` / ``segments``.

        Thing segments that are not crowd become ``pred_instances`` (score
        from ``scores`` or 1); ``sem`` is the semantic map (default: the
        one implied by the segments, void as 0)."""
        num_classes = len(self.label)
        pan = np.full(id_map.shape, num_classes, np.int64)
        sem_map = np.zeros(id_map.shape, np.int64)
        masks, labels = [], []
        for k, seg in enumerate(segments, start=1):
            mask = id_map == seg['id']
            cat = seg['category_id']
            pan[mask] = self.label[cat] + k * OFFSET
            sem_map[mask] = self.sem_label[cat]
            if cat in self.thing_label and not seg.get('iscrowd', 0):
                masks.append(mask)
                labels.append(self.thing_label[cat])
        masks = np.stack(masks) if masks else np.zeros((0, *id_map.shape))
        if scores is None:
            scores = np.ones(len(labels))
        return dict(
            img_id=image['id'], img_path=image['file_name'],
            ori_shape=id_map.shape,
            pred_panoptic_seg=dict(sem_seg=torch.from_numpy(pan)[None]),
            pred_instances=dict(masks=torch.from_numpy(masks.astype(bool)),
                                labels=torch.tensor(labels),
                                scores=torch.tensor(scores,
                                                    dtype=torch.float32)),
            pred_sem_seg=dict(sem_seg=torch.from_numpy(
                sem_map if sem is None else sem)[None]))

    def perfect_samples(self):
        """The GT fed back; crowd regions are left void, since panopticapi
        ignores a prediction inside a crowd region only for the last crowd
        segment of its class (the generated cases have several)."""
        return [self.sample(img, self.gt_map(img), [
            s for s in self.anns[img['id']]['segments_info']
            if not s['iscrowd']
        ]) for img in self.images]


def evaluate(metrics, samples):
    """Process ``samples`` with one metric or a list of them, as mmengine's
    ``Evaluator`` does (each sample converted to one new dict that every
    metric gets), and return their merged ``compute_metrics``."""
    metrics = metrics if isinstance(metrics, (list, tuple)) else [metrics]
    samples = [s.to_dict() if isinstance(s, BaseDataElement) else dict(s)
               for s in samples]
    for metric in metrics:
        metric.process({}, samples)
    results = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for metric in metrics:
            results.update(metric.compute_metrics(metric.results))
    return results


def perturbed_samples(split, pairs, seed):
    """The generated predictions of ``pairs`` (see
    :func:`~mmpfcn.testing.panoptic_cases.make_case`) with a random
    semantic map each."""
    rng = np.random.default_rng(seed)
    num_sem = 1 + len(split.meta['stuff_classes'])
    return [split.sample(img, pair.pred_map, pair.pred_segments,
                         sem=rng.integers(0, num_sem, pair.gt_map.shape))
            for img, pair in zip(split.images, pairs)]


def logged(metrics, samples):
    """:func:`evaluate` and everything ``compute_metrics`` logged."""
    from mmengine.logging import MMLogger
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        results = evaluate(metrics, samples)
    finally:
        logger.removeHandler(handler)
    return results, stream.getvalue()


def shifted_prediction(gt_map, segments, rng):
    """Every segment moved by up to 6 px and painted in random order."""
    pred = np.zeros_like(gt_map)
    for seg in rng.permutation(segments):
        shift = rng.integers(-6, 7, size=2)
        pred[np.roll(gt_map == seg['id'], tuple(shift), (0, 1))] = seg['id']
    present = set(np.unique(pred).tolist())
    return pred, [s for s in segments if s['id'] in present]
