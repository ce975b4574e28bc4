"""The test-server writer of the runner metric (``format_only``).

COCO panoptic results in mmdet's layout, with the dataset's category ids:
one PNG per image under ``{outfile_prefix}.panoptic/`` (segment ids 1..K,
0 = void) and ``{outfile_prefix}.panoptic.json`` listing every image's
``segments_info``.
"""
import os
import os.path as osp
from typing import List

import numpy as np
from mmengine.fileio import dump
from mmengine.logging import MMLogger

from ..functional.panoptic_io import write_panoptic_png
from .encoding import PanopticEncoder


def write_prediction_png(encoder: PanopticEncoder, sample: dict,
                         outfile_prefix: str) -> dict:
    """Write one image's prediction PNG and return its annotation.

    Args:
        encoder (PanopticEncoder): Checks and encodes the prediction.
        sample (dict): The data sample (``img_id``,
            ``pred_panoptic_seg``).
        outfile_prefix (str): Prefix of the written results.

    Returns:
        dict: ``image_id``, ``file_name`` (of the PNG, relative to
        ``{outfile_prefix}.panoptic/``) and ``segments_info`` (``id``,
        ``category_id``, ``area``, ``iscrowd``, ``isthing``).
    """
    info, name = encoder.gt.image_info(sample)
    pan = encoder.panoptic_map(sample, info, name)
    segments, ids, seg_ids = encoder.panoptic_segments(
        pan, sample['pred_panoptic_seg'].get('ignore_index'), name)
    file_name = osp.splitext(info['file_name'])[0] + '.png'
    # file names may have folders (Cityscapes: <city>/<name>.png)
    png_path = osp.join(f'{outfile_prefix}.panoptic', file_name)
    os.makedirs(osp.dirname(png_path), exist_ok=True)
    write_panoptic_png(png_path, seg_ids[np.searchsorted(ids, pan)])
    isthing = {c['id']: c['isthing'] for c in encoder.gt.categories}
    return dict(
        image_id=sample['img_id'],
        file_name=file_name,
        segments_info=[
            dict(id=s['id'], category_id=s['category_id'],
                 area=s['area'], iscrowd=0,
                 isthing=isthing[s['category_id']]) for s in segments
        ])


def write_submission_json(annotations: List[dict], outfile_prefix: str,
                          logger: MMLogger) -> None:
    """Write ``{outfile_prefix}.panoptic.json`` of the annotations of
    :func:`write_prediction_png` from all ranks."""
    json_path = f'{outfile_prefix}.panoptic.json'
    dump(dict(annotations=annotations), json_path)
    logger.info(f'panoptic results written to {json_path} and '
                f'{outfile_prefix}.panoptic/')
