"""PanopticFCNTTAModel: flip TTA of a flip-equivariant model equals the
plain prediction, one view equals it bit for bit, flip + multi-scale
output has the plain output's format, and the view alignment."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import nn

from mmpfcn.models import PanopticFCNTTAModel
from mmpfcn.models.test_time_augs.view_align import (
    ViewMeta,
    reference_index,
    to_reference,
    view_meta,
)
from mmpfcn.registry import MODELS
from mmpfcn.testing.panoptic_samples import default_sample
from mmpfcn.utils.setup_env import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs/panoptic_fcn/'
                'panoptic-fcn_r18_fpn_synthetic-panoptic.py')


def demo_model():
    register_all_modules()
    cfg = Config.fromfile(DEMO)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


class PoolPyramid(nn.Module):
    """P2..P7 as average pools (stride 4..128) of a 1x1 conv of the image:
    flip-equivariant on widths divisible by 128, unlike ResNet's strided
    convs."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, channels, 1)

    def forward(self, x):
        x = self.proj(x)
        return [F.avg_pool2d(x, 2**k) for k in range(2, 8)]


@pytest.fixture(scope='module')
def equivariant_model():
    """The demo model made flip-equivariant: the pooling pyramid instead of
    ResNet + FPN, every conv kernel left-right symmetric and the X
    coordinate channels of the kernel head and the encoder unread (X
    flips sign under a flip). Its outputs on a flipped image are the
    flipped outputs, so flip TTA must give the plain prediction."""
    model = demo_model()
    model.backbone, model.neck = nn.Identity(), PoolPyramid(64)
    head = model.panoptic_head
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d) and module.weight.shape[-1] > 1:
                module.weight.copy_((module.weight + module.weight.flip(-1)) /
                                    2)
        head.kernel_generator.kernel_head.convs[0].conv.weight[:, -1] = 0
        head.feature_encoder.convs[0].conv.weight[:, -1] = 0
    return model


def with_meta(sample, **meta):
    sample = copy.deepcopy(sample)
    sample.set_metainfo(meta)
    return sample


def resized(image, sample, factor):
    """The image resized by ``factor`` and its sample's ``img_shape``."""
    height, width = (round(s * factor) for s in image.shape[-2:])
    image = F.interpolate(image[None].float(), size=(height, width),
                          mode='bilinear', align_corners=False)[0]
    return image.round().clamp(0, 255).to(torch.uint8), with_meta(
        sample, img_shape=(height, width))


def plain_predict(model, images, samples):
    with torch.no_grad():
        return model.test_step(
            dict(inputs=images, data_samples=copy.deepcopy(samples)))


def tta_predict(model, views):
    """``views``: per view, (images, samples) of the whole batch."""
    with torch.no_grad():
        return PanopticFCNTTAModel(model).test_step(
            dict(inputs=[images for images, _ in views],
                 data_samples=[copy.deepcopy(s) for _, s in views]))


def assert_same_prediction(result, expected):
    assert torch.equal(result.pred_panoptic_seg.sem_seg,
                       expected.pred_panoptic_seg.sem_seg)
    assert torch.equal(result.pred_sem_seg.sem_seg,
                       expected.pred_sem_seg.sem_seg)
    assert torch.equal(result.pred_instances.labels,
                       expected.pred_instances.labels)
    assert torch.equal(result.pred_instances.masks,
                       expected.pred_instances.masks)
    torch.testing.assert_close(result.pred_instances.scores,
                               expected.pred_instances.scores)


def test_flip_tta_of_a_flip_equivariant_model_is_the_plain_prediction(
        equivariant_model):
    # a width divisible by 128 keeps every level's flip exact; the image
    # itself is not symmetric, so a view that is not un-flipped (or one
    # un-flipped twice) changes the result
    image, sample = default_sample((128, 256))
    sample = with_meta(sample, flip=False, flip_direction=None)
    flipped = with_meta(sample, flip=True, flip_direction='horizontal')
    expected = plain_predict(equivariant_model, [image], [sample])[0]
    assert len(expected.pred_instances) > 0
    assert not torch.equal(expected.pred_panoptic_seg.sem_seg,
                           expected.pred_panoptic_seg.sem_seg.flip(-1))
    # the flipped view first: the reference is the first unflipped view
    result = tta_predict(equivariant_model,
                         [([image.flip(-1)], [flipped]), ([image], [sample])])
    assert_same_prediction(result[0], expected)


def test_one_view_is_the_plain_prediction_bit_for_bit():
    model = demo_model()
    pairs = [default_sample((64, 96)), default_sample((50, 70), seed=1)]
    images = [image for image, _ in pairs]
    samples = [sample for _, sample in pairs]
    expected = plain_predict(model, images, samples)
    result = tta_predict(model, [(images, samples)])
    for got, want in zip(result, expected):
        assert_same_prediction(got, want)
        assert torch.equal(got.pred_instances.scores,
                           want.pred_instances.scores)


def test_flip_and_multi_scale_output_has_the_plain_format():
    model = demo_model()
    pairs = [default_sample((64, 96)), default_sample((50, 70), seed=1)]
    samples = [with_meta(s, flip=False, flip_direction=None) for _, s in pairs]
    images = [image for image, _ in pairs]
    views = []
    for factor in (1.0, 0.75, 1.25):
        scaled = [resized(i, s, factor) for i, s in zip(images, samples)]
        views.append(([i for i, _ in scaled], [s for _, s in scaled]))
        views.append(([i.flip(-1) for i, _ in scaled], [
            with_meta(s, flip=True, flip_direction='horizontal')
            for _, s in scaled
        ]))
    expected = plain_predict(model, images, samples)
    result = tta_predict(model, views)
    assert len(result) == 2
    for got, want, (height, width) in zip(result, expected,
                                          [(64, 96), (50, 70)]):
        assert set(got.keys()) == set(want.keys())
        assert got.metainfo['img_shape'] == want.metainfo['img_shape']
        for key in ('pred_panoptic_seg', 'pred_sem_seg'):
            assert got.get(key).sem_seg.shape == (1, height, width)
            assert got.get(key).sem_seg.dtype == want.get(key).sem_seg.dtype
        ins = got.pred_instances
        assert set(ins.keys()) == set(want.pred_instances.keys())
        assert ins.masks.shape[1:] == (height, width)
        assert ins.masks.dtype == torch.bool
        assert ins.bboxes.shape == (len(ins), 4)
        # the other views take part: not the reference view's prediction
        assert not torch.equal(got.pred_panoptic_seg.sem_seg,
                               want.pred_panoptic_seg.sem_seg)


def test_to_reference_unflips_and_resizes_the_image_region():
    ref = ViewMeta(img_shape=(6, 8), pad_shape=(8, 8), flip=False)
    # the same image flipped, at half the size, padded to 4 x 8
    view = ViewMeta(img_shape=(3, 4), pad_shape=(4, 8), flip=True)
    x = torch.arange(32.).view(1, 4, 8)
    mapped, valid = to_reference(x, view, ref, (8, 8))
    expected = F.interpolate(
        x[None, :, :3, :4].flip(-1), size=(6, 8), mode='bilinear',
        align_corners=False)[0]
    assert torch.equal(mapped[:, :6], expected)
    assert torch.equal(mapped[:, 6:], torch.zeros(1, 2, 8))
    assert valid.sum() == 48 and valid[:6].all()
    border, _ = to_reference(x, view, ref, (8, 8), 'replicate')
    assert torch.equal(border[:, 6:], expected[:, -1:].expand(1, 2, 8))


def test_bad_views_are_named():
    with pytest.raises(ValueError, match='horizontal flips only'):
        view_meta(dict(img_shape=(4, 4), batch_input_shape=(4, 4), flip=True,
                       flip_direction='vertical'))
    with pytest.raises(KeyError, match='batch_input_shape'):
        view_meta(dict(img_shape=(4, 4)))
    flipped = ViewMeta((4, 4), (4, 4), True)
    assert reference_index([flipped, ViewMeta((4, 4), (4, 4), False)]) == 1
    with pytest.raises(ValueError, match='every view of the tta_pipeline'):
        reference_index([flipped, flipped])
