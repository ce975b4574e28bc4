"""Resize the head's stride-4 soft masks to the image (spec Sec. 4: x4
bilinear upsampling, crop to the resized image, bilinear resize to the
original size, threshold).

:func:`masks_to_image` is the straightforward soft path.
:func:`binary_masks_to_image` gives the same thresholded masks while
upsampling each mask only around the stride-4 pixels that can pass the
threshold:

- Bilinear interpolation is a convex combination of (at most) 4 taps, and
  float rounding is monotone, so an output pixel whose taps are all below
  ``thr * (1 - CANDIDATE_MARGIN)`` stays below ``thr`` (rounding moves a
  value by ~1e-7 relative, far less than the margin).
- The x4 upsampling (``scale_factor=4``) gives every output pixel the same
  taps and weights in a window as in the whole map (the source coordinate
  ``(y + 0.5) / 4 - 0.5`` shifts exactly by the window offset), so a
  window's result equals the whole map's bit for bit away from the window
  border (2 output pixels). PyTorch's CPU kernel takes another code path,
  1 ulp different, for small inputs (measured with torch 2.x: height +
  width <= 32), so windows are at least ``MIN_WINDOW`` stride-4 pixels wide
  in both directions (or the whole side). ``tests/test_models/
  test_mask_resize.py`` checks the bit equality.
- The resize to the original size (any scale) is done on the whole map,
  from a canvas that holds the exact x4 values within 2 stride-4 pixels of
  the candidates and zeros elsewhere; zeros only reach output pixels whose
  taps all lie below the threshold anyway.
"""
from typing import Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

STRIDE = 4
# taps below thr * (1 - margin) cannot give an output above thr
CANDIDATE_MARGIN = 1e-5
# smallest window side (stride-4 pixels), see the module docstring
MIN_WINDOW = 32
# stride-4 pixels kept around the candidates: 1 for the x4 upsampling,
# 1 more for the taps of the resize to the original size
WINDOW_MARGIN = 2
# pixels of the full-size maps handled at once (bounds the temporaries)
PIXEL_CHUNK = 1 << 20


def masks_to_image(masks: Tensor,
                   img_shape: Sequence[int],
                   ori_shape: Optional[Sequence[int]] = None) -> Tensor:
    """Resize stride-4 soft masks of the padded input to the image.

    x4 bilinear upsampling to the padded input, crop to the resized image
    (``img_shape``), then (optionally) bilinear resize to ``ori_shape``;
    all with ``align_corners=False``.

    Args:
        masks (Tensor): Soft masks of shape (n, H/4, W/4); n may be 0.
        img_shape (tuple[int, int]): (h, w) of the resized image inside
            the padded input.
        ori_shape (tuple[int, int], optional): (h, w) of the original image;
            None keeps ``img_shape``.

    Returns:
        Tensor: Soft masks of shape (n, *out_shape).
    """
    out_shape = tuple(ori_shape or img_shape)
    if masks.shape[0] == 0:
        return masks.new_zeros(0, *out_shape)
    masks = F.interpolate(
        masks[None], scale_factor=STRIDE, mode='bilinear',
        align_corners=False)
    masks = masks[..., :img_shape[0], :img_shape[1]]
    if tuple(masks.shape[-2:]) != out_shape:
        masks = F.interpolate(
            masks, size=out_shape, mode='bilinear', align_corners=False)
    return masks[0]


def any_along(hits: Tensor, dim: int) -> Tensor:
    """``hits.any(dim)`` of a bool tensor, as the maximum of its uint8 view
    (about 10x faster than ``any`` on CPU)."""
    if hits.shape[dim] == 0:
        return hits.any(dim)
    return hits.view(torch.uint8).amax(dim).bool()


def stuff_argmax_to_image(
        masks: Tensor,
        labels: Tensor,
        img_shape: Sequence[int],
        ori_shape: Optional[Sequence[int]] = None,
        channel_dtype: torch.dtype = torch.long) -> Tuple[Tensor, Tensor]:
    """The per-pixel maximum of the resized stuff masks and its channel,
    one mask at a time (a running maximum instead of a (u, H, W) map).

    Equals ``sem.max(dim=0)`` of the N_st-channel map ``sem`` that holds
    ``masks_to_image(masks, ...)`` in channels ``labels`` and zeros
    elsewhere: ties go to the lower channel, and where every probability
    is 0 the channel is 0.

    Args:
        masks (Tensor): Stuff probabilities (u, H/4, W/4), u >= 0.
        labels (Tensor): Their channels (u,), ascending.
        img_shape, ori_shape: See :func:`masks_to_image`.
        channel_dtype (torch.dtype): Integer type of the channel map, e.g.
            ``torch.uint8`` (1 byte per pixel instead of 8) when the
            channels are below 256. Defaults to ``torch.long``.

    Returns:
        tuple[Tensor, Tensor]: The largest probability (H, W) and its
        channel (H, W) of ``channel_dtype``.
    """
    out_shape = tuple(ori_shape or img_shape)
    if masks.shape[0] == 0:
        max_prob = masks.new_zeros(out_shape)
        return max_prob, max_prob.to(channel_dtype)
    max_prob = masks_to_image(masks[:1], img_shape, ori_shape)[0].contiguous()
    index = torch.zeros(
        out_shape,
        dtype=torch.uint8 if masks.shape[0] < 256 else torch.long,
        device=masks.device)
    for i in range(1, masks.shape[0]):
        prob = masks_to_image(masks[i:i + 1], img_shape, ori_shape)[0]
        index.masked_fill_(prob > max_prob, i)
        torch.maximum(max_prob, prob, out=max_prob)
    # channel of every pixel, 0 where every probability is 0; by pixel
    # chunks, so that no full-size temporary is made
    lut = labels.to(channel_dtype)
    zero = labels.new_zeros((), dtype=channel_dtype)
    channel = torch.empty(out_shape, dtype=channel_dtype,
                          device=masks.device)
    flat_channel, flat_index = channel.view(-1), index.view(-1)
    flat_prob = max_prob.view(-1)
    for start in range(0, flat_channel.numel(), PIXEL_CHUNK):
        part = slice(start, start + PIXEL_CHUNK)
        torch.where(flat_prob[part] > 0, lut[flat_index[part].long()], zero,
                    out=flat_channel[part])
    return max_prob, channel


def mask_spans(hits: Tensor) -> Tensor:
    """``[first, last + 1)`` of the True entries of every row of an (n, L)
    bool tensor; (0, 0) for a row without any.

    Returns:
        Tensor: Long (n, 2).
    """
    any_hit = any_along(hits, 1)
    # argmax of a bool row is its first True; the flip gives the last
    first = hits.to(torch.uint8).argmax(dim=1)
    last = hits.shape[1] - hits.flip(1).to(torch.uint8).argmax(dim=1)
    return torch.stack((torch.where(any_hit, first, 0),
                        torch.where(any_hit, last, 0)), dim=1)


def masks_to_boxes(masks: Tensor) -> Tensor:
    """Tight boxes of binary masks, vectorised over the masks (mmdet's
    ``mask2bbox`` loops over them).

    Args:
        masks (Tensor): Binary masks (n, H, W).

    Returns:
        Tensor: Long (n, 4) ``x1, y1, x2, y2`` with ``x2``/``y2``
        exclusive; all zero for an empty mask.
    """
    xs = mask_spans(any_along(masks, 1))
    ys = mask_spans(any_along(masks, 2))
    return torch.stack((xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]), dim=1)


def _window(span: Tuple[int, int], size: int) -> Tuple[int, int]:
    """Stride-4 window around a candidate span: ``WINDOW_MARGIN`` on each
    side, at least ``MIN_WINDOW`` long (or ``size``), inside [0, size)."""
    start = max(span[0] - WINDOW_MARGIN, 0)
    end = min(span[1] + WINDOW_MARGIN, size)
    if end - start < MIN_WINDOW:
        start = max(min(start, size - MIN_WINDOW), 0)
        end = min(start + MIN_WINDOW, size)
    return start, end


def _exact(start: int, end: int, size: int) -> Tuple[int, int]:
    """Output range of a window's x4 upsampling that equals the whole
    map's: all but 2 pixels at a border inside the map."""
    return (STRIDE * start + (2 if start > 0 else 0),
            STRIDE * end - (2 if end < size else 0))


def _candidate_windows(masks: Tensor, thr: float) -> List[Optional[tuple]]:
    """Per mask the stride-4 window ``(r1, r2, c1, c2)`` around the pixels
    that can pass ``thr`` (None for a mask without any)."""
    height, width = masks.shape[-2:]
    hits = masks > thr * (1 - CANDIDATE_MARGIN)
    rows = mask_spans(any_along(hits, 2)).tolist()
    cols = mask_spans(any_along(hits, 1)).tolist()
    return [None if row[1] == 0 else
            (*_window(row, height), *_window(col, width))
            for row, col in zip(rows, cols)]


def _upsampled_window(mask: Tensor, window: tuple):
    """``((y1, y2, x1, x2), values)``: the exact x4-upsampled soft values
    of one (H/4, W/4) mask on output rows [y1, y2) and columns [x1, x2) of
    the padded input (a region that covers every output pixel that can
    exceed the threshold its window was chosen for)."""
    height, width = mask.shape
    r1, r2, c1, c2 = window
    values = F.interpolate(
        mask[r1:r2, c1:c2][None, None], scale_factor=STRIDE,
        mode='bilinear', align_corners=False)[0, 0]
    y1, y2 = _exact(r1, r2, height)
    x1, x2 = _exact(c1, c2, width)
    return (y1, y2, x1, x2), values[y1 - STRIDE * r1:y2 - STRIDE * r1,
                                    x1 - STRIDE * c1:x2 - STRIDE * c1]


def _tight(hit: Tensor, y0: int, x0: int) -> Tuple[Tensor, Tensor]:
    """Box (4,) long ``x1, y1, x2, y2`` of a bool crop placed at (y0, x0)
    and the crop cut to it (an all-zero box and a (0, 0) crop if empty)."""
    xs = mask_spans(any_along(hit, 0)[None])[0].tolist()
    ys = mask_spans(any_along(hit, 1)[None])[0].tolist()
    if xs[1] == 0:
        return torch.zeros(4, dtype=torch.long), hit[:0, :0]
    box = torch.tensor((xs[0] + x0, ys[0] + y0, xs[1] + x0, ys[1] + y0))
    return box, hit[ys[0]:ys[1], xs[0]:xs[1]]


def thresholded_masks(masks: Tensor,
                      thr: float,
                      img_shape: Sequence[int],
                      ori_shape: Optional[Sequence[int]] = None,
                      order: Optional[Sequence[int]] = None
                      ) -> Iterator[Tuple[int, Tensor, Tensor]]:
    """The thresholded masks at the output size, one at a time, each as
    its tight box and the bool crop inside it: the memory stays that of
    one output-sized map whatever the number of masks (see the module
    docstring for why the values are those of :func:`masks_to_image`).

    Args:
        masks (Tensor): Soft masks (n, H/4, W/4) of the padded input.
        thr (float): A pixel is in the mask where its value is > thr.
        img_shape, ori_shape: See :func:`masks_to_image`.
        order (Sequence[int], optional): The masks to give, in this
            order; all in index order when None.

    Yields:
        tuple[int, Tensor, Tensor]: The mask's index i, its box (4,) long
        ``x1, y1, x2, y2`` (exclusive; all zero for an empty mask) and the
        bool crop ``(masks_to_image(masks)[i] > thr)[y1:y2, x1:x2]``.
    """
    out_shape = tuple(ori_shape or img_shape)
    img_h, img_w = img_shape[:2]
    order = range(masks.shape[0]) if order is None else order
    if thr <= 0:
        for i in order:
            yield (i, *_tight(masks_to_image(masks[i:i + 1], img_shape,
                                             ori_shape)[0] > thr, 0, 0))
        return
    windows = _candidate_windows(masks, thr)
    empty = torch.zeros(4, dtype=torch.long)
    canvas = None
    for i in order:
        if windows[i] is None:
            yield i, empty, masks.new_zeros(0, 0, dtype=torch.bool)
            continue
        (y1, y2, x1, x2), values = _upsampled_window(masks[i], windows[i])
        y2, x2 = min(y2, img_h), min(x2, img_w)
        if y2 <= y1 or x2 <= x1:
            yield i, empty, masks.new_zeros(0, 0, dtype=torch.bool)
            continue
        if out_shape == (img_h, img_w):
            yield (i, *_tight(values[:y2 - y1, :x2 - x1] > thr, y1, x1))
            continue
        # resize to the original size from a canvas of the exact x4 values
        # around the candidates (zero elsewhere; the window is cleared
        # again after)
        if canvas is None:
            canvas = masks.new_zeros(img_h, img_w)
        window = canvas[y1:y2, x1:x2]
        window.copy_(values[:y2 - y1, :x2 - x1])
        resized = F.interpolate(canvas[None, None], size=out_shape,
                                mode='bilinear', align_corners=False)[0, 0]
        window.zero_()
        box, crop = _tight(resized > thr, 0, 0)
        del resized
        yield i, box, crop.clone()


def binary_masks_to_image(
        masks: Tensor,
        thr: float,
        img_shape: Sequence[int],
        ori_shape: Optional[Sequence[int]] = None) -> Tuple[Tensor, Tensor]:
    """``masks_to_image(masks, ...) > thr`` and the masks' boxes, without
    the float copy of all masks (see the module docstring).

    Args:
        masks (Tensor): Soft masks (n, H/4, W/4) of the padded input.
        thr (float): Threshold.
        img_shape, ori_shape: See :func:`masks_to_image`.

    Returns:
        tuple[Tensor, Tensor]: Bool masks (n, *out_shape) and their tight
        boxes (n, 4) long ``x1, y1, x2, y2`` (exclusive; all zero for an
        empty mask).
    """
    out_shape = tuple(ori_shape or img_shape)
    binary = torch.zeros(masks.shape[0], *out_shape, dtype=torch.bool,
                         device=masks.device)
    boxes = torch.zeros(masks.shape[0], 4, dtype=torch.long,
                        device=masks.device)
    for i, box, crop in thresholded_masks(masks, thr, img_shape, ori_shape):
        x1, y1, x2, y2 = box.tolist()
        binary[i, y1:y2, x1:x2] = crop
        boxes[i] = box
    return binary, boxes
