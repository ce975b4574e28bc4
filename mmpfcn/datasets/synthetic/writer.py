"""Writing the synthetic dataset in COCO panoptic format: per split the JPEG
images, the RGB-encoded segment-id PNGs and one JSON, each image drawn from
its own generator seeded by ``(seed, split, index)``."""
import json
import os
import os.path as osp

import numpy as np
from PIL import Image

from mmpfcn.datasets.synthetic.categories import SYNTHETIC_CATEGORIES
from mmpfcn.datasets.synthetic.drawing import generate_sample

_SPLIT_STREAMS = {'train': 0, 'val': 1}
_JPEG_QUALITY = 92


def _write_split(out_dir: str, split: str, num_images: int, seed: int,
                 height: int, width: int) -> dict:
    """Write the images, PNGs and JSON of one split; return its summary."""
    img_dir = osp.join(out_dir, split)
    seg_dir = osp.join(out_dir, 'annotations', f'panoptic_{split}')
    ann_file = osp.join(out_dir, 'annotations', f'panoptic_{split}.json')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(seg_dir, exist_ok=True)
    images, annotations = [], []
    for index in range(num_images):
        rng = np.random.default_rng([seed, _SPLIT_STREAMS[split], index])
        image, panoptic, segments_info = generate_sample(rng, height, width)
        image_id = index + 1
        stem = f'{image_id:012d}'
        Image.fromarray(image).save(
            osp.join(img_dir, f'{stem}.jpg'), format='JPEG',
            quality=_JPEG_QUALITY, subsampling=0, optimize=False)
        rgb = (panoptic[..., None] >> np.array([0, 8, 16])) & 255
        Image.fromarray(rgb.astype(np.uint8)).save(
            osp.join(seg_dir, f'{stem}.png'), format='PNG', compress_level=6)
        images.append(dict(id=image_id, file_name=f'{stem}.jpg',
                           height=height, width=width))
        annotations.append(dict(image_id=image_id, file_name=f'{stem}.png',
                                segments_info=segments_info))
    dataset = dict(
        info=dict(description=f'mmpfcn synthetic panoptic ({split})',
                  version='1.0', year=2026, seed=seed),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=SYNTHETIC_CATEGORIES)
    with open(ann_file, 'w') as f:
        json.dump(dataset, f)
    segments = [s for a in annotations for s in a['segments_info']]
    return dict(
        img_dir=img_dir, seg_dir=seg_dir, ann_file=ann_file,
        num_images=num_images, num_segments=len(segments),
        num_crowd=sum(s['iscrowd'] for s in segments))


def make_synthetic_panoptic(out_dir: str,
                            num_train: int = 300,
                            num_val: int = 50,
                            seed: int = 0,
                            height: int = 192,
                            width: int = 256) -> dict:
    """Write the synthetic COCO-panoptic dataset (see the module docstring).

    Existing files of the same names are overwritten, others are left.

    Args:
        out_dir (str): dataset root to create.
        num_train (int): number of training images.
        num_val (int): number of validation images.
        seed (int): master seed; the same seed gives byte-identical files.
        height (int): image height, at least 32.
        width (int): image width, at least 32.

    Returns:
        dict: ``out_dir`` and, per split (``train``, ``val``), a dict with
        ``img_dir``, ``seg_dir``, ``ann_file``, ``num_images``,
        ``num_segments`` and ``num_crowd`` (crowd segments).
    """
    for name, value, low in (('num_train', num_train, 0),
                             ('num_val', num_val, 0), ('seed', seed, 0),
                             ('height', height, 32), ('width', width, 32)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f'make_synthetic_panoptic: {name} must be an '
                             f'integer >= {low}, got {value!r}')
    summary = dict(out_dir=osp.abspath(out_dir))
    for split, num in (('train', num_train), ('val', num_val)):
        summary[split] = _write_split(summary['out_dir'], split, int(num),
                                      int(seed), int(height), int(width))
    return summary
