"""The fusion head's memory-light path (chunked thing masks, stuff reduced
to its per-pixel max / arg-max) gives exactly the results of the
straightforward computation: every mask resized at once, an N_st-channel
stuff map, the merges on it."""
import pytest
import torch
import torch.nn.functional as F
from mmdet.evaluation import INSTANCE_OFFSET
from mmengine.structures import InstanceData

from mmpfcn.models.layers.mask_resize import masks_to_image
from mmpfcn.models.layers.panoptic_merge import argmax_merge, heuristic_merge
from mmpfcn.models.seg_heads.panoptic_fcn_fusion_head import (
    PanopticFCNFusionHead,
)

NUM_THINGS, NUM_STUFF = 6, 5


def smooth_probs(num, height, width, gen):
    coarse = torch.randn(num, 1, height // 4, width // 4, generator=gen) * 4
    return F.interpolate(coarse, size=(height, width), mode='bilinear',
                         align_corners=False)[:, 0].sigmoid()


def straightforward(head, things, stuff, meta, rescale):
    cfg = head.test_cfg
    ori = meta['ori_shape'] if rescale else None
    thing_probs = masks_to_image(things.masks, meta['img_shape'], ori)
    thing_masks = thing_probs > cfg.mask_thr
    stuff_probs = masks_to_image(stuff.masks, meta['img_shape'], ori)
    sem = stuff_probs.new_zeros(NUM_STUFF + 1, *stuff_probs.shape[-2:])
    sem[stuff.labels] = stuff_probs
    args = dict(num_things_classes=NUM_THINGS,
                num_classes=NUM_THINGS + NUM_STUFF,
                thing_score_thr=cfg.merge_thing_thr,
                stuff_area_limit=cfg.stuff_area_limit,
                instance_offset=INSTANCE_OFFSET)
    if cfg.merge_mode == 'heuristic':
        pan = heuristic_merge(thing_masks, things.scores, things.labels, sem,
                              overlap_thr=cfg.merge_overlap_thr, **args)
    else:
        pan = argmax_merge(thing_probs, things.scores, things.labels, sem,
                           prob_thr=cfg.mask_thr, **args)
    return pan, thing_masks, sem.argmax(dim=0)


@pytest.mark.parametrize('mode', ['heuristic', 'argmax'])
@pytest.mark.parametrize('rescale', [True, False])
@pytest.mark.parametrize('seed', range(3))
def test_same_results_as_the_straightforward_path(mode, rescale, seed):
    gen = torch.Generator().manual_seed(seed)
    num = 35
    h4, w4 = 24, 32
    scores = torch.rand(num, generator=gen)
    scores[5] = scores[6]  # a tie
    things = InstanceData(
        masks=smooth_probs(num, h4, w4, gen), scores=scores,
        labels=torch.randint(0, NUM_THINGS, (num, ), generator=gen))
    labels = torch.tensor([1, 2, 4] if seed else [], dtype=torch.long)
    stuff = InstanceData(masks=smooth_probs(len(labels), h4, w4, gen),
                         scores=torch.rand(len(labels), generator=gen),
                         labels=labels)
    if seed == 2:
        # every stuff probability 0 in a corner: arg-max channel 0 there
        stuff.masks[:, :4, :4] = 0
    meta = dict(img_shape=(90, 125), ori_shape=(61, 83))
    head = PanopticFCNFusionHead(
        NUM_THINGS, NUM_STUFF,
        test_cfg=dict(merge_mode=mode, stuff_area_limit=30,
                      merge_thing_thr=0.3))
    result = head.predict([things], [stuff], [meta], rescale=rescale)[0]
    pan, masks, sem = straightforward(head, things, stuff, meta, rescale)
    assert torch.equal(result['pan_results'].sem_seg[0], pan)
    assert torch.equal(result['ins_results'].masks, masks)
    assert torch.equal(result['sem_results'].sem_seg[0], sem)
    # something of each kind is there to compare
    assert (pan != NUM_THINGS + NUM_STUFF).any()


@pytest.mark.parametrize('mode', ['heuristic', 'argmax'])
@pytest.mark.parametrize('form', ['rle', 'none'])
def test_instance_mask_forms(mode, form, monkeypatch):
    """RLE masks are pycocotools' encoding of the bitmaps, 'none' drops
    them; the panoptic map and the boxes stay the same, also with scores
    out of order and the full-size maps handled in small pixel chunks."""
    from mmpfcn.evaluation.functional.rle import encode_masks
    from mmpfcn.models.layers import mask_resize, panoptic_merge
    monkeypatch.setattr(mask_resize, 'PIXEL_CHUNK', 1000)
    monkeypatch.setattr(panoptic_merge, 'PIXEL_CHUNK', 1000)
    gen = torch.Generator().manual_seed(7)
    num, h4, w4 = 12, 24, 32
    things = InstanceData(
        masks=smooth_probs(num, h4, w4, gen),
        scores=torch.rand(num, generator=gen),  # not sorted
        labels=torch.randint(0, NUM_THINGS, (num, ), generator=gen))
    labels = torch.tensor([1, 3])
    stuff = InstanceData(masks=smooth_probs(2, h4, w4, gen),
                         scores=torch.rand(2, generator=gen), labels=labels)
    meta = dict(img_shape=(90, 125), ori_shape=(61, 83))
    results = {}
    for masks in ('bitmap', form):
        head = PanopticFCNFusionHead(
            NUM_THINGS, NUM_STUFF,
            test_cfg=dict(merge_mode=mode, stuff_area_limit=30,
                          merge_thing_thr=0.3, instance_masks=masks))
        results[masks] = head.predict([things], [stuff], [meta])[0]
    pan, bitmaps, sem = straightforward(head, things, stuff, meta, True)
    for result in results.values():
        assert torch.equal(result['pan_results'].sem_seg[0], pan)
        assert torch.equal(result['sem_results'].sem_seg[0], sem)
        assert torch.equal(result['ins_results'].bboxes,
                           results['bitmap']['ins_results'].bboxes)
    assert torch.equal(results['bitmap']['ins_results'].masks, bitmaps)
    instances = results[form]['ins_results']
    if form == 'rle':
        assert instances.masks == encode_masks(bitmaps)
    else:
        assert 'masks' not in instances and len(instances.scores) == num


def test_unknown_instance_mask_form_is_named():
    with pytest.raises(ValueError, match='instance_masks'):
        PanopticFCNFusionHead(test_cfg=dict(instance_masks='polygon'))


def test_is_an_mmdet_panoptic_fusion_head():
    from mmdet.models.seg_heads.panoptic_fusion_heads import (
        BasePanopticFusionHead,
    )
    head = PanopticFCNFusionHead(NUM_THINGS, NUM_STUFF)
    assert isinstance(head, BasePanopticFusionHead)
    assert head.num_classes == NUM_THINGS + NUM_STUFF
    assert not head.with_loss and head.loss() == {}
