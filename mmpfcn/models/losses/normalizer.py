"""Loss normalisers shared by the data-parallel ranks.

The reference divides each GPU's thing losses by that GPU's own number of
thing targets (spec Sec. 7); after DDP averages the gradients, an image's
weight then depends on how many instances the other images of its GPU
have. Averaging the count over the ranks makes the combined update that of
one large batch normalised by its total count (mmdet's ``reduce_mean``).
"""
import torch
from mmengine.dist import all_reduce, get_world_size


def mean_over_ranks(count: float, device: torch.device) -> float:
    """Average of a per-rank count over the default process group.

    Outside a distributed run (or with one rank) the count is returned as
    it is, so the same code serves single-process training.

    Args:
        count (float): This rank's count (e.g. its thing targets).
        device (torch.device): Device of the reduction (a GPU for nccl).

    Returns:
        float: The mean of ``count`` over all ranks.
    """
    if get_world_size() == 1:
        return float(count)
    total = torch.tensor(float(count), device=device)
    all_reduce(total, op='mean')
    return total.item()
