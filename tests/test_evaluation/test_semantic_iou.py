"""Semantic mIoU (mmpfcn.evaluation.metrics.semantic_iou): from RLEs by
hand, and through ``SemanticIoUMetric``; the metric's errors."""

import numpy as np
import pytest
import torch

from mmpfcn.evaluation import SemanticIoUMetric
from mmpfcn.evaluation.functional.rle import (
    encode_id_map,
)
from mmpfcn.evaluation.metrics.semantic_iou import (
    mean_iou,
    semantic_area_stats_rle,
)
from mmpfcn.testing.metric_cases import (
    evaluate,
)


def rle_stats(pred: np.ndarray, gt: np.ndarray, **kwargs) -> np.ndarray:
    """semantic_area_stats_rle of a GT label map given as its RLEs."""
    labels, rles, _ = encode_id_map(gt)
    return semantic_area_stats_rle(pred, labels, rles, **kwargs)


def test_semantic_iou_by_hand():
    gt = np.array([[0, 0, 1], [1, 2, -1]])
    pred = np.array([[0, 1, 1], [2, 2, 0]])
    stats = rle_stats(pred, gt, num_classes=4, ignore_index=-1)
    # class 0: inter 1, gt 2, pred 1; class 1: 1, 2, 2; class 2: 1, 1, 2.
    np.testing.assert_array_equal(stats,
                                  [[1, 1, 1, 0], [2, 2, 1, 0], [1, 2, 2, 0]])
    miou, iou = mean_iou(stats)
    np.testing.assert_allclose(iou[:3], [1 / 2, 1 / 3, 1 / 2])
    assert np.isnan(iou[3])  # class 3 occurs nowhere: left out
    assert miou == pytest.approx((1 / 2 + 1 / 3 + 1 / 2) / 3)


@pytest.mark.parametrize('seed', range(4))
def test_semantic_stats_from_rles_count_pixels(seed):
    """The RLE overlaps give the pixel counts of the label maps, with
    several GT masks per label (a panoptic map's segments) and void."""
    rng = np.random.default_rng(seed)
    num_classes, shape = 6, (41, 29)
    pred = rng.integers(0, num_classes, shape)
    seg_map = rng.integers(0, 12, shape)  # GT segments
    seg_label = rng.integers(-1, num_classes, 12)  # -1: void
    gt = seg_label[seg_map]
    ids, rles, _ = encode_id_map(seg_map)
    stats = semantic_area_stats_rle(pred, seg_label[ids], rles, num_classes,
                                    ignore_index=-1)
    valid = gt != -1
    expected = [
        [((pred == c) & (gt == c)).sum() for c in range(num_classes)],
        [(gt == c).sum() for c in range(num_classes)],
        [((pred == c) & valid).sum() for c in range(num_classes)],
    ]
    np.testing.assert_array_equal(stats, expected)
    all_void = semantic_area_stats_rle(pred, np.full(ids.size, -1), rles,
                                       num_classes, ignore_index=-1)
    assert not all_void.any()
    with pytest.raises(ValueError, match='does not match'):
        semantic_area_stats_rle(pred[:, 1:], seg_label[ids], rles,
                                num_classes, ignore_index=-1)


# ------------------------------------------------------- perfect inputs


def test_miou_equals_hand_computation(case_dir):
    split = case_dir['split']
    rng = np.random.default_rng(5)
    num_sem = 1 + len(split.meta['stuff_classes'])
    samples, inter, union = [], np.zeros(num_sem), np.zeros(num_sem)
    for img, pair in zip(split.images, case_dir['pairs']):
        sem = rng.integers(0, num_sem, size=pair.gt_map.shape)
        samples.append(split.sample(img, pair.pred_map, pair.pred_segments,
                                    sem=sem))
        gt = np.full(pair.gt_map.shape, -1)
        for seg in split.anns[img['id']]['segments_info']:
            gt[pair.gt_map == seg['id']] = split.sem_label[seg['category_id']]
        for c in range(num_sem):
            inter[c] += np.sum((gt == c) & (sem == c))
            union[c] += np.sum((gt != -1) & ((gt == c) | (sem == c)))
    metrics = evaluate(split.metric(SemanticIoUMetric), samples)
    assert metrics['mIoU'] == pytest.approx(
        100 * np.mean(inter[union > 0] / union[union > 0]), abs=1e-9)


def test_missing_and_out_of_range_semantic_maps_are_named(case_dir):
    split = case_dir['split']
    sample = split.perfect_samples()[0]
    del sample['pred_sem_seg']
    with pytest.raises(ValueError, match=r'image 0 .*SemanticIoUMetric needs '
                       'pred_sem_seg in the prediction'):
        split.metric(SemanticIoUMetric).process({}, [sample])
    sample = split.perfect_samples()[0]
    sample['pred_sem_seg']['sem_seg'] = torch.full_like(
        sample['pred_sem_seg']['sem_seg'], 9)
    with pytest.raises(ValueError, match=r'image 0 .*pred_sem_seg labels '
                       r'must lie in 0..\d+, got \[9, 9\]'):
        split.metric(SemanticIoUMetric).process({}, [sample])


def test_no_image_gives_nan(case_dir):
    assert np.isnan(evaluate(case_dir['split'].metric(SemanticIoUMetric),
                             [])['mIoU'])
