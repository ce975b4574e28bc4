"""Memory of the fusion head at a large output size: bytes per output
pixel of the tensors it makes (op by op), not timings."""
import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData

from mmpfcn.models.layers import mask_resize, panoptic_merge
from mmpfcn.models.seg_heads.panoptic_fcn_fusion_head import (
    PanopticFCNFusionHead,
)
from mmpfcn.testing.tensor_memory import peak_tensor_bytes

# a 3 MP photo seen at 375 x 500: stride-4 masks of the padded 384 x 512
ORI_SHAPE, IMG_SHAPE, MASK_SHAPE = (1500, 2000), (375, 500), (96, 128)


def _soft_masks(num: int, gen: torch.Generator) -> torch.Tensor:
    coarse = torch.randn(num, 1, 12, 16, generator=gen) * 4
    return F.interpolate(coarse, size=MASK_SHAPE, mode='bilinear',
                         align_corners=False)[:, 0].sigmoid()


def test_heuristic_merge_at_a_large_size_stays_within_20_bytes_per_pixel(
        monkeypatch):
    # small chunks: the chunk-sized temporaries do not count at 3 MP
    monkeypatch.setattr(mask_resize, 'PIXEL_CHUNK', 1 << 14)
    monkeypatch.setattr(panoptic_merge, 'PIXEL_CHUNK', 1 << 14)
    gen = torch.Generator().manual_seed(0)
    things = InstanceData(masks=_soft_masks(20, gen),
                          scores=torch.linspace(0.9, 0.1, 20),
                          labels=torch.randint(0, 80, (20, ), generator=gen))
    stuff = InstanceData(masks=_soft_masks(53, gen),
                         scores=torch.rand(53, generator=gen),
                         labels=torch.arange(1, 54))
    head = PanopticFCNFusionHead(test_cfg=dict(instance_masks='rle'))
    meta = dict(img_shape=IMG_SHAPE, ori_shape=ORI_SHAPE)
    peak, results = peak_tensor_bytes(head.predict, [things], [stuff],
                                      [meta])
    pixels = ORI_SHAPE[0] * ORI_SHAPE[1]
    # the results alone are two long maps (panoptic, semantic): 16 bytes
    # per pixel; a long stuff-channel map beside the probabilities, the
    # painted owners and the panoptic map took 24 and more
    assert results[0]['pan_results'].sem_seg.dtype == torch.long
    assert results[0]['sem_results'].sem_seg.dtype == torch.long
    assert peak / pixels < 20, peak / pixels
