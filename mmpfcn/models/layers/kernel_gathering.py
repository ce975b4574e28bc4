"""How the thing and stuff generators read kernels off the kernel maps
(paper Sec. 3.4): the top-k positive positions of a thing region (training,
weighted dice) and the pooling of the kernel map over a stuff region
(training and inference alike)."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def topk_positive_kernels(guidance: Tensor,
                          regions: Tensor,
                          k: int,
                          uniform: bool = False) -> Tuple[Tensor, Tensor]:
    """Pick the k most confident positions of every instance (Sec. 3.4).

    The guidance (sigmoid of the predicted thing heatmap at the GT class) is
    zeroed outside the candidate region and the top-k positions are taken;
    their weights are the guidance values normalised to sum to 1. Picks
    outside the region (region smaller than k) have weight 0. The weights
    are not detached, so the dice loss also trains the position head.
    With ``uniform`` the picks inside the region share equal, constant
    weights instead (the "top-k without weighting" ablation).

    Args:
        guidance (Tensor): Guidance scores of shape (n, P), P = h_l * w_l.
        regions (Tensor): Candidate regions of shape (n, P), bool.
        k (int): Number of kernels per instance.
        uniform (bool): Equal weights over the picks inside the region.
            Defaults to False.

    Returns:
        tuple[Tensor, Tensor]: Flat positions (n, k), long, and weights
        (n, k). If P < k the missing picks are position 0 with weight 0.
    """
    if guidance.dim() != 2 or guidance.shape != regions.shape:
        raise ValueError('topk_positive_kernels expects guidance and regions '
                         f'of the same (n, P) shape, got '
                         f'{tuple(guidance.shape)} and '
                         f'{tuple(regions.shape)}')
    regions = regions.bool()
    scores = torch.where(regions, guidance, 0)
    values, inds = scores.topk(min(k, scores.shape[1]), dim=1)
    if uniform:
        values = regions.gather(1, inds).to(values.dtype)
    missing = k - values.shape[1]
    if missing > 0:
        values = F.pad(values, (0, missing))
        inds = F.pad(inds, (0, missing))
    weights = values / values.sum(dim=1, keepdim=True).clamp(min=1e-8)
    return inds, weights


def stuff_kernel_pooling(regions: Tensor, kernel_map: Tensor) -> Tensor:
    """Average the kernel map over each stuff region, divided by the MAP area.

    As in the reference, the sum over the region is divided by ``h * w``,
    not by the region area, in training and at inference alike.

    Args:
        regions (Tensor): Region masks of shape (..., m, h, w), bool or
            float.
        kernel_map (Tensor): Kernel map of shape (..., C, h, w).

    Returns:
        Tensor: Stuff kernels of shape (..., m, C).
    """
    if regions.shape[-2:] != kernel_map.shape[-2:]:
        raise ValueError('stuff_kernel_pooling: regions and kernel_map must '
                         'share their spatial size, got '
                         f'{tuple(regions.shape)} and '
                         f'{tuple(kernel_map.shape)}')
    height, width = kernel_map.shape[-2:]
    pooled = torch.einsum('...mhw,...chw->...mc',
                          regions.to(kernel_map.dtype), kernel_map)
    return pooled / (height * width)
