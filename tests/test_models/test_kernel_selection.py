import pytest
import torch
import torch.nn.functional as F

from mmpfcn.models.task_modules import select_stuff_regions, select_thing_peaks
from mmpfcn.models.task_modules.kernel_selection import max_pool3x3


def logits(prob: torch.Tensor) -> torch.Tensor:
    return torch.logit(prob.double()).float()


def hand_heatmap() -> torch.Tensor:
    prob = torch.full((1, 2, 5, 5), 0.01)
    prob[0, 0, 1, 1] = 0.9
    prob[0, 0, 1, 2] = 0.5  # next to 0.9: not a peak
    prob[0, 0, 3, 3] = 0.6
    prob[0, 1, 0, 4] = 0.8
    return logits(prob)


def test_thing_peaks_without_smoothing():
    # pool size 1: avg_pool is the identity, heat = sigmoid(logits)
    scores, labels, positions = select_thing_peaks(
        hand_heatmap(), pool_size=1, top_k=3, score_thr=0.05)[0]
    assert scores.tolist() == pytest.approx([0.9, 0.8, 0.6])
    assert labels.tolist() == [0, 1, 0]
    assert positions.tolist() == [1 * 5 + 1, 0 * 5 + 4, 3 * 5 + 3]


def test_thing_peaks_top_k_and_threshold():
    scores, labels, positions = select_thing_peaks(
        hand_heatmap(), pool_size=1, top_k=2, score_thr=0.05)[0]
    # K = 2 per class, then 2 overall
    assert scores.tolist() == pytest.approx([0.9, 0.8])
    scores, labels, _ = select_thing_peaks(
        hand_heatmap(), pool_size=1, top_k=50, score_thr=0.7)[0]
    assert scores.tolist() == pytest.approx([0.9, 0.8])
    assert labels.tolist() == [0, 1]
    # flat background pixels are peaks of 0.01, all under the threshold
    scores, _, _ = select_thing_peaks(
        hand_heatmap(), pool_size=1, top_k=50, score_thr=0.0)[0]
    assert len(scores) == 25  # K = min(5 * 5, 50)


def test_thing_peaks_smoothing_counts_padding_as_zero():
    # constant p on 3x3: avg-pool gives p at the centre, 6p/9 at edges and
    # 4p/9 at corners, so only the centre is a peak, scoring p
    p = 0.6
    scores, labels, positions = select_thing_peaks(
        logits(torch.full((1, 1, 3, 3), p)), pool_size=3, top_k=50,
        score_thr=0.05)[0]
    assert scores.tolist() == pytest.approx([p])
    assert positions.tolist() == [4]
    # a corner peak: (0.9 + (0.9 + 3 * 0.01) / 9) / 2 with zero padding
    prob = torch.full((1, 1, 3, 3), 0.01)
    prob[0, 0, 0, 0] = 0.9
    scores, _, positions = select_thing_peaks(
        logits(prob), pool_size=3, top_k=50, score_thr=0.05)[0]
    assert scores.tolist() == pytest.approx([(0.9 + 0.93 / 9) / 2])
    assert positions.tolist() == [0]


def test_thing_peaks_batch_equals_per_image():
    torch.manual_seed(0)
    batch = torch.randn(2, 3, 8, 8) * 3
    together = select_thing_peaks(batch, 3, 10, 0.3)
    for b in range(2):
        alone = select_thing_peaks(batch[b:b + 1], 3, 10, 0.3)[0]
        for x, y in zip(together[b], alone):
            assert torch.equal(x, y)
    assert len(together[0][0]) > 0
    with pytest.raises(ValueError, match='odd'):
        select_thing_peaks(batch, 4, 10, 0.3)


def test_stuff_regions_by_hand():
    prob = torch.full((1, 3, 2, 2), 0.01)
    prob[0, 0, 0, :] = torch.tensor([0.9, 0.7])  # channel 0 on row 0
    prob[0, 2, 1, 0] = 0.6  # channel 2 on (1, 0)
    prob[0, 1, 1, 1] = 0.04  # channel 1 wins (1, 1) but scores 0.04
    scores, labels, regions = select_stuff_regions(logits(prob), 0.05)[0]
    assert labels.tolist() == [0, 2]
    assert scores.tolist() == pytest.approx([0.8, 0.6])
    assert regions.tolist() == [[[True, True], [False, False]],
                                [[False, False], [True, False]]]
    scores, labels, regions = select_stuff_regions(logits(prob), 0.03)[0]
    assert labels.tolist() == [0, 1, 2]
    assert regions.dtype == torch.bool


def test_stuff_regions_batch_equals_per_image():
    torch.manual_seed(1)
    batch = torch.randn(2, 4, 6, 5)
    together = select_stuff_regions(batch, 0.3)
    for b in range(2):
        alone = select_stuff_regions(batch[b:b + 1], 0.3)[0]
        for x, y in zip(together[b], alone):
            assert torch.equal(x, y)


@pytest.mark.parametrize('shape', [(1, 80, 100, 152), (2, 3, 1, 1),
                                   (1, 2, 2, 5), (1, 4, 7, 3)])
def test_separable_max_pool_equals_max_pool2d(shape):
    gen = torch.Generator().manual_seed(sum(shape))
    heat = torch.rand(shape, generator=gen).sigmoid()
    heat[..., ::3, ::2] = 0.5  # ties
    assert torch.equal(max_pool3x3(heat),
                       F.max_pool2d(heat, 3, stride=1, padding=1))
