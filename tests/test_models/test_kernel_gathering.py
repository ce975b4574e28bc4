"""Reading kernels off the kernel maps: the top-k positives of a thing
region and the stuff region pooling."""
import pytest
import torch

from mmpfcn.models.layers import stuff_kernel_pooling, topk_positive_kernels


def test_topk_weights_region_and_gradient():
    guidance = torch.tensor([[0.1, 0.9, 0.4, 0.8, 0.2, 0.95],
                             [0.3, 0.7, 0.6, 0.5, 0.9, 0.1]],
                            requires_grad=True)
    regions = torch.tensor([[1, 1, 1, 1, 0, 0], [0, 0, 1, 0, 0, 0]]).bool()
    inds, weights = topk_positive_kernels(guidance, regions, k=3)
    assert inds[0].tolist() == [1, 3, 2]  # 0.95 lies outside the region
    assert torch.allclose(weights[0],
                          torch.tensor([0.9, 0.8, 0.4]) / 2.1)
    # region of one pixel: the other two picks weigh 0
    assert inds[1, 0].item() == 2
    assert weights[1].tolist() == [1.0, 0.0, 0.0]
    # not detached: d w00 / d g01 = (S - s0) / S^2, d w00 / d g03 = -s0 / S^2
    weights[0, 0].backward()
    s = 2.1
    assert guidance.grad[0, 1].item() == pytest.approx((s - 0.9) / s**2)
    assert guidance.grad[0, 3].item() == pytest.approx(-0.9 / s**2)
    assert guidance.grad[0, 5].item() == 0.0


def test_topk_with_fewer_positions_than_k():
    inds, weights = topk_positive_kernels(
        torch.tensor([[0.5]]), torch.tensor([[True]]), k=3)
    assert inds.tolist() == [[0, 0, 0]]
    assert weights.tolist() == [[1.0, 0.0, 0.0]]
    inds, weights = topk_positive_kernels(
        torch.zeros(0, 4), torch.zeros(0, 4, dtype=torch.bool), k=2)
    assert inds.shape == weights.shape == (0, 2)


def test_stuff_kernel_pooling_divides_by_map_area():
    regions = torch.tensor([[[1, 0], [0, 0]], [[1, 1], [1, 0]]]).bool()
    kernel_map = torch.arange(12, dtype=torch.float32).view(3, 2, 2)
    pooled = stuff_kernel_pooling(regions, kernel_map)
    # region 0 = pixel (0, 0): values 0, 4, 8 over 4 pixels
    # region 1 = pixels 0, 1, 2: sums 3, 15, 27 over 4 pixels
    assert torch.allclose(pooled, torch.tensor([[0.0, 1.0, 2.0],
                                                [0.75, 3.75, 6.75]]))
    batched = stuff_kernel_pooling(regions[None].expand(2, -1, -1, -1),
                                   kernel_map[None].expand(2, -1, -1, -1))
    assert torch.allclose(batched, pooled[None].expand(2, -1, -1))
