"""``PanopticFCNHead(sync_normalizers=True)`` in a real 2-process gloo group:
the thing losses are divided by the thing count averaged over the ranks,
so the mean of the ranks' losses (what DDP's gradient averaging applies)
equals one process's loss on both images; the default per-rank count
(the reference's, spec Sec. 7) does not."""
import os.path as osp

import pytest
import torch

from mmpfcn.testing.panoptic_samples import (
    LEVEL_SIZES,
    PAD,
    rect_sample,
    tiny_head,
)

THING_TERMS = ('loss_pos_th', 'loss_seg_th')


def build_head(sync_normalizers):
    return tiny_head(sync_normalizers=sync_normalizers)


def sample(boxes, labels):
    """Rectangular things (xyxy) on two stuff bands, at the padded size."""
    stuff = torch.full(PAD, 1)
    stuff[:, PAD[1] // 2:] = 2
    for x1, y1, x2, y2 in boxes:
        stuff[y1:y2, x1:x2] = 0
    return rect_sample(boxes, labels, stuff)


def two_images():
    """Features of a batch of two images and their samples: three things
    of different sizes in the first image, one in the second."""
    gen = torch.Generator().manual_seed(1)
    levels = [torch.randn(2, 8, *size, generator=gen) for size in LEVEL_SIZES]
    high_res_feats = torch.randn(2, 8, 16, 24, generator=gen)
    samples = [
        sample([(4, 4, 40, 40), (60, 2, 70, 10), (50, 30, 90, 62)],
               [0, 2, 1]),
        sample([(20, 10, 44, 34)], [1]),
    ]
    return levels, high_res_feats, samples


def losses(head, image=None):
    """The head's losses on both images, or on image ``image`` alone."""
    levels, high_res_feats, samples = two_images()
    if image is not None:
        levels = [x[image:image + 1] for x in levels]
        high_res_feats = high_res_feats[image:image + 1]
        samples = samples[image:image + 1]
    return {
        k: v.item()
        for k, v in head.loss(levels, high_res_feats, samples).items()
    }


def _rank(rank, root):
    """One of two gloo ranks: its own image's losses, with and without
    the synchronised normaliser."""
    import torch.distributed as torch_dist
    torch.set_num_threads(1)
    torch_dist.init_process_group(
        'gloo', init_method=f'file://{root}/rendezvous', rank=rank,
        world_size=2)
    try:
        result = {
            sync: losses(build_head(sync), image=rank)
            for sync in (False, True)
        }
        torch.save(result, osp.join(root, f'rank{rank}.pt'))
    finally:
        torch_dist.destroy_process_group()


def test_synced_thing_count_makes_the_rank_mean_the_batch_loss(tmp_path):
    one_process = losses(build_head(False))
    torch.multiprocessing.spawn(
        _rank, args=(str(tmp_path), ), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f'rank{r}.pt') for r in (0, 1)]
    for key in THING_TERMS:
        synced = (ranks[0][True][key] + ranks[1][True][key]) / 2
        per_rank = (ranks[0][False][key] + ranks[1][False][key]) / 2
        assert synced == pytest.approx(one_process[key], rel=1e-6)
        # the reference's per-GPU counts weight the images differently
        assert abs(per_rank - one_process[key]) > 1e-3 * one_process[key]
    for rank in ranks:
        # the stuff terms are not affected
        for key in ('loss_pos_st', 'loss_seg_st'):
            assert rank[True][key] == rank[False][key]


def test_without_a_process_group_sync_changes_nothing():
    assert losses(build_head(True)) == losses(build_head(False))
