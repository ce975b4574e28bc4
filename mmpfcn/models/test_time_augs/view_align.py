"""Bring the maps of one test-time-augmented view (flipped and/or resized)
into the frame of the reference view, and average them there."""
import math
from typing import Callable, NamedTuple, Sequence, Tuple

import torch.nn.functional as F
from torch import Tensor


class ViewMeta(NamedTuple):
    """Where the image lies in a view's padded input.

    Attributes:
        img_shape (tuple[int, int]): The (resized) image, (h, w).
        pad_shape (tuple[int, int]): The padded batch input, (H, W).
        flip (bool): The image was flipped horizontally.
    """
    img_shape: Tuple[int, int]
    pad_shape: Tuple[int, int]
    flip: bool


def view_meta(metainfo: dict) -> ViewMeta:
    """The :class:`ViewMeta` of a data sample's meta information.

    Args:
        metainfo (dict): With ``img_shape``, ``batch_input_shape`` and, for
            a flipped view, ``flip`` and ``flip_direction``.

    Raises:
        KeyError: Without ``batch_input_shape`` (set by the data
            preprocessor).
        ValueError: For a flip other than horizontal.
    """
    if 'batch_input_shape' not in metainfo:
        raise KeyError('view_meta: the data sample has no '
                       '`batch_input_shape`; run the data preprocessor first')
    flip = bool(metainfo.get('flip', False))
    if flip and metainfo.get('flip_direction') != 'horizontal':
        raise ValueError('PanopticFCNTTAModel supports horizontal flips only '
                         '(tta_pipeline RandomFlip direction), got '
                         f'{metainfo.get("flip_direction")!r}')
    return ViewMeta(
        tuple(metainfo['img_shape'][:2]),
        tuple(metainfo['batch_input_shape'][:2]), flip)


def image_region(map_size: Sequence[int], view: ViewMeta) -> Tuple[int, int]:
    """Rows and columns of a map (over the padded input) that the image
    covers: ``ceil(img * map / pad)`` per axis, at most the map size.

    Args:
        map_size (Sequence[int]): (h, w) of the map.
        view (ViewMeta): The view of the map.

    Returns:
        tuple[int, int]: (rows, columns) from the top left.
    """
    return tuple(
        min(size, math.ceil(img * size / pad))
        for size, img, pad in zip(map_size, view.img_shape, view.pad_shape))


def to_reference(x: Tensor, view: ViewMeta, ref: ViewMeta,
                 ref_size: Sequence[int],
                 pad_mode: str = 'constant') -> Tuple[Tensor, Tensor]:
    """Map of a view -> the same map in the reference view's frame.

    The image region of ``x`` is cut out, un-flipped, resized (bilinear,
    ``align_corners=False``) to the image region of the reference map
    and padded to ``ref_size``.

    Args:
        x (Tensor): Map of the view (C, h, w).
        view (ViewMeta): Its view.
        ref (ViewMeta): The reference view.
        ref_size (Sequence[int]): (H, W) of the reference map.
        pad_mode (str): ``'constant'`` (zeros) or ``'replicate'`` (the
            border values) for the reference's padding. Defaults to
            ``'constant'``.

    Returns:
        tuple[Tensor, Tensor]: The map (C, H, W) and where it holds the
        view's values (H, W) float, 1 inside the image region and 0 in the
        padding.
    """
    src_h, src_w = image_region(x.shape[-2:], view)
    dst_h, dst_w = image_region(ref_size, ref)
    x = x[None, :, :src_h, :src_w]
    if view.flip:
        x = x.flip(-1)
    if (src_h, src_w) != (dst_h, dst_w):
        x = F.interpolate(
            x, size=(dst_h, dst_w), mode='bilinear', align_corners=False)
    x = F.pad(x, (0, ref_size[1] - dst_w, 0, ref_size[0] - dst_h),
              mode=pad_mode)[0]
    valid = x.new_zeros(tuple(ref_size))
    valid[:dst_h, :dst_w] = 1
    return x, valid


class ViewAverage:
    """Running average of per-view maps in the reference frame.

    The reference view's map counts everywhere, another view's inside the
    image region only (its padding maps to no part of the reference
    image), so that the reference's padding keeps the reference's values.
    With the reference alone the average is its map, bit for bit; with
    views equal to it too (``(x + x) / 2 == x`` in floating point).

    Args:
        ref (ViewMeta): The reference view.
    """

    def __init__(self, ref: ViewMeta) -> None:
        self.ref = ref
        self.total = None
        self.count = None

    def add(self, x: Tensor, view: ViewMeta, is_ref: bool) -> None:
        """Add the map (C, h, w) of ``view`` (``is_ref``: the reference
        view itself, whose map is taken as it is)."""
        if is_ref:
            mapped, valid = x, x.new_ones(x.shape[-2:])
        else:
            if self.total is None:
                raise RuntimeError('ViewAverage: add the reference view '
                                   'first (its map sets the size)')
            mapped, valid = to_reference(x, view, self.ref,
                                         self.total.shape[-2:])
        if self.total is None:
            self.total, self.count = mapped * valid, valid
        else:
            self.total = self.total + mapped * valid
            self.count = self.count + valid

    def mean(self) -> Tensor:
        """The average (C, H, W) of the maps added so far."""
        return self.total / self.count


def average_views(view_map: Callable[[int], Tensor],
                  views: Sequence[ViewMeta], ref_index: int) -> Tensor:
    """Average the maps of all views in the reference frame
    (:class:`ViewAverage`), computing one view's map at a time.

    Args:
        view_map (Callable[[int], Tensor]): View index -> its map
            (C, h_v, w_v).
        views (Sequence[ViewMeta]): The views.
        ref_index (int): Index of the reference view.

    Returns:
        Tensor: The average (C, H, W), of the reference map's size.
    """
    average = ViewAverage(views[ref_index])
    average.add(view_map(ref_index), views[ref_index], True)
    for index, view in enumerate(views):
        if index != ref_index:
            average.add(view_map(index), view, False)
    return average.mean()


def reference_index(views: Sequence[ViewMeta]) -> int:
    """The first unflipped view: the frame the views are merged in.

    Raises:
        ValueError: If every view is flipped.
    """
    for index, view in enumerate(views):
        if not view.flip:
            return index
    raise ValueError('PanopticFCNTTAModel: every view of the tta_pipeline is '
                     'flipped; add an unflipped one (RandomFlip prob=0.) at '
                     'the test scale, the frame the views are merged in')

