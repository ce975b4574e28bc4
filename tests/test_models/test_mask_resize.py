"""binary_masks_to_image (upsampling each thing mask only around the pixels
that can pass the threshold) equals thresholding the whole resized masks
bit for bit, with the tight boxes of the result."""
import pytest
import torch
import torch.nn.functional as F

from mmpfcn.models.layers import mask_resize
from mmpfcn.models.layers.mask_resize import (
    MIN_WINDOW,
    binary_masks_to_image,
    masks_to_boxes,
    masks_to_image,
    stuff_argmax_to_image,
)


def blob_masks(num, height, width, gen, full=False):
    """Soft masks (num, height, width): ellipses of random centre and size
    (some a few pixels, some wider than the map), one empty; ``full``
    masks are noise that passes the threshold almost everywhere."""
    if full:
        return 0.3 + 0.7 * torch.rand(num, height, width, generator=gen)
    ys = torch.arange(height).float()[:, None]
    xs = torch.arange(width).float()[None]
    masks = []
    for i in range(num):
        cy, cx = torch.rand(2, generator=gen) * torch.tensor([height, width])
        ry, rx = (0.5 + torch.rand(2, generator=gen) * 0.8 * (i % 4)) * \
            torch.tensor([height, width]) / 3 + 0.5
        dist = ((ys - cy) / ry)**2 + ((xs - cx) / rx)**2
        masks.append(torch.sigmoid((1 - dist) * 3))
    masks = torch.stack(masks)
    masks[-1] *= 0.3  # nothing above the threshold
    return masks


def reference(masks, thr, img_shape, ori_shape):
    binary = masks_to_image(masks, img_shape, ori_shape) > thr
    return binary, masks_to_boxes(binary)


@pytest.mark.parametrize('size', [(200, 304), (50, 76), (12, 20), (40, 9)])
@pytest.mark.parametrize('ori', [None, 'smaller', 'larger'])
@pytest.mark.parametrize('thr', [0.4, 0.5])
def test_equals_resizing_whole_masks(size, ori, thr):
    gen = torch.Generator().manual_seed(sum(size))
    height, width = size
    masks = blob_masks(19, height, width, gen)  # two chunks of 16
    # the resized image inside the padded input
    img_shape = (4 * height - 3, 4 * width - 5)
    ori_shape = dict(smaller=(3 * height, 2 * width),
                     larger=(5 * height + 1, 6 * width)).get(ori)
    binary, boxes = binary_masks_to_image(masks, thr, img_shape, ori_shape)
    ref_binary, ref_boxes = reference(masks, thr, img_shape, ori_shape)
    assert binary.dtype == torch.bool
    assert torch.equal(binary, ref_binary)
    assert torch.equal(boxes, ref_boxes)
    assert binary.any(dim=(1, 2)).sum() >= 10  # something to compare
    assert not binary[-1].any() and not boxes[-1].any()


def test_masks_covering_the_image_and_none():
    gen = torch.Generator().manual_seed(0)
    masks = blob_masks(5, 60, 90, gen, full=True)
    for ori in (None, (150, 200)):
        got = binary_masks_to_image(masks, 0.4, (237, 355), ori)
        ref = reference(masks, 0.4, (237, 355), ori)
        assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])
    binary, boxes = binary_masks_to_image(masks[:0], 0.4, (237, 355))
    assert binary.shape == (0, 237, 355) and boxes.shape == (0, 4)


@pytest.mark.parametrize('thr', [0.0, -0.5])
def test_threshold_without_margin_resizes_everything(thr):
    gen = torch.Generator().manual_seed(1)
    masks = blob_masks(3, 30, 40, gen)
    got = binary_masks_to_image(masks, thr, (117, 158), (80, 90))
    ref = reference(masks, thr, (117, 158), (80, 90))
    assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])


def test_small_windows_would_differ_by_one_ulp():
    """Why windows are at least MIN_WINDOW wide: PyTorch's CPU kernel
    takes another code path for small inputs whose values differ from the
    whole map's in the last bit. If this starts to fail, a torch upgrade
    changed the kernel; the equality tests above still decide."""
    gen = torch.Generator().manual_seed(0)
    whole = torch.rand(1, 1, 200, 304, generator=gen)
    up = F.interpolate(whole, scale_factor=4, mode='bilinear',
                       align_corners=False)
    small = F.interpolate(whole[..., 50:58, 60:68], scale_factor=4,
                          mode='bilinear', align_corners=False)
    large = F.interpolate(whole[..., 50:50 + MIN_WINDOW, 60:60 + MIN_WINDOW],
                          scale_factor=4, mode='bilinear',
                          align_corners=False)
    inner = (..., slice(2, -2), slice(2, -2))
    assert torch.equal(large[inner],
                       up[..., 202:198 + 4 * MIN_WINDOW,
                          242:238 + 4 * MIN_WINDOW])
    assert not torch.equal(small[inner], up[..., 202:230, 242:270])


def test_windows_only_around_the_candidates(monkeypatch):
    """A small mask is upsampled in a MIN_WINDOW window, not whole."""
    sizes = []
    interpolate = F.interpolate

    def spy(inputs, *args, **kwargs):
        sizes.append(tuple(inputs.shape[-2:]))
        return interpolate(inputs, *args, **kwargs)

    monkeypatch.setattr(mask_resize.F, 'interpolate', spy)
    masks = torch.zeros(1, 200, 304)
    masks[0, 100:104, 150:153] = 0.9
    binary, boxes = binary_masks_to_image(masks, 0.4, (800, 1216))
    assert sizes == [(MIN_WINDOW, MIN_WINDOW)]
    assert boxes.tolist() == [[600, 400, 612, 416]]
    assert torch.equal(binary, reference(masks, 0.4, (800, 1216), None)[0])


@pytest.mark.parametrize('ori', [None, (70, 90)])
@pytest.mark.parametrize('num', [0, 1, 5])
def test_stuff_argmax_equals_the_full_stuff_map(ori, num):
    """The running maximum over the resized stuff masks equals the arg-max
    of the N_st-channel map that holds them (zeros elsewhere): ties to the
    lower channel, channel 0 where every probability is 0."""
    gen = torch.Generator().manual_seed(num)
    masks = torch.rand(num, 30, 40, generator=gen)
    if num:
        masks[:, :5, :5] = 0  # all zero: channel 0
        masks[num // 2, 10:20] = masks[-1, 10:20]  # ties
    labels = torch.tensor([1, 3, 4, 7, 9][:num], dtype=torch.long)
    img_shape = (117, 158)
    max_prob, channel = stuff_argmax_to_image(masks, labels, img_shape, ori)
    probs = masks_to_image(masks, img_shape, ori)
    sem = probs.new_zeros(10, *probs.shape[1:])
    sem[labels] = probs
    ref_max, ref_channel = sem.max(dim=0)
    assert torch.equal(max_prob, ref_max)
    assert torch.equal(channel, ref_channel)
    if num:
        assert (channel == 0).any() and (channel == labels[-1]).any()
