import math

import pytest
import torch

from mmpfcn.models.layers import class_mean_kernels, kernel_fusion


def unit(deg: float) -> list:
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


def test_chain_a_b_c_keeps_only_a_with_mean_of_a_and_b():
    # cos 20 deg = 0.94 >= 0.9 (A~B, B~C); cos 40 deg = 0.77 (A !~ C).
    # Sorted A > B > C: L = [[1,1,0],[0,1,1],[0,0,1]], column cumsums
    # A [1,1,1], B [1,2,2], C [0,1,2]: C[B,B] and C[C,C] are false, so
    # only A survives, as mean(A, B); C is dropped because B claimed it.
    a, b, c = unit(0), unit(20), unit(40)
    kernels = torch.tensor([c, a, b])  # unsorted on purpose
    scores = torch.tensor([0.7, 0.9, 0.8])
    labels = torch.tensor([3, 3, 3])
    fused, out_scores, out_labels = kernel_fusion(kernels, scores, labels)
    expected = (torch.tensor(a) + torch.tensor(b)) / 2
    assert fused.shape == (1, 2)
    assert torch.allclose(fused[0], expected)
    assert out_scores.tolist() == [torch.tensor(0.9).item()]
    assert out_labels.tolist() == [3]


def test_chain_of_four_keeps_only_the_first():
    # 0, 20, 40, 60 degrees: C is claimed by B and D by C, neither kept.
    kernels = torch.tensor([unit(0), unit(20), unit(40), unit(60)])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    fused, out_scores, _ = kernel_fusion(kernels, scores, torch.zeros(4))
    assert out_scores.tolist() == [torch.tensor(0.9).item()]
    assert torch.allclose(fused[0], (kernels[0] + kernels[1]) / 2)


def test_class_aware_versus_agnostic():
    kernels = torch.tensor([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0]])
    scores = torch.tensor([0.9, 0.8, 0.5])
    labels = torch.tensor([1, 2, 1])
    fused, out_scores, out_labels = kernel_fusion(kernels, scores, labels)
    # different labels: nothing fuses
    assert torch.equal(fused, kernels)
    assert out_labels.tolist() == [1, 2, 1]
    fused, out_scores, out_labels = kernel_fusion(
        kernels, scores, labels, class_aware=False)
    assert torch.allclose(fused, torch.tensor([[1.5, 0.05], [0.0, 1.0]]))
    assert out_labels.tolist() == [1, 1]
    assert torch.allclose(out_scores, torch.tensor([0.9, 0.5]))


def test_threshold_is_inclusive_and_scale_invariant():
    # identical direction, different norms: cosine exactly 1
    kernels = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    fused, out_scores, _ = kernel_fusion(
        kernels, torch.tensor([0.1, 0.2]), torch.zeros(2), sim_thr=1.0)
    assert torch.allclose(fused, torch.tensor([[1.65, 2.2]]))
    assert torch.allclose(out_scores, torch.tensor([0.2]))


def test_unsorted_dissimilar_kernels_come_back_sorted():
    kernels = torch.eye(3)
    scores = torch.tensor([0.2, 0.9, 0.5])
    labels = torch.tensor([0, 1, 2])
    fused, out_scores, out_labels = kernel_fusion(kernels, scores, labels)
    assert torch.allclose(out_scores, torch.tensor([0.9, 0.5, 0.2]))
    assert out_labels.tolist() == [1, 2, 0]
    assert torch.equal(fused, kernels[[1, 2, 0]])


def test_zero_kernel_is_kept_as_itself():
    kernels = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    fused, out_scores, _ = kernel_fusion(
        kernels, torch.tensor([0.9, 0.8]), torch.zeros(2))
    assert torch.equal(fused, kernels)
    assert not torch.isnan(fused).any()


def test_empty_input():
    fused, out_scores, out_labels = kernel_fusion(
        torch.zeros(0, 8), torch.zeros(0), torch.zeros(0, dtype=torch.long))
    assert fused.shape == (0, 8)
    assert out_scores.shape == (0, )
    assert out_labels.shape == (0, )
    assert out_labels.dtype == torch.long


def test_class_mean_kernels_averages_kernels_and_scores_per_class():
    kernels = torch.tensor([[2.0, 0], [0, 1.0], [0, 4.0]])
    scores = torch.tensor([0.2, 0.5, 0.4])
    labels = torch.tensor([2, 1, 2])
    mean_kernels, mean_scores, classes = class_mean_kernels(
        kernels, scores, labels)
    assert classes.tolist() == [1, 2]
    assert torch.allclose(mean_scores, torch.tensor([0.5, 0.3]))
    assert torch.allclose(mean_kernels, torch.tensor([[0, 1.0], [1.0, 2.0]]))
    empty = class_mean_kernels(
        torch.zeros(0, 2), torch.zeros(0), torch.zeros(0, dtype=torch.long))
    assert [tuple(x.shape) for x in empty] == [(0, 2), (0, ), (0, )]
    with pytest.raises(ValueError, match='class_mean_kernels expects'):
        class_mean_kernels(kernels, scores[:2], labels)
