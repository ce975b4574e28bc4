"""Mask AP from the panoptic ground truth (mmpfcn.evaluation.metrics.mask_ap)
through ``PanopticMaskAPMetric`` against COCOeval; hotcoco and its
fallback; the metric's errors."""
import contextlib
import io
import pickle
import sys
import time

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mmpfcn.evaluation import PanopticMaskAPMetric
from mmpfcn.evaluation.functional import engines as engines_module
from mmpfcn.evaluation.functional.rle import encode_cropped_mask
from mmpfcn.evaluation.metrics.mask_ap import evaluate_mask_ap
from mmpfcn.testing.metric_cases import (
    evaluate,
    shifted_prediction,
)


def _cocoeval_directly(split, samples):
    """pycocotools COCOeval on GT instances built here from the PNGs."""
    thing_ids = set(split.thing_label)
    cat_of_label = {v: k for k, v in split.thing_label.items()}
    gt_anns, dets = [], []
    for img, sample in zip(split.images, samples):
        gt_map = split.gt_map(img)
        for seg in split.anns[img['id']]['segments_info']:
            if seg['category_id'] not in thing_ids:
                continue
            rle = mask_utils.encode(np.asfortranarray(gt_map == seg['id'],
                                                      np.uint8))
            gt_anns.append(dict(
                id=len(gt_anns) + 1, image_id=img['id'],
                category_id=seg['category_id'], segmentation=rle,
                area=float(seg['area']), iscrowd=seg['iscrowd'],
                bbox=mask_utils.toBbox(rle).tolist()))
        inst = sample['pred_instances']
        for mask, label, score in zip(inst['masks'].numpy(),
                                      inst['labels'].tolist(),
                                      inst['scores'].tolist()):
            rle = mask_utils.encode(np.asfortranarray(mask, np.uint8))
            dets.append(dict(image_id=img['id'],
                             category_id=cat_of_label[label],
                             segmentation=rle, score=score,
                             bbox=mask_utils.toBbox(rle).tolist()))
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dict(
            images=[dict(id=i['id'], height=i['height'], width=i['width'])
                    for i in split.images],
            categories=[dict(id=c) for c in sorted(thing_ids)],
            annotations=gt_anns)
        coco_gt.createIndex()
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes(dets), 'segm')
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return coco_eval.stats[:6]


def _noisy_instance_samples(split, seed):
    """Shifted instance masks with random scores and some wrong labels."""
    rng = np.random.default_rng(seed)
    samples = []
    for img in split.images:
        ann = split.anns[img['id']]
        pred_map, segments = shifted_prediction(
            split.gt_map(img), ann['segments_info'], rng)
        sample = split.sample(img, pred_map, segments)
        labels = sample['pred_instances']['labels']
        flip = torch.from_numpy(rng.random(len(labels)) < 0.2)
        sample['pred_instances']['labels'] = torch.where(
            flip, (labels + 1) % len(split.thing_label), labels)
        sample['pred_instances']['scores'] = torch.from_numpy(
            rng.random(len(labels)))
        samples.append(sample)
    return samples


@pytest.mark.parametrize('ap_engine', ['pycocotools', 'hotcoco'])
def test_mask_ap_equals_cocoeval(coco_split, case_dir, ap_engine):
    for split, seed in ((coco_split, 2), (case_dir['split'], 3)):
        samples = _noisy_instance_samples(split, seed)
        metrics = evaluate(split.metric(PanopticMaskAPMetric,
                                        engine=ap_engine), samples)
        expected = _cocoeval_directly(split, samples)
        assert 0 < metrics['AP'] < 100
        for key, value in zip(('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'),
                              expected):
            assert metrics[key] == pytest.approx(
                value if value < 0 else 100 * value, abs=1e-9, rel=0), key


def test_hotcoco_ap_is_identical_and_faster():
    """50 images x 30 instances: hotcoco's COCOeval gives pycocotools'
    numbers (per class too) in less time."""
    rng = np.random.default_rng(4)
    images, gts, dets = [], [], []
    for image_id in range(50):
        images.append(dict(id=image_id, height=64, width=64))
        for k in range(30):
            mask = np.zeros((64, 64), np.uint8)
            y, x, h, w = rng.integers(0, 48, 4)
            mask[y:y + h // 2 + 2, x:x + w // 2 + 2] = 1
            cat = int(rng.integers(1, 4))
            rle = mask_utils.encode(np.asfortranarray(mask))
            gts.append(dict(image_id=image_id, category_id=cat,
                            segmentation=rle, area=float(mask.sum()),
                            iscrowd=int(k == 0)))
            moved = np.roll(mask, tuple(rng.integers(-3, 4, 2)), (0, 1))
            dets.append(dict(image_id=image_id,
                             category_id=cat if k % 7 else 1 + cat % 3,
                             score=float(rng.random()),
                             segmentation=mask_utils.encode(
                                 np.asfortranarray(moved))))
    cats = [dict(id=i, name=str(i)) for i in (1, 2, 3)]
    runs, times = {}, {}
    for engine in ('pycocotools', 'hotcoco'):
        elapsed = []
        for _ in range(3):
            start = time.perf_counter()
            runs[engine] = evaluate_mask_ap(images, cats, gts, dets, engine)
            elapsed.append(time.perf_counter() - start)
        times[engine] = min(elapsed)
    assert runs['hotcoco'][0] == runs['pycocotools'][0]
    assert runs['hotcoco'][1] == runs['pycocotools'][1]
    assert 0 < runs['hotcoco'][0]['AP'] < 1
    assert times['hotcoco'] < times['pycocotools'], times


def test_mask_ap_falls_back_to_pycocotools_without_hotcoco(
        coco_split, monkeypatch):
    samples = _noisy_instance_samples(coco_split, seed=9)
    def pq_and_ap(engine):
        return [coco_split.metric(),
                coco_split.metric(PanopticMaskAPMetric, engine=engine)]

    expected = evaluate(pq_and_ap('pycocotools'), samples)
    messages = []
    monkeypatch.setattr(engines_module, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    monkeypatch.setitem(sys.modules, 'hotcoco', None)  # import fails
    metrics = evaluate(pq_and_ap('hotcoco'), samples)
    # one warning each for mask AP and (the metric's default engine) PQ
    assert sorted(msg.split('falling back to ')[1] for msg in messages) == [
        'panopticapi for PQ', 'pycocotools for mask AP']
    assert 0 < metrics['AP'] < 100
    for key in ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'):
        assert metrics[key] == expected[key], key
    # (PQ fell back to panopticapi too: equal up to rounding.)
    assert metrics == pytest.approx(expected, abs=1e-9)


def _as_cropped_rles(samples):
    """The samples with their instance masks in the fusion head's
    ``instance_masks='rle'`` form: RLE dicts made from each mask's box
    crop (``encode_cropped_mask``)."""
    out = []
    for sample in samples:
        masks = sample['pred_instances']['masks'].numpy()
        rles = []
        for mask in masks:
            ys, xs = np.nonzero(mask)
            y1, x1 = (ys.min(), xs.min()) if ys.size else (0, 0)
            y2, x2 = (ys.max() + 1, xs.max() + 1) if ys.size else (0, 0)
            rles.append(encode_cropped_mask(mask[y1:y2, x1:x2], (x1, y1),
                                            mask.shape))
        out.append(dict(sample, pred_instances=dict(
            sample['pred_instances'], masks=rles)))
    return out


@pytest.mark.parametrize('threads', [0, 1])
def test_rle_instance_masks_give_the_bitmaps_ap(coco_split, case_dir,
                                                threads):
    for split, seed in ((coco_split, 2), (case_dir['split'], 3)):
        bitmaps = _noisy_instance_samples(split, seed)
        rles = _as_cropped_rles(bitmaps)
        assert isinstance(rles[0]['pred_instances']['masks'][0], dict)
        results = {}
        for form, samples in (('bitmap', bitmaps), ('rle', rles)):
            metric = split.metric(PanopticMaskAPMetric, threads=threads,
                                  classwise=True)
            metric.process({}, samples)
            metric.finish_jobs(metric.results)
            results[form] = metric
        # the same records, hence bit-identical numbers
        assert pickle.dumps(results['rle'].results) == pickle.dumps(
            results['bitmap'].results)
        with contextlib.redirect_stdout(io.StringIO()):
            metrics = {form: metric.compute_metrics(metric.results)
                       for form, metric in results.items()}
        assert metrics['rle'] == metrics['bitmap']
        assert 0 < metrics['rle']['AP'] < 100


def test_rle_instance_masks_of_a_wrong_size_or_count_are_named(coco_split):
    sample = _as_cropped_rles(coco_split.perfect_samples()[:1])[0]
    masks = sample['pred_instances']['masks']
    sample['pred_instances']['masks'] = masks[:-1]
    with pytest.raises(ValueError, match=rf'{len(masks) - 1} pred_instances'
                       rf'.masks for {len(masks)} labels'):
        coco_split.metric(PanopticMaskAPMetric).process({}, [sample])
    small = encode_cropped_mask(np.ones((2, 2), bool), (0, 0), (10, 10))
    sample['pred_instances']['masks'] = masks[:-1] + [small]
    with pytest.raises(ValueError, match='an RLE of pred_instances.masks is '
                       '10x10 but the image is 427x640'):
        coco_split.metric(PanopticMaskAPMetric).process({}, [sample])
    del sample['pred_instances']['masks']  # instance_masks='none'
    with pytest.raises(ValueError, match="pred_instances has no masks .*"
                       "instance_masks='none'"):
        coco_split.metric(PanopticMaskAPMetric).process({}, [sample])


# ------------------------------------------------------------ bad input


def test_bad_engine_and_missing_instances_are_named(coco_split):
    with pytest.raises(ValueError, match='PanopticMaskAPMetric: engine must '
                       'be one of'):
        coco_split.metric(PanopticMaskAPMetric, engine='detectron2')
    first, second = coco_split.perfect_samples()
    del second['pred_instances']
    metric = coco_split.metric(PanopticMaskAPMetric)
    with pytest.raises(ValueError, match=rf"image {second['img_id']} .*"
                       'PanopticMaskAPMetric needs pred_instances in the '
                       'prediction; remove the metric'):
        metric.process({}, [first, second])


def test_wrong_instance_labels_and_mask_sizes_are_named(coco_split):
    sample = coco_split.perfect_samples()[0]
    sample['pred_instances']['labels'][0] = 80
    with pytest.raises(ValueError, match=r'image \d+ .*pred_instances.labels '
                       r'must index the 80 thing classes, got \[\d+, 80\]'):
        coco_split.metric(PanopticMaskAPMetric).process({}, [sample])
    sample = coco_split.perfect_samples()[0]
    masks = sample['pred_instances']['masks']
    sample['pred_instances']['masks'] = masks[:, 1:]
    with pytest.raises(ValueError, match='pred_instances.masks is 426x640 but '
                       'the image is 427x640'):
        coco_split.metric(PanopticMaskAPMetric).process({}, [sample])
