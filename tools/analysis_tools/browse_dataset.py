"""Draw the ground truth the model trains on: every image after the
training pipeline (resize, flip, stuff map) with its things, stuff and
ignored regions.

``python tools/analysis_tools/browse_dataset.py CONFIG [--output-dir DIR]
[--max-images N] [--cfg-options KEY=VALUE ...]``

Each picture shows things (``gt_instances``) in distinct colours with
their class name, stuff from the stuff map ``gt_sem_seg`` in its palette
colour, crowd regions (``ignored_instances``: no thing target, still
thing pixels of the stuff map) in grey as ``crowd <name>``, and void
pixels (255 in the stuff map) in dark grey; segments are outlined.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Tuple

import mmcv
import numpy as np
from mmdet.structures import DetDataSample
from mmengine.config import Config, DictAction
from mmengine.utils import ProgressBar

from mmpfcn.apis.outputs import check_writable_dir
from mmpfcn.registry import DATASETS
from mmpfcn.utils import register_all_modules
from mmpfcn.visualization.panoptic_overlay import draw_panoptic_overlay

CROWD_COLOR = (150, 150, 150)  # BGR
VOID_COLOR = (45, 45, 45)
VOID_VALUE = 255


def _numpy(data) -> np.ndarray:
    if hasattr(data, 'to_ndarray'):
        return data.to_ndarray()
    if hasattr(data, 'numpy'):
        return data.detach().cpu().numpy()
    return np.asarray(data)


def ground_truth_segments(sample: DetDataSample, meta: dict,
                          shape: Tuple[int, int]) -> Tuple[np.ndarray,
                                                           List[dict]]:
    """Segment id map and segments of a training sample's ground truth.

    Args:
        sample (DetDataSample): With ``gt_sem_seg`` (the stuff map: 0 =
            things, ``1 + i`` = stuff class i, 255 = void), ``gt_instances``
            and ``ignored_instances`` (crowds).
        meta (dict): ``thing_classes`` and ``classes``.
        shape (tuple[int, int]): (H, W) of the image.

    Returns:
        tuple[np.ndarray, list[dict]]: (H, W) int32 ids (0 = nothing) and
        the segments for
        :func:`~mmpfcn.visualization.panoptic_overlay.draw_panoptic_overlay`.
    """
    num_things = len(meta['thing_classes'])
    id_map = np.zeros(shape, dtype=np.int32)
    segments = []

    def add(mask: np.ndarray, label: int, isthing: bool, **extra) -> None:
        mask = mask[:shape[0], :shape[1]]
        if not mask.any():
            return
        seg_id = len(segments) + 1
        id_map[mask] = seg_id
        rows, cols = np.nonzero(mask.any(axis=1))[0], \
            np.nonzero(mask.any(axis=0))[0]
        segments.append(dict(
            id=seg_id, label=label, isthing=isthing,
            bbox=[int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1),
                  int(rows[-1] - rows[0] + 1)], **extra))

    if 'gt_sem_seg' in sample:
        stuff = _numpy(sample.gt_sem_seg.sem_seg)[0]
        for value in np.unique(stuff):
            if value == VOID_VALUE:
                add(stuff == value, 0, False, name='', color=VOID_COLOR)
            elif value > 0:
                add(stuff == value, num_things + int(value) - 1, False)
    for key, crowd in (('gt_instances', False), ('ignored_instances', True)):
        if key not in sample or 'masks' not in sample.get(key):
            continue
        instances = sample.get(key)
        masks = _numpy(instances.masks).astype(bool)
        for mask, label in zip(masks, _numpy(instances.labels)):
            extra = dict(name='crowd ' + meta['classes'][int(label)],
                         color=CROWD_COLOR) if crowd else {}
            add(mask, int(label), True, **extra)
    return id_map, segments


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw the training ground truth after the pipeline')
    parser.add_argument('config', help='config file')
    parser.add_argument('--output-dir', default='work_dirs/browse_dataset',
                        help='folder of the pictures')
    parser.add_argument('--max-images', type=int, default=None,
                        help='stop after this many images (default: all)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. '
                        'train_dataloader.dataset.data_root=data/x/')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        check_writable_dir(args.output_dir)
    except PermissionError as err:
        print(f'browse_dataset: error: {err}', file=sys.stderr)
        return 1
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    register_all_modules()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    meta = dataset.metainfo
    total = len(dataset) if args.max_images is None else \
        min(args.max_images, len(dataset))
    progress = ProgressBar(total)
    for index in range(total):
        item = dataset[index]
        sample = item['data_samples']
        image = np.ascontiguousarray(
            item['inputs'].permute(1, 2, 0).numpy())  # BGR (H, W, 3)
        id_map, segments = ground_truth_segments(sample, meta,
                                                 image.shape[:2])
        picture = draw_panoptic_overlay(image, id_map, segments,
                                        meta['classes'], meta['palette'])
        stem = osp.splitext(osp.basename(sample.metainfo['img_path']))[0]
        mmcv.imwrite(picture, osp.join(args.output_dir, f'{stem}.jpg'))
        progress.update()
    print(f'\n{total} picture(s) written to {args.output_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
