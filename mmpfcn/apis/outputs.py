"""Files the demos write per image: the panoptic overlay and the raw
COCO-panoptic PNG + JSON."""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmdet.structures import DetDataSample

from mmpfcn.evaluation.functional import write_panoptic_png
from mmpfcn.visualization.panoptic_overlay import draw_panoptic_overlay
from mmpfcn.visualization.panoptic_segments import panoptic_segments


def check_writable_dir(path: str) -> str:
    """Create ``path`` if needed and check a file can be written in it.

    Raises:
        PermissionError: Naming the folder, before any inference runs.
    """
    try:
        os.makedirs(path, exist_ok=True)
        probe = osp.join(path, '.mmpfcn-write-test')
        with open(probe, 'w') as f:
            f.write('ok')
        os.remove(probe)
    except OSError as err:
        raise PermissionError(
            f'output folder {path!r} cannot be written: {err}') from err
    return path


def category_ids_from_file(path: str, classes: Sequence[str]) -> List[int]:
    """Category id of every class, by name, from a COCO categories file
    (a list, or a dict with ``categories``).

    Raises:
        ValueError: Naming the classes the file does not list.
    """
    with open(path) as f:
        data = json.load(f)
    categories = data['categories'] if isinstance(data, dict) else data
    by_name = {cat['name']: int(cat['id']) for cat in categories}
    absent = [name for name in classes if name not in by_name]
    if absent:
        raise ValueError(f'{path}: no category named {absent}')
    return [by_name[name] for name in classes]


def sample_segments(sample: DetDataSample,
                    dataset_meta: dict) -> Tuple[np.ndarray, List[dict]]:
    """Segment id map and segments of a predicted sample (see
    :func:`~mmpfcn.visualization.panoptic_segments.panoptic_segments`)."""
    pan = sample.pred_panoptic_seg.sem_seg[0].cpu().numpy()
    instances = None
    if 'pred_instances' in sample:
        pred = sample.pred_instances
        instances = dict(masks=pred.masks.cpu().numpy(),
                         labels=pred.labels.cpu().numpy(),
                         scores=pred.scores.cpu().numpy())
    return panoptic_segments(pan, len(dataset_meta['thing_classes']),
                             len(dataset_meta['classes']), instances)


def coco_panoptic_record(file_name: str, image_id, segments: List[dict],
                         dataset_meta: dict,
                         category_ids: Optional[Sequence[int]] = None
                         ) -> dict:
    """The COCO-panoptic JSON of one image, with its categories.

    Args:
        file_name (str): Name of the PNG.
        image_id: The image's id (its file stem).
        segments (list[dict]): See :func:`sample_segments`.
        dataset_meta (dict): ``classes`` and ``thing_classes``.
        category_ids (Sequence[int], optional): Category id of every
            label; defaults to label + 1.

    Returns:
        dict: ``annotations`` (one entry with ``segments_info``: ``id``,
        ``category_id``, ``iscrowd``, ``area``, ``bbox``, ``isthing`` and,
        for things, ``score``) and ``categories``.
    """
    classes = dataset_meta['classes']
    num_things = len(dataset_meta['thing_classes'])
    if category_ids is None:
        category_ids = list(range(1, len(classes) + 1))
    infos = []
    for seg in segments:
        info = dict(id=seg['id'], category_id=category_ids[seg['label']],
                    iscrowd=0, area=seg['area'], bbox=seg['bbox'],
                    isthing=int(seg['isthing']))
        if 'score' in seg:
            info['score'] = round(seg['score'], 4)
        infos.append(info)
    categories = [
        dict(id=category_ids[label], name=name,
             isthing=int(label < num_things),
             color=list(dataset_meta['palette'][label]))
        for label, name in enumerate(classes)
    ]
    annotation = dict(image_id=image_id, file_name=file_name,
                      segments_info=infos)
    return dict(annotations=[annotation], categories=categories)


def write_panoptic_outputs(out_dir: str,
                           stem: str,
                           image: np.ndarray,
                           sample: DetDataSample,
                           dataset_meta: dict,
                           category_ids: Optional[Sequence[int]] = None
                           ) -> Dict[str, str]:
    """Write ``<stem>_panoptic.jpg`` (overlay), ``<stem>.png`` (COCO
    panoptic ids) and ``<stem>.json`` into ``out_dir``.

    Args:
        out_dir (str): Existing, writable folder.
        stem (str): File stem.
        image (np.ndarray): The original (H, W, 3) BGR image.
        sample (DetDataSample): Its prediction at the original size.
        dataset_meta (dict): ``classes``, ``thing_classes``, ``palette``.
        category_ids (Sequence[int], optional): See
            :func:`coco_panoptic_record`.

    Returns:
        dict[str, str]: Paths of ``overlay``, ``png`` and ``json``.
    """
    id_map, segments = sample_segments(sample, dataset_meta)
    overlay = draw_panoptic_overlay(image, id_map, segments,
                                    dataset_meta['classes'],
                                    dataset_meta['palette'])
    paths = dict(overlay=osp.join(out_dir, f'{stem}_panoptic.jpg'),
                 png=osp.join(out_dir, f'{stem}.png'),
                 json=osp.join(out_dir, f'{stem}.json'))
    mmcv.imwrite(overlay, paths['overlay'])
    write_panoptic_png(paths['png'], id_map)
    record = coco_panoptic_record(osp.basename(paths['png']), stem, segments,
                                  dataset_meta, category_ids)
    with open(paths['json'], 'w') as f:
        json.dump(record, f)
    return paths
