"""Thing targets of Panoptic FCN (paper Sec. 3.2-3.4, spec Sec. 2): object
centres, the CenterNet Gaussian radius and heatmaps, and the assignment of
instances to levels by scale, as pure functions."""
from typing import Sequence, Tuple

import torch
from torch import Tensor


def gaussian_radius(heights: Tensor,
                    widths: Tensor,
                    min_overlap: float = 0.7) -> Tensor:
    """CenterNet Gaussian radius of boxes, in the reference's original form.

    The three quadratic roots (both corners inside, both outside, one of
    each) are each divided by 2, as in the original CornerNet code the
    reference uses (not the corrected ``/ (2a)`` form), and
    ``r = int(max(0, min(r1, r2, r3)))``.

    Args:
        heights (Tensor): Box heights on the level grid, shape (N,).
        widths (Tensor): Box widths on the level grid, shape (N,).
        min_overlap (float): Minimum IoU of a box whose corners move by
            the radius. Defaults to 0.7.

    Returns:
        Tensor: Radii of shape (N,), dtype long (truncated towards zero).
    """
    h = heights.float()
    w = widths.float()
    b1 = h + w
    c1 = w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + torch.sqrt(b1**2 - 4 * c1)) / 2

    a2 = 4
    b2 = 2 * (h + w)
    c2 = (1 - min_overlap) * w * h
    r2 = (b2 + torch.sqrt(b2**2 - 4 * a2 * c2)) / 2

    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (h + w)
    c3 = (min_overlap - 1) * w * h
    r3 = (b3 + torch.sqrt(b3**2 - 4 * a3 * c3)) / 2

    radius = torch.minimum(r1, torch.minimum(r2, r3))
    return radius.clamp(min=0).long()


def draw_gaussian_heatmap(
        num_classes: int,
        size: Tuple[int, int],
        centers: Tensor,
        radii: Tensor,
        labels: Tensor,
        sigma_factor: float = 3.0,
        eps: float = torch.finfo(torch.float64).eps) -> Tensor:
    """Draw one Gaussian per instance on its class channel, merged by max.

    Every Gaussian has ``sigma = (2r + 1) / sigma_factor``, peak 1 at its
    centre, is limited to the ``(2r + 1) x (2r + 1)`` window around the
    centre (clipped at the map border) and values below ``eps * peak`` are
    0.
    All instances are drawn at once.

    Args:
        num_classes (int): Number of class channels.
        size (tuple[int, int]): Map size ``(h, w)``.
        centers (Tensor): Integer centres ``[y, x]``, shape (N, 2), long.
        radii (Tensor): Radii, shape (N,), long.
        labels (Tensor): Class channel of every instance, shape (N,).
        sigma_factor (float): The Gaussian's diameter ``2r + 1`` over its
            sigma (the reference's GAUSSIAN_SIGMA). Defaults to 3.
        eps (float): Relative cut-off of the Gaussian tails.

    Returns:
        Tensor: Heatmap of shape (num_classes, h, w), float32.
    """
    height, width = size
    device = centers.device
    heatmap = torch.zeros(num_classes, height * width, device=device)
    num = centers.shape[0]
    if num == 0:
        return heatmap.view(num_classes, height, width)
    if centers.shape != (num, 2) or radii.shape != (num, ) or \
            labels.shape != (num, ):
        raise ValueError('draw_gaussian_heatmap expects centers (N, 2), radii '
                         f'(N,) and labels (N,), got {tuple(centers.shape)}, '
                         f'{tuple(radii.shape)} and {tuple(labels.shape)}')
    radii = radii.to(device)
    dy = torch.arange(height, device=device) - centers[:, :1]  # (N, h)
    dx = torch.arange(width, device=device) - centers[:, 1:]  # (N, w)
    sigma = (2 * radii.float() + 1) / sigma_factor  # (N,)
    dist2 = (dy[:, :, None]**2 + dx[:, None, :]**2).float()  # (N, h, w)
    gauss = torch.exp(-dist2 / (2 * sigma**2)[:, None, None])
    in_window = ((dy.abs() <= radii[:, None])[:, :, None]
                 & (dx.abs() <= radii[:, None])[:, None, :])
    # the peak of every window is exp(0) = 1, so eps * max is just eps
    gauss = torch.where(in_window & (gauss >= eps), gauss, 0)
    index = labels.to(device).long()[:, None].expand(-1, height * width)
    heatmap.scatter_reduce_(0, index, gauss.view(num, -1), reduce='amax')
    return heatmap.view(num_classes, height, width)


def mass_centers(masks: Tensor) -> Tensor:
    """Mean row and column of the positive (> 0) pixels of every mask.

    Args:
        masks (Tensor): Masks of shape (N, h, w), bool or (soft) float.

    Returns:
        Tensor: Centres ``[y, x]`` of shape (N, 2), float32; NaN for a mask
        without positive pixels.
    """
    if masks.dim() != 3:
        raise ValueError('mass_centers expects masks of shape (N, h, w), got '
                         f'{tuple(masks.shape)}')
    _, height, width = masks.shape
    fg = masks > 0
    # integer sums are exact for any map size
    row_counts = fg.sum(dim=2)  # (N, h)
    col_counts = fg.sum(dim=1)  # (N, w)
    area = row_counts.sum(dim=1).float()  # (N,)
    rows = torch.arange(height, device=masks.device)
    cols = torch.arange(width, device=masks.device)
    y = (row_counts * rows).sum(dim=1).float() / area
    x = (col_counts * cols).sum(dim=1).float() / area
    return torch.stack((y, x), dim=1)


def assign_levels(scales: Tensor,
                  scale_ranges: Sequence[Tuple[float, float]]) -> Tensor:
    """Assign instances to every level whose closed scale range holds them.

    Args:
        scales (Tensor): ``sqrt(box area)`` of every instance, shape (N,).
        scale_ranges (Sequence[tuple[float, float]]): ``(low, high)`` per
            level; ranges may overlap and both ends are included.

    Returns:
        Tensor: Bool assignment of shape (L, N).
    """
    ranges = torch.as_tensor(
        scale_ranges, dtype=scales.dtype, device=scales.device)  # (L, 2)
    return ((scales[None] >= ranges[:, :1]) & (scales[None] <= ranges[:, 1:]))


def thing_centers(masks: Tensor, boxes: Tensor, stride: int,
                  center_type: str) -> Tensor:
    """The centre of every thing at stride 4: its mass centre (``'mass'``)
    or its box centre (``'box'``).

    A tiny instance can vanish in the bilinear stride-4 mask; its mass
    centre then falls back to its box centre instead of NaN.

    Args:
        masks (Tensor): Soft stride-4 masks (N, H/4, W/4).
        boxes (Tensor): Boxes (N, 4) xyxy in input pixels.
        stride (int): Stride of the masks.
        center_type (str): ``'mass'`` or ``'box'``.

    Returns:
        Tensor: Centres ``[y, x]`` (N, 2) at stride 4, float.
    """
    box_centers = torch.stack(
        ((boxes[:, 1] + boxes[:, 3]) / 2,
         (boxes[:, 0] + boxes[:, 2]) / 2), dim=1) / stride
    if center_type == 'box':
        return box_centers
    centers = mass_centers(masks)  # (N, 2) at stride 4
    return torch.where(centers.isnan(), box_centers, centers)
