"""Builders of tiny panoptic inputs for the model tests: images with
rectangular things on a stuff layout, as the data pipeline packs them
(masks and stuff map at the image size; the data preprocessor pads), and
a head small enough for hand-made tensors."""
from typing import Sequence, Tuple

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData, PixelData

Box = Tuple[int, int, int, int]

# the padded input of the head tests and its P3..P7 sizes
PAD = (64, 96)
LEVEL_SIZES = [(8, 12), (4, 6), (2, 3), (1, 2), (1, 1)]
GN2 = dict(type='GN', num_groups=2, requires_grad=True)


def tiny_head(head_class=None, **kwargs):
    """A seeded, initialised ``PanopticFCNHead`` (or ``head_class``, a
    subclass) with 3 thing and 2 stuff classes, 8 channels, C_e = 4, k = 3,
    GN(2) and no DCN; ``kwargs`` override its arguments."""
    from mmpfcn.models.heads import PanopticFCNHead
    head_class = head_class or PanopticFCNHead
    cfg = dict(
        num_things_classes=3,
        num_stuff_classes=2,
        in_channels=8,
        kernel_channels=8,
        kernel_generator=dict(
            type='KernelGenerator', position_dcn=False, norm_cfg=GN2),
        feature_encoder=dict(type='FeatureEncoder', feat_channels=4),
        thing_generator=dict(type='ThingGenerator', pos_num=3))
    cfg.update(kwargs)
    torch.manual_seed(0)
    head = head_class(**cfg)
    head.init_weights()
    return head


def _instances(boxes: Sequence[Box], labels: Sequence[int], height: int,
               width: int) -> InstanceData:
    masks = np.zeros((len(boxes), height, width), np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        masks[i, y1:y2, x1:x2] = 1
    return InstanceData(
        labels=torch.tensor(list(labels), dtype=torch.long),
        masks=BitmapMasks(masks, height, width),
        bboxes=torch.tensor(boxes, dtype=torch.float32).view(-1, 4))


def rect_sample(boxes: Sequence[Box], labels: Sequence[int],
                stuff_map: torch.Tensor) -> DetDataSample:
    """A sample at the padded size ``PAD`` (no image): rectangular things
    (xyxy) on ``stuff_map`` (PAD-sized)."""
    sample = DetDataSample(
        metainfo=dict(batch_input_shape=PAD, img_shape=PAD, ori_shape=PAD))
    sample.gt_instances = _instances(boxes, labels, *PAD)
    sample.gt_sem_seg = PixelData(sem_seg=stuff_map[None].long())
    return sample


def panoptic_sample(shape: Tuple[int, int],
                    boxes: Sequence[Box] = (),
                    labels: Sequence[int] = (),
                    crowd_boxes: Sequence[Box] = (),
                    num_stuff_classes: int = 4,
                    void: bool = False,
                    seed: int = 0) -> Tuple[torch.Tensor, DetDataSample]:
    """A random uint8 image and its data sample.

    The stuff map has vertical bands of stuff classes 1..num_stuff_classes
    (all void if ``void``); thing and crowd pixels are 0.

    Returns:
        tuple[Tensor, DetDataSample]: Image (3, H, W) and sample.
    """
    height, width = shape
    gen = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 256, (3, height, width), generator=gen,
                          dtype=torch.uint8)
    cols = torch.arange(width) * num_stuff_classes // width + 1
    stuff = cols[None].expand(height, width).clone()
    if void:
        stuff[:] = 255
    for x1, y1, x2, y2 in (*boxes, *crowd_boxes):
        stuff[y1:y2, x1:x2] = 0
    sample = DetDataSample(
        metainfo=dict(img_shape=shape, ori_shape=shape,
                      scale_factor=(1.0, 1.0)))
    sample.gt_instances = _instances(boxes, labels, height, width)
    sample.ignored_instances = _instances(crowd_boxes,
                                          [0] * len(crowd_boxes), height,
                                          width)
    sample.gt_sem_seg = PixelData(sem_seg=stuff[None])
    return image, sample


def default_sample(shape: Tuple[int, int], seed: int = 0):
    """Three things of different sizes on four stuff bands."""
    height, width = shape
    boxes = [(2, 2, 18, 14), (width // 2, 4, width - 2, height // 2),
             (6, height - 12, 14, height - 4)]
    return panoptic_sample(shape, boxes, [0, 1, 3], seed=seed)


def batch(*pairs) -> dict:
    """Model input dict of (image, sample) pairs."""
    return dict(
        inputs=[image for image, _ in pairs],
        data_samples=[sample for _, sample in pairs])


def two_images() -> dict:
    """Model input of two images of different sizes (64 x 96, 50 x 70),
    each with :func:`default_sample`'s things."""
    return batch(default_sample((64, 96)), default_sample((50, 70), seed=1))


def check_loss_step_and_predict(model) -> None:
    """One loss step and one predict of a built detector on two images of
    different sizes: the four finite, positive loss terms, and panoptic /
    semantic maps of each image's size with valid labels."""
    from mmdet.evaluation import INSTANCE_OFFSET
    data = two_images()
    model.train()
    losses = model(**model.data_preprocessor(data, True), mode='loss')
    assert set(losses) == {'loss_pos_th', 'loss_pos_st', 'loss_seg_th',
                           'loss_seg_st'}
    assert all(torch.isfinite(v) and v.item() > 0 for v in losses.values())

    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(data, False),
                        mode='predict')
    for result, shape in zip(results, [(64, 96), (50, 70)]):
        pan = result.pred_panoptic_seg.sem_seg
        assert pan.shape == (1, *shape)
        assert (pan % INSTANCE_OFFSET).max() <= \
            model.panoptic_fusion_head.num_classes
        assert result.pred_sem_seg.sem_seg.shape == (1, *shape)
