"""What the Inferencer writes per image: the names of its files and the
COCO-panoptic segments and JSON record of a prediction."""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmdet.structures import DetDataSample

from mmpfcn.visualization.local_visualizer import predicted_instances
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
        ValueError: Naming the file: not JSON, not a list of categories, or
            without some of the classes (named).
    """
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'{path}: not a JSON file ({err})') from err
    categories = data.get('categories') if isinstance(data, dict) else data
    if not isinstance(categories, list) or not all(
            isinstance(cat, dict) and 'name' in cat and 'id' in cat
            for cat in categories):
        raise ValueError(f'{path}: expected a list of categories with '
                         '"name" and "id" (or a dict with "categories")')
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
    return panoptic_segments(pan, len(dataset_meta['thing_classes']),
                             len(dataset_meta['classes']),
                             predicted_instances(sample, pan.shape))


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


def output_stem(img_path: Optional[str], number: int) -> str:
    """File stem of an image's outputs: the image's own, or the zero-padded
    ``number`` (its position among the images of the run) for an array."""
    if img_path:
        return osp.splitext(osp.basename(img_path))[0]
    return f'{number:08d}'


def output_paths(out_dir: str, stem: str) -> Dict[str, str]:
    """Where the outputs of one image go, in mmdet's Inferencer layout:
    ``vis/<stem>.jpg`` (the picture), ``preds/<stem>_panoptic_seg.png``
    (COCO-panoptic ids) and ``preds/<stem>.json``.

    Returns:
        dict[str, str]: Paths of ``vis``, ``png`` and ``json``.
    """
    return dict(vis=osp.join(out_dir, 'vis', f'{stem}.jpg'),
                png=osp.join(out_dir, 'preds', f'{stem}_panoptic_seg.png'),
                json=osp.join(out_dir, 'preds', f'{stem}.json'))
