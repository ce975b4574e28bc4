"""Our target generator against the reference's exact targets (golden
vectors recorded from the official implementation, see
tests/data/reference_vectors/README.md)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from mmpfcn.models.task_modules.target_generator import (
    PanopticFCNTargetGenerator,
)
from mmpfcn.models.task_modules.thing_targets import (
    gaussian_radius,
    mass_centers,
)

VECTORS_DIR = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'data',
    'reference_vectors')
LEVELS = ('p3', 'p4', 'p5', 'p6', 'p7')
CASES = ('targets_000000439180.npz', 'targets_synthetic_odd.npz')
ATOL = 1e-5


def load_case(name: str) -> dict:
    path = osp.join(VECTORS_DIR, name)
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def run_generator(ref: dict):
    """Feed the reference's inputs, padded as our data preprocessor pads
    them, to our generator configured with the reference's values."""
    pad_h, pad_w = ref['in_pad_size'].tolist()
    img_h, img_w = ref['in_image_size'].tolist()
    masks = torch.zeros(len(ref['in_masks']), pad_h, pad_w)
    masks[:, :img_h, :img_w] = torch.from_numpy(ref['in_masks']).float()
    stuff_map = torch.full((pad_h, pad_w), int(ref['cfg_ignore_value']))
    stuff_map[:img_h, :img_w] = torch.from_numpy(ref['in_sem']).long()
    generator = PanopticFCNTargetGenerator(
        num_things_classes=int(ref['cfg_num_thing_classes']),
        num_stuff_classes=int(ref['cfg_num_stuff_channels']) - 1,
        scale_ranges=ref['cfg_scale_ranges'].tolist(),
        encoder_stride=int(ref['cfg_common_stride']),
        max_things_per_level=int(ref['cfg_tensor_dim']),
        gaussian_overlap=float(ref['cfg_min_overlap']),
        stuff_region_thr=float(ref['cfg_stuff_thr']),
        thing_region_thr=float(ref['cfg_thing_region_thr']),
        ignore_index=int(ref['cfg_ignore_value']))
    instances = InstanceData(
        labels=torch.from_numpy(ref['in_labels']),
        bboxes=torch.from_numpy(ref['in_boxes']),
        masks=masks)
    return generator.get_targets(
        instances,
        stuff_map,
        pad_shape=(pad_h, pad_w),
        level_sizes=[tuple(s) for s in ref['in_level_sizes'].tolist()],
        img_shape=(img_h, img_w))


def assert_close(ours: torch.Tensor, ref: np.ndarray, what: str) -> None:
    ours = ours.detach().cpu()
    assert tuple(ours.shape) == ref.shape, \
        f'{what}: shape {tuple(ours.shape)} vs reference {ref.shape}'
    if ref.dtype in (np.float32, np.float64):
        diff = (ours.double() - torch.from_numpy(ref).double()).abs()
        assert diff.max().item() <= ATOL if diff.numel() else True, \
            f'{what}: max abs difference {diff.max().item():.3g}'
    else:
        assert np.array_equal(ours.numpy().astype(ref.dtype), ref), what


@pytest.mark.parametrize('case', CASES)
def test_targets_match_reference(case):
    ref = load_case(case)
    targets = run_generator(ref)

    assert_close(targets.thing_masks, ref['out_thing_masks'], 'thing masks')
    assert_close(targets.stuff_masks, ref['out_stuff_masks'], 'stuff masks')
    centers = mass_centers(targets.thing_masks).flip(1)  # (N, 2) as (x, y)
    assert_close(centers, ref['out_mass_centers_xy'], 'mass centres')
    num_things, num_stuff = [], []
    pad_h, pad_w = ref['in_pad_size'].tolist()
    boxes = torch.from_numpy(ref['in_boxes'])
    for level, name in enumerate(LEVELS):
        h_l, w_l = ref['in_level_sizes'][level].tolist()
        inds = targets.thing_inds[level]
        labels = targets.stuff_labels[level]
        assert_close(targets.thing_heatmaps[level], ref[f'out_heat_{name}'],
                     f'thing heatmap {name}')
        assert_close(inds, ref[f'out_thing_inds_{name}'], f'inds {name}')
        assert_close(targets.thing_labels[level],
                     ref[f'out_thing_classes_{name}'], f'classes {name}')
        assert_close(targets.thing_centers[level],
                     ref[f'out_thing_index_{name}'], f'centres {name}')
        assert_close(targets.thing_masks[inds], ref[f'out_inst_{name}'],
                     f'mask targets {name}')
        assert_close(targets.thing_regions[level],
                     ref[f'out_thing_regions_{name}'], f'regions {name}')
        box = boxes[inds]
        radii = gaussian_radius((box[:, 3] - box[:, 1]) * (h_l / pad_h),
                                (box[:, 2] - box[:, 0]) * (w_l / pad_w),
                                float(ref['cfg_min_overlap']))
        assert_close(radii, ref[f'out_thing_radius_{name}'], f'radii {name}')
        assert_close(targets.stuff_heatmaps[level],
                     ref[f'out_stuff_heat_{name}'], f'stuff heatmap {name}')
        assert_close(labels, ref[f'out_stuff_labels_{name}'],
                     f'stuff labels {name}')
        assert_close(targets.stuff_regions[level].float(),
                     ref[f'out_stuff_regions_{name}'], f'stuff regions {name}')
        assert_close(targets.stuff_masks[labels],
                     ref[f'out_sem_labels_{name}'], f'stuff targets {name}')
        num_things.append(len(inds))
        num_stuff.append(len(labels))
    assert num_things == ref['out_num_things'].tolist()
    assert num_stuff == ref['out_num_stuff'].tolist()
    assert targets.num_things == int(ref['out_num_things'].sum())


def test_unpadded_resize_differs_from_padded_resize():
    """The golden case is one where resizing the padded maps would differ
    (the divergence this reproduces), so the test above can fail."""
    ref = load_case(CASES[1])
    targets = run_generator(ref)
    pad_h, pad_w = ref['in_pad_size'].tolist()
    img_h, img_w = ref['in_image_size'].tolist()
    masks = torch.zeros(len(ref['in_masks']), pad_h, pad_w)
    masks[:, :img_h, :img_w] = torch.from_numpy(ref['in_masks']).float()
    padded = torch.nn.functional.interpolate(
        masks[None], size=(pad_h // 4, pad_w // 4), mode='bilinear',
        align_corners=False)[0]
    assert (padded - targets.thing_masks).abs().max() > 0.1
