"""Files the demos write per image: the panoptic overlay and the raw
COCO-panoptic PNG + JSON, drawn once per image by :func:`render_panoptic`."""
import json
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmdet.structures import DetDataSample

from mmpfcn.evaluation.functional import write_panoptic_png
from mmpfcn.visualization.panoptic_overlay import draw_panoptic_overlay
from mmpfcn.visualization.panoptic_segments import panoptic_segments

# the files of one image's output: overlay, COCO-panoptic PNG, its JSON
PANOPTIC_OUTPUT_SUFFIXES = ('_panoptic.jpg', '.png', '.json')


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


class PanopticPicture(NamedTuple):
    """A prediction drawn once, for the overlay and the COCO-panoptic files.

    Attributes:
        overlay (np.ndarray): (H, W, 3) BGR uint8 picture.
        id_map (np.ndarray): (H, W) segment ids, 0 = void.
        segments (list[dict]): See :func:`sample_segments`.
    """
    overlay: np.ndarray
    id_map: np.ndarray
    segments: List[dict]


def render_panoptic(image: np.ndarray, sample: DetDataSample,
                    dataset_meta: dict) -> PanopticPicture:
    """Segments of a prediction and their overlay on the image.

    Args:
        image (np.ndarray): The original (H, W, 3) BGR image.
        sample (DetDataSample): Its prediction at the original size.
        dataset_meta (dict): ``classes``, ``thing_classes``, ``palette``.

    Returns:
        PanopticPicture: The overlay, the (H, W) id map and the segments.
    """
    id_map, segments = sample_segments(sample, dataset_meta)
    overlay = draw_panoptic_overlay(image, id_map, segments,
                                    dataset_meta['classes'],
                                    dataset_meta['palette'])
    return PanopticPicture(overlay, id_map, segments)


def write_panoptic_outputs(out_dir: str,
                           stem: str,
                           picture: PanopticPicture,
                           dataset_meta: dict,
                           category_ids: Optional[Sequence[int]] = None
                           ) -> Dict[str, str]:
    """Write ``<stem>_panoptic.jpg`` (overlay), ``<stem>.png`` (COCO
    panoptic ids) and ``<stem>.json`` into ``out_dir``
    (:data:`PANOPTIC_OUTPUT_SUFFIXES`; an
    :class:`~mmpfcn.apis.output_names.OutputNamer` picks stems that
    replace no input).

    Args:
        out_dir (str): Existing, writable folder.
        stem (str): File stem.
        picture (PanopticPicture): From :func:`render_panoptic`.
        dataset_meta (dict): ``classes``, ``thing_classes``, ``palette``.
        category_ids (Sequence[int], optional): See
            :func:`coco_panoptic_record`.

    Returns:
        dict[str, str]: Paths of ``overlay``, ``png`` and ``json``.
    """
    paths = {
        kind: osp.join(out_dir, stem + suffix)
        for kind, suffix in zip(('overlay', 'png', 'json'),
                                PANOPTIC_OUTPUT_SUFFIXES)
    }
    mmcv.imwrite(picture.overlay, paths['overlay'])
    write_panoptic_png(paths['png'], picture.id_map)
    record = coco_panoptic_record(osp.basename(paths['png']), stem,
                                  picture.segments, dataset_meta,
                                  category_ids)
    with open(paths['json'], 'w') as f:
        json.dump(record, f)
    return paths
