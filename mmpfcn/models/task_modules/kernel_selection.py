"""Inference-time position selection of Panoptic FCN (Sec. 3.3): thing
peaks on the centre heatmaps and stuff regions on the stuff maps, batched
over the images of a level."""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def max_pool3x3(x: Tensor) -> Tensor:
    """``F.max_pool2d(x, 3, stride=1, padding=1)`` as two separable 1-D
    maxima over shifted views (the same values: a maximum is exact); ~20x
    faster on CPU than PyTorch's pooling kernel, which also computes the
    indices.

    Args:
        x (Tensor): Maps (..., h, w).

    Returns:
        Tensor: Maps of the same shape.
    """
    x = F.pad(x, (1, 1, 1, 1), value=float('-inf'))
    rows = torch.maximum(torch.maximum(x[..., :-2], x[..., 1:-1]), x[..., 2:])
    return torch.maximum(
        torch.maximum(rows[..., :-2, :], rows[..., 1:-1, :]), rows[..., 2:, :])


def select_thing_peaks(thing_logits: Tensor, pool_size: int, top_k: int,
                       score_thr: float) -> List[Tuple[Tensor, Tensor,
                                                       Tensor]]:
    """Find the object centres of one level for every image.

    ``heat = sigmoid(logits)`` is smoothed as
    ``(heat + avg_pool(heat, pool_size, stride 1, same padding)) / 2``
    (padding counts as 0, as in the reference), only local maxima of a 3x3
    max-pool survive, the top-K positions of every class and then the top-K
    of those over all classes are taken, ``K = min(h * w, top_k)``, and
    scores ``> score_thr`` are kept.

    Args:
        thing_logits (Tensor): Thing heatmap logits of shape
            (B, N_th, h, w).
        pool_size (int): Odd smoothing window (3 on P3-P5, 5 on P6-P7).
        top_k (int): K before clipping to the map size (the reference's
            ``TOP_NUM // 2`` = 50).
        score_thr (float): Peaks must score above it (0.05; FAST 0.2).

    Returns:
        list[tuple[Tensor, Tensor, Tensor]]: Per image, sorted by score
        (descending): scores (n,), labels (n,) long and positions (n,)
        long, flat indices into ``h * w``.
    """
    if thing_logits.dim() != 4:
        raise ValueError('select_thing_peaks expects logits (B, N_th, h, w), '
                         f'got shape {tuple(thing_logits.shape)}')
    if pool_size % 2 != 1:
        raise ValueError(f'select_thing_peaks: pool_size must be odd to keep '
                         f'the map size, got {pool_size}')
    batch, num_classes, height, width = thing_logits.shape
    heat = thing_logits.sigmoid()
    heat = (heat + F.avg_pool2d(
        heat, pool_size, stride=1, padding=(pool_size - 1) // 2)) / 2
    is_peak = max_pool3x3(heat) == heat
    heat = heat * is_peak

    k = min(height * width, top_k)
    class_scores, class_pos = heat.view(batch, num_classes, -1).topk(k)
    scores, flat = class_scores.view(batch, -1).topk(k)  # (B, K)
    labels = torch.div(flat, k, rounding_mode='floor')
    positions = class_pos.view(batch, -1).gather(1, flat)
    keep = scores > score_thr
    return [(scores[b][keep[b]], labels[b][keep[b]], positions[b][keep[b]])
            for b in range(batch)]


def select_stuff_regions(
        stuff_logits: Tensor,
        score_thr: float) -> List[Tuple[Tensor, Tensor, Tensor]]:
    """Find the stuff regions of one level for every image.

    Every pixel goes to its arg-max channel of ``sigmoid(logits)``; each
    channel present scores the mean probability over its arg-max region
    and is kept if that is ``> score_thr``. Channel 0 (all things) is
    returned like any other; the panoptic merge ignores it.

    Args:
        stuff_logits (Tensor): Stuff logits of shape (B, N_st, h, w).
        score_thr (float): Regions must score above it (0.05; FAST 0.1).

    Returns:
        list[tuple[Tensor, Tensor, Tensor]]: Per image, in ascending channel
        order: scores (m,), labels (m,) long and regions (m, h, w) bool.
    """
    if stuff_logits.dim() != 4:
        raise ValueError('select_stuff_regions expects logits '
                         f'(B, N_st, h, w), got {tuple(stuff_logits.shape)}')
    num_channels = stuff_logits.shape[1]
    prob = stuff_logits.sigmoid()
    channels = torch.arange(num_channels, device=prob.device)
    one_hot = prob.argmax(dim=1, keepdim=True) == channels.view(
        1, -1, 1, 1)  # (B, N_st, h, w)
    area = one_hot.sum(dim=(2, 3))  # (B, N_st)
    scores = (prob * one_hot).sum(dim=(2, 3)) / area.clamp(min=1)
    keep = (area > 0) & (scores > score_thr)
    results = []
    for b in range(prob.shape[0]):
        labels = keep[b].nonzero().squeeze(1)
        results.append((scores[b, labels], labels, one_hot[b, labels]))
    return results
