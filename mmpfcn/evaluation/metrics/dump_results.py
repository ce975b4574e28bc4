"""Compact prediction dumps (``tools/test.py --out results.pkl``): every
panoptic and semantic map PNG-encoded, instance masks as RLE, read back
bit for bit by :func:`decode_prediction` for re-scoring and analysis.

A record (one per image) holds the image's meta keys (``img_id``,
``img_path``, ``ori_shape``, ``seg_map_path``, ...; not the GT's RLE) and

- ``pred_panoptic_seg``: ``png`` (the map's distinct values numbered
  0..K-1, as an 8- or 16-bit grey PNG), ``values`` (the (K,) mmdet value,
  ``label + id * INSTANCE_OFFSET``, of each number) and ``segments_info``
  (per number: ``id``, ``label``, ``instance``, ``area``);
- ``pred_instances``: ``labels``, ``scores``, ``bboxes`` (numpy) and
  ``masks`` (pycocotools RLE dicts);
- ``pred_sem_seg``: ``png`` and ``values`` as above.

mmdet's ``DumpDetResults`` keeps the (1, H, W) int64 maps as they are.
"""
from typing import Sequence

import cv2
import numpy as np
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmengine.evaluator import DumpResults
from mmengine.fileio import load
from mmengine.structures import BaseDataElement

from mmpfcn.registry import METRICS

from ..functional.rle import distinct_values, masks_to_dense, masks_to_rle
from .ground_truth import GT_RLE_KEY
from .shared_encoding import ENCODING_KEY

PRED_KEYS = ('pred_panoptic_seg', 'pred_instances', 'pred_sem_seg')
# what a dump leaves out: the ground truth the test pipeline carries and
# the metrics' encoding of the sample
DROPPED_KEYS = (GT_RLE_KEY, 'gt_instances', 'ignored_instances',
                'gt_sem_seg', 'gt_panoptic_seg', ENCODING_KEY)


def _numpy(data) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    return np.asarray(data)


def encode_label_map(label_map) -> dict:
    """A (1, H, W) or (H, W) integer map as a PNG of its value numbers.

    Returns:
        dict: ``png`` (bytes), ``values`` ((K,) of the map's dtype, the
        value of each number), ``areas`` ((K,) pixels per number) and
        ``ndim`` (of the map).

    Raises:
        ValueError: A map that is not integer, or has over 65536 values.
    """
    data = _numpy(label_map)
    if not np.issubdtype(data.dtype, np.integer) or data.ndim not in (2, 3):
        raise ValueError('expected an integer (H, W) or (1, H, W) map, got '
                         f'{data.dtype} of shape {data.shape}')
    flat = data.reshape(data.shape[-2:])
    values = distinct_values(flat)
    if len(values) > 2**16:
        raise ValueError(f'a map of {len(values)} distinct values cannot be '
                         'stored as a 16-bit PNG')
    index = np.searchsorted(values, flat).astype(
        np.uint8 if len(values) <= 256 else np.uint16)
    ok, png = cv2.imencode('.png', index)
    if not ok:
        raise ValueError('OpenCV could not PNG-encode the map')
    areas = np.bincount(index.ravel(), minlength=len(values))
    return dict(png=png.tobytes(), values=values, areas=areas,
                ndim=data.ndim)


def decode_label_map(encoded: dict) -> np.ndarray:
    """The map of :func:`encode_label_map`, identical to the original
    (same values, dtype and number of dimensions)."""
    index = cv2.imdecode(np.frombuffer(encoded['png'], np.uint8),
                         cv2.IMREAD_UNCHANGED)
    if index is None:
        raise ValueError('the dumped map is not a readable PNG')
    label_map = encoded['values'][index]
    return label_map[None] if encoded.get('ndim', 3) == 3 else label_map


def encode_prediction(sample) -> dict:
    """The compact record of one predicted sample (see the module
    docstring).

    Args:
        sample (dict | DetDataSample): The model's output, as the
            evaluator gives it (a dict of meta keys and predictions).
            Instance masks may be (n, H, W) bool or already RLE.

    Returns:
        dict: The record; only numpy arrays, bytes and plain values.
    """
    if isinstance(sample, BaseDataElement):
        sample = sample.to_dict()
    record = {key: value for key, value in sample.items()
              if key not in PRED_KEYS and key not in DROPPED_KEYS}
    if 'pred_panoptic_seg' in sample:
        pan = encode_label_map(sample['pred_panoptic_seg']['sem_seg'])
        values, areas = pan.pop('values'), pan.pop('areas')
        pan['values'] = values
        pan['segments_info'] = [
            dict(id=i, label=int(v % INSTANCE_OFFSET),
                 instance=int(v // INSTANCE_OFFSET), area=int(a))
            for i, (v, a) in enumerate(zip(values, areas))
        ]
        ignore = sample['pred_panoptic_seg'].get('ignore_index')
        if ignore is not None:
            pan['ignore_index'] = int(ignore)
        record['pred_panoptic_seg'] = pan
    if 'pred_instances' in sample:
        pred = sample['pred_instances']
        record['pred_instances'] = {
            key: _numpy(pred[key])
            for key in ('labels', 'scores', 'bboxes') if key in pred
        }
        if 'masks' in pred:
            record['pred_instances']['masks'] = masks_to_rle(pred['masks'])
    if 'pred_sem_seg' in sample:
        sem = encode_label_map(sample['pred_sem_seg']['sem_seg'])
        sem.pop('areas')
        record['pred_sem_seg'] = sem
    return record


def decode_prediction(record: dict) -> dict:
    """A dumped record as the sample dict the metrics read:
    ``pred_panoptic_seg.sem_seg`` and ``pred_sem_seg.sem_seg`` as
    (1, H, W) arrays, ``pred_instances.masks`` as (n, H, W) bool.

    Raises:
        ValueError: A record of another dump format (e.g. mmdet's, with
            raw maps), naming the image.
    """
    pan = record.get('pred_panoptic_seg')
    if pan is None or 'png' not in pan:
        raise ValueError(
            f"image {record.get('img_path', record.get('img_id'))}: not a "
            'record of DumpPanopticResults (tools/test.py --out): expected '
            'pred_panoptic_seg with a png')
    sample = {key: value for key, value in record.items()
              if key not in PRED_KEYS}
    pan_map = decode_label_map(pan)
    sample['pred_panoptic_seg'] = dict(sem_seg=pan_map)
    if 'ignore_index' in pan:
        sample['pred_panoptic_seg']['ignore_index'] = pan['ignore_index']
    if 'pred_instances' in record:
        instances = dict(record['pred_instances'])
        if 'masks' in instances:
            instances['masks'] = masks_to_dense(instances['masks'],
                                                pan_map.shape[-2:])
        sample['pred_instances'] = instances
    if 'pred_sem_seg' in record:
        sample['pred_sem_seg'] = dict(
            sem_seg=decode_label_map(record['pred_sem_seg']))
    return sample


@METRICS.register_module()
class DumpPanopticResults(DumpResults):
    """Dump the predictions as compact records (see the module docstring)
    to a pickle file, for ``eval_metric.py`` and ``analyze_results.py``.

    Args:
        out_file_path (str): Path of the dump, ending with ``.pkl`` or
            ``.pickle``.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to
            ``'cpu'``.
    """

    def process(self, data_batch: dict,
                data_samples: Sequence[dict]) -> None:
        """Encode the predictions of a batch."""
        self.results.extend(encode_prediction(s) for s in data_samples)


def load_predictions(path: str) -> list:
    """The decoded samples of a dump of :class:`DumpPanopticResults`.

    Raises:
        ValueError: Naming the file: not a list of records of this dump
            format.
    """
    records = load(path, file_format='pkl')
    if not isinstance(records, list) or not all(
            isinstance(r, dict) for r in records):
        raise ValueError(f'{path}: expected a list of per-image records '
                         '(tools/test.py --out), got '
                         f'{type(records).__name__}')
    try:
        return [decode_prediction(r) for r in records]
    except ValueError as err:
        raise ValueError(f'{path}: {err}') from err
