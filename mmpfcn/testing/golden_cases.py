"""The outputs recorded in ``tests/data/golden_outputs/golden_outputs.npz``:
one code path for ``tools/misc/record_golden_outputs.py`` (which writes
them) and ``tests/test_models/test_golden_outputs.py`` (which recomputes
and compares them).

Two cases, both on the two COCO images of ``tests/data/coco_panoptic_sample``:

* ``model``: the R50 COCO config in the benchmark setting of issue 14
  (no pretrained backbone, plain convolutions in the position head), built
  by :func:`mmpfcn.apis.init_model` after ``torch.manual_seed(0)``. That
  function does not call ``init_weights``: the weights are PyTorch's
  default layer initialisation, which depends only on the seed. (With
  ``init_weights`` the focal prior bias makes every thing score ~0.2 and
  every mask cover the whole image; the default weights give scores up to
  0.88, several labels and masks of different areas.) Each image runs
  through :func:`mmpfcn.apis.inference_model` as read (``ori``:
  ori_shape != img_shape); image 142238 also resized to 800 x 1199
  (``net``: the network input size, img_shape == ori_shape), one forward
  pass more would cost ~6 s of the test's time.
* ``fusion``: the fusion head's ``predict`` on soft masks derived from the
  ground truth (random weights give masks over ~99% of the image, which
  leaves most of the merge unexercised), plus shifted duplicates, junk
  blobs and an empty mask, so that the overlap rule, the score threshold
  and the stuff area limit all decide something.

Every output is a numpy array in one flat dict keyed
``<case>/<image>/<variant>/<output>``. Masks are stored as packed bits
(``*_bits``, with their shape in ``*_shape``) and by area and SHA-1.
``meta/platform`` names the torch build and CPU instruction set of the
recording; the ``model`` case's bits are not portable even between CPUs
with the same signature (oneDNN's convolutions round differently), so it
is compared within float-rounding tolerances.
"""
import hashlib
import json
import os.path as osp
from typing import Dict, Optional, Tuple

import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData

from mmpfcn.apis import build_inference_pipeline, inference_model, init_model

PROJECT_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GOLDEN_FILE = osp.join(PROJECT_ROOT, 'tests', 'data', 'golden_outputs',
                       'golden_outputs.npz')
CONFIG = osp.join(PROJECT_ROOT, 'configs', 'panoptic_fcn',
                  'panoptic-fcn_r50_fpn_3x_coco-panoptic.py')
CFG_OPTIONS = {
    'model.backbone.init_cfg': None,
    'model.panoptic_head.kernel_generator.position_dcn': False
}
SEED = 0
IMAGE_NAMES = ('000000142238', '000000439180')
# (h, w): the network input size of a 640 x 427 COCO image at 800
NET_SHAPE = (800, 1199)
# the image also run at that size (its own network input size at 800)
NET_IMAGE = '000000142238'
# soft masks: values at SOFT_SAMPLES fixed positions of every mask
# (position k = k * SAMPLE_STEP mod its size), plus float64 sums
SOFT_SAMPLES = 16
SAMPLE_STEP = 7919
# the fusion case: masks are stride-4 probabilities sigmoid(SHARPNESS *
# (coverage - EDGE)), coverage = the smoothed fraction of a cell inside
# the segment
SHARPNESS, EDGE, SMOOTH = 8.0, 0.45, 5
# masks stored pixel by pixel (the others by area and SHA-1 only, to keep
# the file small): the first 3 of the model case (speckled masks of random
# weights), all of the fusion case at the original size and the first 8 at
# the network input size
MODEL_FULL_MASKS = 3
FUSION_NET_FULL_MASKS = 8
JUNK_STUFF_SIDE = 8  # stride-4 cells: 32 x 32 px at the network input

Outputs = Dict[str, np.ndarray]


def pack_masks(masks: torch.Tensor, key: str) -> Outputs:
    """Bool masks (n, H, W) as ``key_bits`` (n, ceil(H*W/8)) uint8 and
    ``key_shape`` (3,)."""
    flat = masks.bool().flatten(1).cpu().numpy()
    return {f'{key}_bits': np.packbits(flat, axis=1),
            f'{key}_shape': np.array(masks.shape, dtype=np.int64)}


def unpack_masks(outputs: Outputs, key: str) -> np.ndarray:
    """Inverse of :func:`pack_masks`: bool (n, H, W)."""
    shape = tuple(outputs[f'{key}_shape'])
    size = shape[1] * shape[2]
    bits = np.unpackbits(outputs[f'{key}_bits'], axis=1, count=size)
    return bits.astype(bool).reshape(shape)


def _soft_summary(masks: torch.Tensor, key: str) -> Outputs:
    """Fixed samples (n, SOFT_SAMPLES) and float64 sums (n,) of soft
    masks (n, h, w)."""
    flat = masks.detach().flatten(1).cpu()
    index = (torch.arange(SOFT_SAMPLES) * SAMPLE_STEP) % max(flat.shape[1], 1)
    return {f'{key}_samples': flat[:, index].numpy(),
            f'{key}_sums': flat.double().sum(dim=1).numpy()}


def mask_digests(masks: np.ndarray) -> np.ndarray:
    """SHA-1 of every bool mask (n, H, W): (n, 20) uint8."""
    packed = np.packbits(masks.reshape(len(masks), -1), axis=1)
    return np.array([np.frombuffer(hashlib.sha1(row.tobytes()).digest(),
                                   dtype=np.uint8) for row in packed],
                    dtype=np.uint8).reshape(-1, 20)


def _result_arrays(pan: torch.Tensor, instances: InstanceData,
                   sem: torch.Tensor, prefix: str,
                   full_masks: Optional[int] = None) -> Outputs:
    """The panoptic map, instances and semantic map of one image.

    Every instance mask is recorded by its area (``masks_areas``) and
    SHA-1 (``masks_sha1``); the first ``full_masks`` (all if None) also
    pixel by pixel (``masks_bits``).
    """
    masks = instances.masks.bool().cpu()
    out = {f'{prefix}/pan': pan.cpu().numpy().astype(np.int32),
           f'{prefix}/sem': sem.cpu().numpy().astype(np.uint8),
           f'{prefix}/scores': instances.scores.cpu().numpy(),
           f'{prefix}/labels': instances.labels.cpu().numpy().astype(
               np.int64),
           f'{prefix}/bboxes': instances.bboxes.cpu().numpy()}
    out[f'{prefix}/masks_areas'] = masks.flatten(1).sum(dim=1).numpy()
    out[f'{prefix}/masks_sha1'] = mask_digests(masks.numpy())
    out.update(pack_masks(masks[:full_masks], f'{prefix}/masks'))
    return out


def build_model() -> torch.nn.Module:
    """The seeded R50 model of the ``model`` case (see the module doc)."""
    torch.manual_seed(SEED)
    return init_model(CONFIG, cfg_options=CFG_OPTIONS)


def model_outputs(model: torch.nn.Module, img: np.ndarray,
                  prefix: str) -> Outputs:
    """Run one BGR image through ``inference_model`` and record its results
    and the head's soft outputs (what ``panoptic_head.predict`` returned).
    """
    head = model.panoptic_head
    captured = []

    def recording_predict(*args, **kwargs):
        result = type(head).predict(head, *args, **kwargs)
        captured.append(result)
        return result

    head.predict = recording_predict
    try:
        sample = inference_model(model, img)
    finally:
        del head.predict
    assert len(captured) == 1, 'the head predicted more than once'
    (things, ), (stuff, ) = captured[0]
    out = _result_arrays(sample.pred_panoptic_seg.sem_seg[0],
                         sample.pred_instances,
                         sample.pred_sem_seg.sem_seg[0], prefix,
                         full_masks=MODEL_FULL_MASKS)
    for name, part in (('head_things', things), ('head_stuff', stuff)):
        out.update(_soft_summary(part.masks, f'{prefix}/{name}'))
        out[f'{prefix}/{name}_scores'] = part.scores.cpu().numpy()
        out[f'{prefix}/{name}_labels'] = part.labels.cpu().numpy().astype(
            np.int64)
    out[f'{prefix}/shapes'] = np.array(
        [*sample.metainfo['ori_shape'], *sample.metainfo['img_shape']])
    return out


def read_ground_truth(sample_dir: str, name: str) -> Tuple[np.ndarray, list]:
    """Segment id map (H, W) of an image and its segments, each
    ``(id, isthing, label)`` with the thing label in [0, N_th) or the stuff
    channel in [1, N_st) (categories in file order, things first)."""
    with open(osp.join(sample_dir, 'panoptic_examples.json')) as f:
        meta = json.load(f)
    things = [c['id'] for c in meta['categories'] if c['isthing']]
    stuff = [c['id'] for c in meta['categories'] if not c['isthing']]
    ann = next(a for a in meta['annotations']
               if a['file_name'] == f'{name}.png')
    rgb = mmcv.imread(osp.join(sample_dir, 'panoptic', f'{name}.png'),
                      channel_order='rgb').astype(np.int64)
    ids = rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]
    segments = [(s['id'], True, things.index(s['category_id']))
                if s['category_id'] in things else
                (s['id'], False, 1 + stuff.index(s['category_id']))
                for s in ann['segments_info']]
    return ids, segments


def _soft(coverage: torch.Tensor) -> torch.Tensor:
    """Probability map in (0, 1) from a coverage map in [0, 1]."""
    smooth = F.avg_pool2d(coverage[:, None], SMOOTH, stride=1,
                          padding=SMOOTH // 2, count_include_pad=False)
    return torch.sigmoid(SHARPNESS * (smooth[:, 0] - EDGE))


def _blob(h4: int, w4: int, cy: float, cx: float, radius: float,
          peak: float = 1.0) -> torch.Tensor:
    """A round blob (h4, w4) of coverage ``peak`` inside ``radius`` cells
    of (cy, cx), given as fractions of the map."""
    ys = torch.arange(h4, dtype=torch.float32)[:, None]
    xs = torch.arange(w4, dtype=torch.float32)[None]
    dist = ((ys - cy * h4)**2 + (xs - cx * w4)**2).sqrt()
    return (dist <= radius).float() * peak


def gt_soft_masks(ids: np.ndarray, segments: list, img_shape: tuple,
                  pad_shape: tuple, num_stuff_classes: int
                  ) -> Tuple[InstanceData, InstanceData, int]:
    """Thing and stuff soft masks (stride 4 of the padded input) from the
    ground truth, as the head would give them.

    Things (by descending area): scores from 0.95 down to 0.3; each of the
    two largest also gets a copy rolled by 2 cells (score just below:
    dropped by the overlap rule) and the largest a copy rolled by 40% of
    the width (score 0.25); junk blobs score 0.19, 0.12 and 0.05 (below the
    merge's 0.2); a mask peaking at 0.35 (empty after the 0.4 threshold)
    scores 0.9. Stuff: channel 0 is the union of the things, every GT stuff
    segment its channel, and a 32 x 32 px blob in the first unused channel
    (dropped by the area limit of 4096 px).

    Returns:
        tuple[InstanceData, InstanceData, int]: The things and stuff
        (``masks`` (n, H/4, W/4), ``scores``, ``labels``, sorted as the
        head sorts them) and the channel of the junk stuff blob.
    """
    h4, w4 = pad_shape[0] // 4, pad_shape[1] // 4
    resized = F.interpolate(
        torch.from_numpy(ids).double()[None, None], size=tuple(img_shape),
        mode='nearest')[0, 0]
    resized = F.pad(resized, (0, pad_shape[1] - img_shape[1], 0,
                              pad_shape[0] - img_shape[0]), value=-1)

    def coverage(seg_ids) -> torch.Tensor:
        inside = torch.isin(resized, torch.tensor(seg_ids).double())
        return F.avg_pool2d(inside.float()[None, None], 4)[0, 0]

    thing_segs = [s for s in segments if s[1]]
    thing_cov = torch.stack([coverage([s[0]]) for s in thing_segs])
    order = torch.argsort(thing_cov.sum(dim=(1, 2)), descending=True,
                          stable=True).tolist()
    thing_cov, labels = thing_cov[order], [thing_segs[i][2] for i in order]
    scores = torch.linspace(0.95, 0.3, len(order)).tolist()
    covs = list(thing_cov)
    for i in range(2):
        covs.append(torch.roll(thing_cov[i], shifts=(2, 2), dims=(0, 1)))
        scores.append(scores[i] - 0.001)
        labels.append(labels[i])
    covs.append(torch.roll(thing_cov[0], shifts=int(0.4 * w4), dims=1))
    scores.append(0.25)
    labels.append(labels[0])
    for (cy, cx, radius), score, label in zip(
            ((0.3, 0.2, 6.0), (0.6, 0.7, 9.0), (0.8, 0.4, 4.0)),
            (0.19, 0.12, 0.05), (2, 5, 7)):
        covs.append(_blob(h4, w4, cy, cx, radius))
        scores.append(score)
        labels.append(label)
    # peak 0.35: sigmoid(8 * (c - 0.45)) < 0.4 for every coverage c <= 0.35
    covs.append(_blob(h4, w4, 0.5, 0.5, 12.0, peak=0.35))
    scores.append(0.9)
    labels.append(0)
    scores_t = torch.tensor(scores)
    sort = torch.argsort(scores_t, descending=True, stable=True)
    things = InstanceData(masks=_soft(torch.stack(covs))[sort],
                          scores=scores_t[sort],
                          labels=torch.tensor(labels)[sort])

    stuff_segs = sorted((s[2], s[0]) for s in segments if not s[1])
    used = {label for label, _ in stuff_segs}
    junk_label = min(set(range(1, num_stuff_classes + 1)) - used)
    stuff_items = [(0, coverage([s[0] for s in thing_segs]))]
    stuff_items += [(label, coverage([seg_id]))
                    for label, seg_id in stuff_segs]
    stuff_items.append((junk_label, _blob(
        h4, w4, 0.1, 0.9, JUNK_STUFF_SIDE / 2)))
    stuff_items.sort(key=lambda item: item[0])
    stuff = InstanceData(
        masks=_soft(torch.stack([c for _, c in stuff_items])),
        scores=torch.linspace(0.9, 0.5, len(stuff_items)),
        labels=torch.tensor([label for label, _ in stuff_items]))
    return things, stuff, junk_label


def fusion_outputs(model: torch.nn.Module, sample_dir: str, name: str,
                   img: np.ndarray) -> Outputs:
    """The fusion head's results on the GT-derived masks of one image, at
    its original size (``ori``: ori_shape != img_shape) and with the image
    taken to be the network input (``net``: ori_shape = img_shape)."""
    pipeline, _ = build_inference_pipeline(model.cfg)
    packed = pipeline(dict(img=img, img_path=None, img_id=0,
                           img_shape=img.shape[:2], ori_shape=img.shape[:2]))
    img_shape = tuple(packed['data_samples'].metainfo['img_shape'][:2])
    divisor = model.data_preprocessor.pad_size_divisor
    pad_shape = tuple(-(-s // divisor) * divisor for s in img_shape)
    ids, segments = read_ground_truth(sample_dir, name)
    things, stuff, junk_label = gt_soft_masks(
        ids, segments, img_shape, pad_shape,
        model.panoptic_head.num_stuff_classes)
    out = {}
    for variant, ori_shape in (('ori', img.shape[:2]), ('net', img_shape)):
        meta = dict(img_shape=img_shape, ori_shape=tuple(ori_shape),
                    batch_input_shape=pad_shape, pad_shape=pad_shape)
        result, = model.panoptic_fusion_head.predict([things], [stuff],
                                                     [meta], rescale=True)
        prefix = f'fusion/{name}/{variant}'
        out.update(_result_arrays(result['pan_results'].sem_seg[0],
                                  result['ins_results'],
                                  result['sem_results'].sem_seg[0], prefix,
                                  full_masks=None if variant == 'ori' else
                                  FUSION_NET_FULL_MASKS))
        out[f'{prefix}/junk_stuff_label'] = np.array(junk_label)
    return out


def platform_signature() -> str:
    """What the bits of the ``model`` case depend on besides the code: the
    torch build and the CPU instructions oneDNN's convolutions use."""
    return (f'torch {torch.__version__}, '
            f'{torch.backends.cpu.get_cpu_capability()}')


def compute_golden_outputs(sample_dir: str) -> Outputs:
    """Every recorded output (see the module doc) with the current code.

    Runs on one thread (restored afterwards): with two, the random-weight
    model's scores move by ~2e-5 and a few mask pixels at the threshold
    flip, which would blur what the comparison shows.
    """
    model = build_model()
    out = {'meta/platform': np.array(platform_signature())}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _compute_all(model, sample_dir, out)
    finally:
        torch.set_num_threads(threads)
    return out


def _compute_all(model: torch.nn.Module, sample_dir: str,
                 out: Outputs) -> None:
    """Fill ``out`` with the outputs of both cases on every image."""
    with torch.no_grad():
        for name in IMAGE_NAMES:
            img = mmcv.imread(osp.join(sample_dir, 'images', f'{name}.jpg'))
            out.update(model_outputs(model, img, f'model/{name}/ori'))
            if name == NET_IMAGE:
                net_img = mmcv.imresize(img, NET_SHAPE[::-1])
                out.update(model_outputs(model, net_img, f'model/{name}/net'))
            out.update(fusion_outputs(model, sample_dir, name, img))
