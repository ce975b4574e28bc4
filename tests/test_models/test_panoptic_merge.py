import pytest
import torch

from mmpfcn.models.layers.panoptic_merge import argmax_merge, heuristic_merge

OFFSET = 1000
NUM_THINGS, NUM_CLASSES = 3, 5  # stuff channels: 0 = things, 1, 2
VOID = NUM_CLASSES


def sequential_heuristic(masks, scores, labels, sem, overlap_thr,
                         score_thr, area_limit):
    """The reference combine loop, one thing and one stuff class at a time."""
    height, width = sem.shape[1:]
    pan = torch.full((height, width), VOID, dtype=torch.long)
    painted = torch.zeros(height, width, dtype=torch.bool)
    next_id = 0
    for i in torch.argsort(scores, descending=True, stable=True).tolist():
        if scores[i] < score_thr:
            continue
        mask = masks[i]
        area = int(mask.sum())
        overlap = int((mask & painted).sum())
        if area == 0 or overlap * 1.0 / area > overlap_thr:
            continue
        mask = mask & ~painted
        next_id += 1
        pan[mask] = int(labels[i]) + next_id * OFFSET
        painted |= mask
    max_prob, stuff = sem.max(dim=0)
    for label in torch.unique(stuff).tolist():
        if label == 0:
            continue
        mask = (stuff == label) & ~painted & (max_prob > 0)
        if int(mask.sum()) < area_limit:
            continue
        pan[mask] = NUM_THINGS + label - 1
    return pan


def merge(masks, scores, labels, sem, fn=heuristic_merge, **kwargs):
    return fn(masks, torch.tensor(scores), torch.tensor(labels), sem,
              NUM_THINGS, NUM_CLASSES, **kwargs)


def test_overlap_rule_and_score_threshold():
    masks = torch.zeros(4, 4, 4, dtype=torch.bool)
    masks[0, :2] = True  # A: rows 0-1, 8 px
    masks[1, 1:3] = True  # B: rows 1-2, overlap with A 4/8 = 0.5 -> kept
    masks[2, :3, :2] = True  # C: 6 px, 6 already painted -> skipped
    masks[3, 3] = True  # D: row 3, score under 0.2
    sem = torch.zeros(3, 4, 4)
    pan = merge(masks, [0.9, 0.8, 0.7, 0.1], [0, 1, 2, 2], sem)
    expected = torch.full((4, 4), VOID)
    expected[:2] = 0 + 1 * OFFSET
    expected[2] = 1 + 2 * OFFSET  # only B's unpainted part
    assert torch.equal(pan, expected)
    # a stricter threshold skips B too
    pan = merge(masks, [0.9, 0.8, 0.7, 0.1], [0, 1, 2, 2], sem,
                overlap_thr=0.4)
    assert (pan[2] == VOID).all()
    # score order, not input order, decides: D first with score 0.95
    pan = merge(masks, [0.9, 0.8, 0.7, 0.95], [0, 1, 2, 2], sem)
    assert (pan[3] == 2 + 1 * OFFSET).all()
    assert (pan[0] == 0 + 2 * OFFSET).all()


def test_stuff_area_limit_void_and_things_channel():
    sem = torch.zeros(3, 4, 4)
    sem[1, :2] = 0.9  # stuff channel 1 on 8 px
    sem[2, 2, :3] = 0.6  # stuff channel 2 on 3 px
    sem[0, 2, 3] = 0.8  # things channel wins (2, 3): void
    # row 3 has all channels 0: void
    masks = torch.zeros(1, 4, 4, dtype=torch.bool)
    masks[0, 0, 0] = True
    pan = merge(masks, [0.5], [2], sem, stuff_area_limit=3)
    expected = torch.full((4, 4), VOID)
    expected[:2] = NUM_THINGS + 0  # channel 1 -> class 3
    expected[0, 0] = 2 + OFFSET  # the thing keeps its pixel
    expected[2, :3] = NUM_THINGS + 1  # channel 2 -> class 4, 3 px >= 3
    assert torch.equal(pan, expected)
    pan = merge(masks, [0.5], [2], sem, stuff_area_limit=4)
    assert (pan[2, :3] == VOID).all()  # 3 px < 4: dropped
    # stuff area is counted on unpainted pixels only: 8 - 1 = 7 < 8
    pan = merge(masks, [0.5], [2], sem, stuff_area_limit=8)
    assert (pan[:2].flatten()[1:] == VOID).all()


def test_no_things_and_empty_image():
    sem = torch.zeros(3, 2, 2)
    sem[2] = 0.3
    empty = torch.zeros(0, 2, 2, dtype=torch.bool)
    pan = heuristic_merge(empty, torch.zeros(0), torch.zeros(0).long(), sem,
                          NUM_THINGS, NUM_CLASSES, stuff_area_limit=1)
    assert torch.equal(pan, torch.full((2, 2), NUM_THINGS + 1))
    pan = argmax_merge(empty, torch.zeros(0), torch.zeros(0).long(), sem,
                       NUM_THINGS, NUM_CLASSES, stuff_area_limit=1)
    assert torch.equal(pan, torch.full((2, 2), VOID))  # 0.3 < 0.4


@pytest.mark.parametrize('seed', range(12))
def test_vectorised_equals_sequential_on_random_cases(seed):
    gen = torch.Generator().manual_seed(seed)
    # more than 64 masks packs pixel memberships into several words
    height, width, num = 12, 16, 10 if seed < 9 else 70
    # random rectangles overlap a lot, so decisions chain
    masks = torch.zeros(num, height, width, dtype=torch.bool)
    corners = torch.randint(0, 10, (num, 2), generator=gen)
    sizes = torch.randint(1, 8, (num, 2), generator=gen)
    for i in range(num):
        y, x = corners[i].tolist()
        h, w = sizes[i].tolist()
        masks[i, y:y + h, x:x + w] = True
    masks[0] = False  # an empty mask is always skipped
    scores = torch.rand(num, generator=gen)
    scores[3] = scores[4]  # a tie keeps input order
    labels = torch.randint(0, NUM_THINGS, (num, ), generator=gen)
    sem = torch.rand(3, height, width, generator=gen)
    sem[:, :2] = 0  # all-zero pixels
    overlap_thr = [0.2, 0.5, 0.8][seed % 3]
    expected = sequential_heuristic(masks, scores, labels, sem, overlap_thr,
                                    0.2, 20)
    pan = heuristic_merge(masks, scores, labels, sem, NUM_THINGS,
                          NUM_CLASSES, overlap_thr=overlap_thr,
                          thing_score_thr=0.2, stuff_area_limit=20)
    assert torch.equal(pan, expected)


def test_chained_decisions_need_several_rounds():
    # B overlaps A fully (skipped), so C, overlapping only B, is kept; a
    # single parallel round with "everyone kept" would wrongly skip C
    masks = torch.zeros(3, 1, 6, dtype=torch.bool)
    masks[0, 0, :2] = True
    masks[1, 0, :4] = True  # 2/4 painted by A: kept at 0.5, skipped at 0.4
    masks[2, 0, 2:5] = True
    sem = torch.zeros(3, 1, 6)
    pan = merge(masks, [0.9, 0.8, 0.7], [0, 1, 2], sem, overlap_thr=0.4)
    assert pan[0].tolist() == [OFFSET, OFFSET, 2 + 2 * OFFSET,
                               2 + 2 * OFFSET, 2 + 2 * OFFSET, VOID]


def test_argmax_merge_by_hand():
    probs = torch.zeros(2, 2, 4)
    probs[0, 0] = torch.tensor([0.9, 0.9, 0.3, 0.0])
    probs[1, 0] = torch.tensor([0.5, 0.95, 0.2, 0.0])
    sem = torch.zeros(3, 2, 4)
    sem[1, 0, 2] = 0.35  # max 0.35 < 0.4: void
    sem[2, 0, 3] = 0.7  # stuff channel 2, but only 1 px
    sem[1, 1, :3] = 0.8  # stuff channel 1, 3 px
    sem[0, 1, 3] = 0.9  # things channel: void
    pan = merge(probs, [0.6, 0.9], [2, 1], sem, fn=argmax_merge,
                stuff_area_limit=3)
    # sorted by score: thing 1 (label 1) gets id 1, thing 0 (label 2) id 2
    assert pan.tolist() == [
        [2 + 2 * OFFSET, 1 + 1 * OFFSET, VOID, VOID],
        [NUM_THINGS, NUM_THINGS, NUM_THINGS, VOID],
    ]
    # the 1 px stuff segment survives a limit of 1
    pan = merge(probs, [0.6, 0.9], [2, 1], sem, fn=argmax_merge,
                stuff_area_limit=1)
    assert pan[0, 3] == NUM_THINGS + 1
    # a thing under the score threshold does not compete
    pan = merge(probs, [0.1, 0.9], [2, 1], sem, fn=argmax_merge,
                stuff_area_limit=1)
    assert pan[0, 0] == 1 + 1 * OFFSET


def test_bad_input_raises():
    masks = torch.zeros(1, 2, 2, dtype=torch.bool)
    with pytest.raises(ValueError, match='3 channels'):
        merge(masks, [0.5], [0], torch.zeros(4, 2, 2))
    with pytest.raises(ValueError, match='same size'):
        merge(masks, [0.5], [0], torch.zeros(3, 2, 3))
    with pytest.raises(ValueError, match='thing_labels must lie'):
        merge(masks, [0.5], [3], torch.zeros(3, 2, 2))


def test_each_merge_takes_one_stuff_input():
    """The merges take the (N_st, H, W) map only: no ``stuff_max``
    alternative, and no ``overlap_thr`` for the arg-max merge, which never
    read it."""
    masks = torch.zeros(1, 2, 2, dtype=torch.bool)
    sem = torch.zeros(3, 2, 2)
    with pytest.raises(TypeError, match='overlap_thr'):
        merge(masks, [0.5], [0], sem, fn=argmax_merge, overlap_thr=0.5)
    for fn in (argmax_merge, heuristic_merge):
        with pytest.raises(TypeError, match='stuff_max'):
            merge(masks, [0.5], [0], sem, fn=fn, stuff_max=sem.max(dim=0))
