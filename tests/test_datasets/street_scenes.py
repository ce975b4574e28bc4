"""Tiny fake Cityscapes and Mapillary Vistas trees in the real on-disk
layouts (folder names, file suffixes, label encodings), for the converter,
dataset, evaluation and training tests."""
import json
import os
import os.path as osp

import cv2
import numpy as np
from PIL import Image

# Cityscapes label ids (cityscapesscripts' labels.py) used in the scenes
CS_UNLABELED, CS_EGO, CS_ROAD, CS_SIDEWALK, CS_BUILDING = 0, 1, 7, 8, 11
CS_GUARD_RAIL, CS_VEGETATION, CS_SKY = 14, 21, 23  # guard rail: not scored
CS_PERSON, CS_CAR, CS_CARAVAN, CS_BICYCLE = 24, 26, 29, 33  # caravan: not

CITYSCAPES_SPLITS = {'train': ('aachen', 'bochum'), 'val': ('frankfurt', )}


def _cityscapes_scene(rng: np.random.Generator, height: int,
                      width: int) -> np.ndarray:
    """One (H, W) instanceIds map: stuff bands, void, a region of a class
    Cityscapes does not evaluate, 2-5 instances (some of them cut by the
    image border), a crowd region and an unevaluated instance."""
    inst = np.full((height, width), CS_BUILDING, np.int32)
    inst[:height // 4] = CS_SKY
    inst[height // 2:] = CS_ROAD
    inst[height // 2:, :width // 6] = CS_SIDEWALK
    inst[height * 3 // 8:height // 2, width // 2:] = CS_VEGETATION
    inst[-3:] = CS_EGO
    inst[-3:, :4] = CS_UNLABELED
    inst[height // 4:height // 4 + 3, width // 3:width // 2] = CS_GUARD_RAIL
    yy, xx = np.mgrid[:height, :width]
    count = {CS_PERSON: 0, CS_CAR: 0, CS_BICYCLE: 0}
    for _ in range(rng.integers(2, 6)):
        label = int(rng.choice(list(count)))
        h = int(rng.integers(height // 6, height // 3))
        w = int(rng.integers(width // 12, width // 5))
        y = int(rng.integers(height // 4, height - h // 2))
        x = int(rng.integers(-w // 3, width - w // 2))
        ellipse = ((yy - y - h / 2) / (h / 2))**2 + (
            (xx - x - w / 2) / (w / 2))**2 <= 1
        inst[ellipse] = label * 1000 + count[label]
        count[label] += 1
    inst[height // 2:height // 2 + 4, -width // 8:] = CS_CAR  # crowd
    inst[-height // 6:-4, width // 4:width // 4 + 6] = CS_CARAVAN * 1000
    return inst


def write_cityscapes_tree(root: str, height: int = 64, width: int = 128,
                          images_per_city: int = 2, seed: int = 0,
                          splits: dict = CITYSCAPES_SPLITS) -> str:
    """Write ``gtFine/{split}/<city>/*_gtFine_{instanceIds,labelIds}.png``
    (16-bit instance ids ``label * 1000 + k``, 8-bit label ids),
    ``*_gtFine_polygons.json`` and ``leftImg8bit/{split}/<city>/
    *_leftImg8bit.png`` (colours that follow the labels, plus noise)."""
    rng = np.random.default_rng(seed)
    for split, cities in splits.items():
        for city in cities:
            gt_dir = osp.join(root, 'gtFine', split, city)
            img_dir = osp.join(root, 'leftImg8bit', split, city)
            os.makedirs(gt_dir, exist_ok=True)
            os.makedirs(img_dir, exist_ok=True)
            for k in range(images_per_city):
                name = f'{city}_{k:06d}_{19 + k:06d}'
                inst = _cityscapes_scene(rng, height, width)
                labels = np.where(inst < 1000, inst, inst // 1000)
                # 16-bit grey PNG, as gtFine ships it
                cv2.imwrite(osp.join(gt_dir, f'{name}_gtFine_instanceIds.png'),
                            inst.astype(np.uint16))
                Image.fromarray(labels.astype(np.uint8)).save(
                    osp.join(gt_dir, f'{name}_gtFine_labelIds.png'))
                with open(osp.join(gt_dir, f'{name}_gtFine_polygons.json'),
                          'w') as f:
                    json.dump(dict(imgHeight=height, imgWidth=width,
                                   objects=[]), f)
                hue = (labels * 37 + (inst % 1000) * 50) % 256
                img = np.stack([hue, (hue * 3) % 256, 255 - hue], -1)
                img = img + rng.integers(0, 20, img.shape)
                Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(
                    osp.join(img_dir, f'{name}_leftImg8bit.png'))
    return root
