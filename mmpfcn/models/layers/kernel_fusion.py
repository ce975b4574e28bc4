"""Kernel fusion: merge the thing kernels of one image that describe the same
object (Panoptic FCN, Sec. 3.3), replacing NMS."""
from typing import Tuple

import torch
from torch import Tensor


def kernel_fusion(kernels: Tensor,
                  scores: Tensor,
                  labels: Tensor,
                  sim_thr: float = 0.9,
                  class_aware: bool = True) -> Tuple[Tensor, Tensor, Tensor]:
    """Greedily fuse similar kernels, highest score first.

    With kernels sorted by score, ``S`` is their cosine similarity (norms
    clamped to >= 1e-8) and ``L = triu(S) >= sim_thr`` (diagonal included;
    AND same label when ``class_aware``). ``C = cumsum(L, dim=0) < 2``
    marks, for every kernel j, only the first kernel (in score order) that
    matches it. Kernel i is kept iff ``C[i, i]``, i.e. no higher-scored
    kernel matched it; a kept kernel becomes the mean of the kernels j with
    ``L[i, j] & C[i, j]`` and keeps its own score and label.

    The rule is greedy and not transitive, as in the reference: if A ~ B and
    B ~ C but A !~ C (scores A > B > C), A absorbs B, and C is dropped
    because B already claimed it, although B itself is not kept.

    Args:
        kernels (Tensor): Kernels of shape (N, C), in any order.
        scores (Tensor): Scores of shape (N,).
        labels (Tensor): Class labels of shape (N,).
        sim_thr (float): Cosine similarity at and above which two kernels
            match. Defaults to 0.9.
        class_aware (bool): Only fuse kernels of the same label. Defaults
            to True.

    Returns:
        tuple[Tensor, Tensor, Tensor]: Fused kernels (M, C), their scores
        (M,) and labels (M,), sorted by score, descending.
    """
    num = kernels.shape[0]
    if kernels.dim() != 2 or scores.shape != (num, ) or \
            labels.shape != (num, ):
        raise ValueError('kernel_fusion expects kernels (N, C), scores (N,) '
                         f'and labels (N,), got {tuple(kernels.shape)}, '
                         f'{tuple(scores.shape)} and {tuple(labels.shape)}')
    order = torch.argsort(scores, descending=True, stable=True)
    kernels, scores, labels = kernels[order], scores[order], labels[order]
    if num == 0:
        return kernels, scores, labels

    unit = kernels / kernels.norm(dim=1, keepdim=True).clamp(min=1e-8)
    upper = torch.ones(num, num, dtype=torch.bool, device=kernels.device)
    match = (unit @ unit.t() >= sim_thr) & upper.triu()  # (N, N), L
    # a kernel always matches itself, even an all-zero one (cosine 0)
    match.fill_diagonal_(True)
    if class_aware:
        match &= labels[:, None] == labels[None, :]
    # first_claim[i, j]: no kernel ranked above i (inclusive) matched j twice
    first_claim = match.long().cumsum(dim=0) < 2  # (N, N), C
    keep = first_claim.diagonal()
    members = (match & first_claim)[keep].to(kernels.dtype)  # (M, N)
    fused = (members @ kernels) / members.sum(dim=1, keepdim=True)
    return fused, scores[keep], labels[keep]


def class_mean_kernels(kernels: Tensor, scores: Tensor,
                       labels: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Fuse the stuff kernels of one image: one kernel per class.

    The kernels and scores of a class (one per level where the class was
    found) are averaged, as in the reference; this is the stuff
    counterpart of :func:`kernel_fusion`.

    Args:
        kernels (Tensor): Kernels of shape (N, C).
        scores (Tensor): Scores of shape (N,).
        labels (Tensor): Class labels of shape (N,).

    Returns:
        tuple[Tensor, Tensor, Tensor]: Mean kernels (U, C), mean scores (U,)
        and the classes (U,), ascending.
    """
    num = kernels.shape[0]
    if kernels.dim() != 2 or scores.shape != (num, ) or \
            labels.shape != (num, ):
        raise ValueError('class_mean_kernels expects kernels (N, C), scores '
                         f'(N,) and labels (N,), got {tuple(kernels.shape)}, '
                         f'{tuple(scores.shape)} and {tuple(labels.shape)}')
    classes, inverse = torch.unique(labels, return_inverse=True)
    counts = scores.new_zeros(len(classes)).index_add_(
        0, inverse, torch.ones_like(scores))  # (U,)
    mean_kernels = kernels.new_zeros(len(classes), kernels.shape[1])
    mean_kernels.index_add_(0, inverse, kernels)
    mean_scores = scores.new_zeros(len(classes)).index_add_(0, inverse, scores)
    return mean_kernels / counts[:, None], mean_scores / counts, classes
