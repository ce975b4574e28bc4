"""Panoptic merge of one image's thing masks and stuff probabilities into an
mmdet panoptic map (thing = label + id * INSTANCE_OFFSET, stuff = label,
void = num_classes).

Two rules: :func:`heuristic_merge`, the Panoptic FPN / panopticapi heuristic
the reference uses, and :func:`argmax_merge`, the plain per-pixel arg-max
the paper reports as faster at about -1.4 PQ. Both take the stuff
probabilities as one (N_st, H, W) map. The fusion head runs them on the
map's per-pixel maximum and arg-max instead (:class:`GreedyPainter` and
:func:`paint_stuff`, :func:`argmax_paint`), all the merges read of it.
"""
from typing import Optional, Sequence, Tuple

import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from torch import Tensor

from .mask_resize import PIXEL_CHUNK, masks_to_boxes

# (largest stuff probability (H, W), its channel (H, W)): see
# mask_resize.stuff_argmax_to_image
StuffMax = Tuple[Tensor, Tensor]


def _check_things(thing_masks: Tensor, thing_scores: Tensor,
                  thing_labels: Tensor, stuff_max: StuffMax,
                  num_things_classes: int) -> None:
    """Raise a clear error for thing inputs that do not fit each other or
    the stuff maps."""
    num = thing_masks.shape[0]
    max_prob, channel = stuff_max
    if thing_masks.dim() != 3 or max_prob.dim() != 2 or \
            channel.shape != max_prob.shape or \
            thing_masks.shape[1:] != max_prob.shape:
        raise ValueError('panoptic merge expects thing_masks (n, H, W) and '
                         'the stuff maps (H, W) of the same size, got '
                         f'{tuple(thing_masks.shape)}, '
                         f'{tuple(max_prob.shape)} and '
                         f'{tuple(channel.shape)}')
    if thing_scores.shape != (num, ) or thing_labels.shape != (num, ):
        raise ValueError('panoptic merge expects thing_scores and '
                         f'thing_labels of shape ({num},), got '
                         f'{tuple(thing_scores.shape)} and '
                         f'{tuple(thing_labels.shape)}')
    if num and (thing_labels.min() < 0
                or thing_labels.max() >= num_things_classes):
        raise ValueError('panoptic merge: thing_labels must lie in '
                         f'[0, {num_things_classes}), got '
                         f'{thing_labels.tolist()}')


def _stuff_max_of(sem_probs: Tensor, num_things_classes: int,
                  num_classes: int) -> StuffMax:
    """The per-pixel maximum and arg-max of ``sem_probs`` (N_st, H, W),
    after checking its shape: all a merge reads of it."""
    num_stuff_channels = num_classes - num_things_classes + 1
    if sem_probs.dim() != 3:
        raise ValueError('panoptic merge expects sem_probs (N_st, H, W), '
                         f'got {tuple(sem_probs.shape)}')
    if sem_probs.shape[0] != num_stuff_channels:
        raise ValueError(f'panoptic merge: sem_probs must have '
                         f'{num_stuff_channels} channels (channel 0 = things '
                         f'+ {num_stuff_channels - 1} stuff classes), got '
                         f'{sem_probs.shape[0]}')
    return sem_probs.max(dim=0)


def score_order(thing_scores: Tensor, thing_score_thr: float) -> Tensor:
    """Indices of the things scoring >= thr, in descending score order
    (ties keep the input order)."""
    order = torch.argsort(thing_scores, descending=True, stable=True)
    return order[thing_scores[order] >= thing_score_thr]


class GreedyPainter:
    """Greedy painting of score-sorted thing masks, one mask at a time.

    Mask ``k`` (its rank in the score order) is kept iff its area is > 0
    and its overlap with the kept masks before it is at most
    ``overlap_thr`` of its area (compared in float64, as the reference's
    Python division); its unpainted pixels then get owner k. The
    decisions are sequential by nature: each step reads and paints only
    the box of its mask, so the masks can be made one at a time.

    Args:
        shape (tuple[int, int]): (H, W) of the map.
        num (int): m, the number of masks to paint.
        overlap_thr (float): Largest kept overlap / area ratio.
        device: Device of the owner map.

    Attributes:
        owner (Tensor): (H, W) int32, the rank of the first kept mask of
            every pixel (m where none).
        keep (list[bool]): (m,) whether each rank was kept.
    """

    def __init__(self, shape: Tuple[int, int], num: int, overlap_thr: float,
                 device=None) -> None:
        self.num = num
        self.overlap_thr = overlap_thr
        self.owner = torch.full(tuple(shape), num, dtype=torch.int32,
                                device=device)
        self.keep = [False] * num

    def paint(self, rank: int, crop: Tensor, box: Sequence[int]) -> None:
        """Paint the mask of ``rank``, given by its bool ``crop`` inside
        ``box`` ``(x1, y1, x2, y2)`` (exclusive; ranks in order)."""
        x1, y1, x2, y2 = box
        if x2 <= x1 or y2 <= y1:
            return
        region = self.owner[y1:y2, x1:x2]  # a view: painting writes through
        area = int(torch.count_nonzero(crop))
        if area == 0:
            return
        fresh = crop & (region == self.num)
        overlap = area - int(torch.count_nonzero(fresh))
        if overlap / area <= self.overlap_thr:
            self.keep[rank] = True
            region.masked_fill_(fresh, rank)


def _greedy_owners(masks: Tensor, boxes: Tensor, order: Tensor,
                   overlap_thr: float) -> GreedyPainter:
    """:class:`GreedyPainter` of the masks ``order`` (score-sorted) of a
    stack of bool masks (n, H, W) with boxes (n, 4) covering them."""
    painter = GreedyPainter(masks.shape[1:], len(order), overlap_thr,
                            masks.device)
    boxes = boxes[order].tolist()
    for rank, i in enumerate(order.tolist()):
        x1, y1, x2, y2 = boxes[rank]
        painter.paint(rank, masks[i, y1:y2, x1:x2], boxes[rank])
    return painter


def paint_stuff(painter: GreedyPainter, labels: Tensor, stuff_max: StuffMax,
                num_things_classes: int, num_classes: int,
                stuff_area_limit: int = 4096,
                instance_offset: int = INSTANCE_OFFSET) -> Tensor:
    """The panoptic map of painted things, then the stuff of the
    heuristic merge (see :func:`heuristic_merge`), by chunks of pixels so
    that the only full-size tensor made is the map itself.

    Args:
        painter (GreedyPainter): After the things were painted.
        labels (Tensor): (m,) classes of the ranks.
        stuff_max (tuple[Tensor, Tensor]): Largest stuff probability and
            its channel (H, W), any integer type (see
            :func:`stuff_argmax_to_image`).
        num_things_classes, num_classes, stuff_area_limit,
        instance_offset: See :func:`heuristic_merge`.

    Returns:
        Tensor: Panoptic map (H, W), long.
    """
    num = painter.num
    keep = torch.tensor(painter.keep, dtype=torch.bool,
                        device=labels.device)
    # the value of every rank (kept things are numbered 1, 2, ...), then
    # void for "no thing"
    value = labels.long() + keep.long().cumsum(dim=0) * instance_offset
    value = torch.cat((value, value.new_full((1, ), num_classes)))
    owner = painter.owner.view(-1)
    max_prob, stuff = (x.reshape(-1) for x in stuff_max)  # (P,) each
    chunks = [slice(start, start + PIXEL_CHUNK)
              for start in range(0, owner.numel(), PIXEL_CHUNK)]

    def candidates(part: slice) -> Tensor:
        return (owner[part] == num) & (stuff[part] > 0) & (max_prob[part] > 0)

    def channels(part: slice) -> Tensor:  # long (the map may be uint8)
        return stuff[part].long()

    num_stuff_channels = num_classes - num_things_classes + 1
    area = torch.zeros(num_stuff_channels, dtype=torch.long,
                       device=owner.device)
    for part in chunks:
        area += torch.bincount(channels(part)[candidates(part)],
                               minlength=num_stuff_channels)
    large = area >= stuff_area_limit
    pan_seg = torch.empty_like(owner, dtype=torch.long)
    for part in chunks:
        channel = channels(part)
        fill = candidates(part) & large[channel]
        torch.where(fill, num_things_classes + channel - 1,
                    value[owner[part]], out=pan_seg[part])
    return pan_seg.view(painter.owner.shape)


def heuristic_merge(thing_masks: Tensor,
                    thing_scores: Tensor,
                    thing_labels: Tensor,
                    sem_probs: Tensor,
                    num_things_classes: int,
                    num_classes: int,
                    overlap_thr: float = 0.5,
                    thing_score_thr: float = 0.2,
                    stuff_area_limit: int = 4096,
                    instance_offset: int = INSTANCE_OFFSET,
                    thing_boxes: Optional[Tensor] = None) -> Tensor:
    """Merge with the Panoptic FPN heuristic, as the reference does.

    Things scoring >= ``thing_score_thr`` are painted in descending score
    order; a thing is skipped if its area is 0 or more than ``overlap_thr``
    of it is already painted, otherwise its unpainted part is painted with
    the next instance id (1, 2, ...). Then every pixel takes the arg-max
    channel of ``sem_probs``; channel 0 ("things") and pixels whose channels
    are all 0 are skipped, each stuff label fills only unpainted pixels and
    is dropped if that area is < ``stuff_area_limit``. The rest is void.
    (The fusion head runs the same steps, :class:`GreedyPainter` and
    :func:`paint_stuff`, one thing mask at a time.)

    Args:
        thing_masks (Tensor): Binary thing masks (n, H, W), bool.
        thing_scores (Tensor): Scores (n,).
        thing_labels (Tensor): Thing classes (n,) in [0, num_things_classes).
        sem_probs (Tensor): Stuff probabilities (N_st, H, W), channel 0 =
            things, channel c >= 1 = class ``num_things_classes + c - 1``.
        num_things_classes (int): Number of thing classes.
        num_classes (int): Number of thing + stuff classes (= void value).
        overlap_thr (float): Largest overlap / area of a kept thing.
            Defaults to 0.5.
        thing_score_thr (float): Smallest score of a painted thing.
            Defaults to 0.2.
        stuff_area_limit (int): Smallest area of a stuff segment.
            Defaults to 4096.
        instance_offset (int): mmdet's ``INSTANCE_OFFSET``.
        thing_boxes (Tensor, optional): Boxes (n, 4) long ``x1, y1, x2,
            y2`` (exclusive) covering each thing mask (e.g. from
            :func:`binary_masks_to_image`); computed when None. Only the
            boxes are read and painted, thing by thing.

    Returns:
        Tensor: Panoptic map (H, W), long.
    """
    stuff_max = _stuff_max_of(sem_probs, num_things_classes, num_classes)
    _check_things(thing_masks, thing_scores, thing_labels, stuff_max,
                  num_things_classes)
    if thing_boxes is None:
        thing_boxes = masks_to_boxes(thing_masks)
    elif thing_boxes.shape != (thing_masks.shape[0], 4):
        raise ValueError('heuristic_merge expects thing_boxes of shape '
                         f'({thing_masks.shape[0]}, 4), got '
                         f'{tuple(thing_boxes.shape)}')
    order = score_order(thing_scores, thing_score_thr)
    painter = _greedy_owners(thing_masks.bool(), thing_boxes, order,
                             overlap_thr)
    return paint_stuff(painter, thing_labels[order], stuff_max,
                       num_things_classes, num_classes, stuff_area_limit,
                       instance_offset)


def argmax_merge(thing_probs: Tensor,
                 thing_scores: Tensor,
                 thing_labels: Tensor,
                 sem_probs: Tensor,
                 num_things_classes: int,
                 num_classes: int,
                 thing_score_thr: float = 0.2,
                 stuff_area_limit: int = 4096,
                 instance_offset: int = INSTANCE_OFFSET,
                 prob_thr: float = 0.4) -> Tensor:
    """Merge by a per-pixel arg-max (the paper's faster variant).

    Every pixel takes the arg-max of [probabilities of the things scoring
    >= ``thing_score_thr``, in descending score order; ``sem_probs``].
    Pixels whose maximum is < ``prob_thr`` or whose winner is stuff channel
    0 ("things" without a kept instance) are void, and so are stuff
    segments smaller than ``stuff_area_limit``. Thing ids are the rank
    among the kept things plus 1. Ties go to things, then to the higher
    score.

    Args:
        thing_probs (Tensor): Thing probabilities (n, H, W) float; bool
            masks count as probability 1 inside.
        thing_scores (Tensor): Scores (n,).
        thing_labels (Tensor): Thing classes (n,) in [0, num_things_classes).
        sem_probs (Tensor): Stuff probabilities (N_st, H, W), channel 0 =
            things.
        num_things_classes (int): Number of thing classes.
        num_classes (int): Number of thing + stuff classes (= void value).
        thing_score_thr (float): Smallest score of a thing. Defaults to 0.2.
        stuff_area_limit (int): Smallest area of a stuff segment.
            Defaults to 4096.
        instance_offset (int): mmdet's ``INSTANCE_OFFSET``.
        prob_thr (float): Smallest winning probability. Defaults to 0.4
            (the mask threshold INST_THRES).

    Returns:
        Tensor: Panoptic map (H, W), long.
    """
    return argmax_paint(
        thing_probs, thing_scores, thing_labels,
        _stuff_max_of(sem_probs, num_things_classes, num_classes),
        num_things_classes, num_classes, thing_score_thr, stuff_area_limit,
        instance_offset, prob_thr)


def argmax_paint(thing_probs: Tensor,
                 thing_scores: Tensor,
                 thing_labels: Tensor,
                 stuff_max: StuffMax,
                 num_things_classes: int,
                 num_classes: int,
                 thing_score_thr: float = 0.2,
                 stuff_area_limit: int = 4096,
                 instance_offset: int = INSTANCE_OFFSET,
                 prob_thr: float = 0.4) -> Tensor:
    """:func:`argmax_merge` on the stuff probabilities' per-pixel maximum
    and arg-max, all it reads of them, so that the fusion head never makes
    the N_st-channel map.

    Args:
        stuff_max (tuple[Tensor, Tensor]): Largest stuff probability and
            its channel (H, W) (see :func:`stuff_argmax_to_image`).
        Others: See :func:`argmax_merge`.

    Returns:
        Tensor: Panoptic map (H, W), long.
    """
    _check_things(thing_probs, thing_scores, thing_labels, stuff_max,
                  num_things_classes)
    height, width = stuff_max[0].shape
    stuff_prob, stuff = (x.flatten() for x in stuff_max)  # (P,) each
    order = score_order(thing_scores, thing_score_thr)
    probs, labels = thing_probs[order], thing_labels[order].long()
    num = probs.shape[0]
    if num:
        # the first maximum over [things; stuff channels]: things win ties
        thing_prob, thing = probs.to(stuff_prob.dtype).flatten(1).max(dim=0)
        is_thing = thing_prob >= stuff_prob
        max_prob = torch.where(is_thing, thing_prob, stuff_prob)
    else:
        is_thing = torch.zeros_like(stuff, dtype=torch.bool)
        max_prob = stuff_prob
    stuff = torch.where(is_thing, 0, stuff)
    is_stuff = ~is_thing & (stuff > 0) & (max_prob >= prob_thr)
    area = torch.bincount(stuff[is_stuff],
                          minlength=num_classes - num_things_classes + 1)
    is_stuff &= (area >= stuff_area_limit)[stuff]

    pan_seg = torch.full((height * width, ), num_classes, dtype=torch.long,
                         device=stuff.device)
    pan_seg = torch.where(is_stuff, num_things_classes + stuff - 1, pan_seg)
    if num:
        thing_value = labels[thing] + (thing + 1) * instance_offset
        pan_seg = torch.where(is_thing & (max_prob >= prob_thr), thing_value,
                              pan_seg)
    return pan_seg.view(height, width)
