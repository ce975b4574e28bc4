"""Coordinate channels ("CoordConv") appended before the first conv of the
kernel head and the feature encoder."""
import torch
from torch import Tensor


def coord_features(x: Tensor) -> Tensor:
    """Normalised [Y, X] coordinates of every position of a feature map.

    Each channel is ``linspace(-1, 1, size)`` over the (padded) map, so the
    corners are exactly -1 and 1 whatever the map size.

    Args:
        x (Tensor): Feature map of shape (B, C, H, W); only its shape, dtype
            and device are used.

    Returns:
        Tensor: Coordinates of shape (B, 2, H, W), channel 0 = Y (varies
        along rows), channel 1 = X (varies along columns).
    """
    if x.dim() != 4:
        raise ValueError('coord_features expects a (B, C, H, W) feature map, '
                         f'got shape {tuple(x.shape)}')
    batch, _, height, width = x.shape
    ys = torch.linspace(-1, 1, height, dtype=x.dtype, device=x.device)
    xs = torch.linspace(-1, 1, width, dtype=x.dtype, device=x.device)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')  # (H, W) each
    coords = torch.stack((grid_y, grid_x))  # (2, H, W)
    return coords.unsqueeze(0).expand(batch, -1, -1, -1)


def cat_coords(x: Tensor) -> Tensor:
    """Concatenate the [Y, X] coordinate channels after the features.

    Args:
        x (Tensor): Feature map of shape (B, C, H, W).

    Returns:
        Tensor: Shape (B, C + 2, H, W): features, then Y, then X.
    """
    return torch.cat((x, coord_features(x)), dim=1)
