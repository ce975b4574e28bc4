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


# ------------------------------------------------------- Mapillary Vistas

def mapillary_labels(version: str) -> list:
    """The ``labels`` of ``config_<version>.json``: v1.2's 66 labels; for
    v2.0 a shortened label set in its naming (v2.0 splits and renames v1.2
    labels, e.g. ``human--person--individual``)."""
    from mmpfcn.datasets.mapillary_panoptic import MAPILLARY_V12_CATEGORIES
    labels = [
        dict(name=config_name, readable=name, instances=bool(isthing),
             evaluate=True, color=list(color))
        for _, name, config_name, isthing, color in MAPILLARY_V12_CATEGORIES
    ]
    if version == 'v2.0':
        renamed = {'human--person': ('human--person--individual',
                                     'Person (individual)'),
                   'marking--general': ('marking--continuous--solid',
                                        'Lane Marking - Continuous (Solid)'),
                   'object--traffic-light': (
                       'object--traffic-light--general-upright',
                       'Traffic Light - General (Upright)')}
        for label in labels:
            if label['name'] in renamed:
                label['name'], label['readable'] = renamed[label['name']]
        labels[20:20] = [dict(name='human--person--person-group',
                              readable='Person Group', instances=False,
                              evaluate=True, color=[220, 20, 60])]
    labels.append(dict(name='void--unlabeled', readable='Unlabeled',
                       instances=False, evaluate=False, color=[0, 0, 0]))
    return labels


def _mapillary_scene(rng, height, width, index):
    """(label index map, instance number map) of one image, with label
    indices of ``mapillary_labels`` (stuff bands, void, things and one crowd
    group of persons)."""
    def idx(*names):
        for name in names:
            if name in index:
                return index[name]
        raise KeyError(names)

    label = np.full((height, width), idx('construction--structure--building'),
                    np.int64)
    label[:height // 4] = idx('nature--sky')
    label[height // 2:] = idx('construction--flat--road')
    label[-4:] = idx('void--unlabeled')
    label[height // 2:height // 2 + 3] = idx('marking--general',
                                             'marking--continuous--solid')
    number = np.zeros((height, width), np.int64)
    yy, xx = np.mgrid[:height, :width]
    things = ['object--vehicle--car', 'object--traffic-sign--front',
              ('human--person', 'human--person--individual')]
    for k in range(int(rng.integers(2, 5))):
        names = things[k % len(things)]
        names = names if isinstance(names, tuple) else (names, )
        h = int(rng.integers(height // 6, height // 3))
        w = int(rng.integers(width // 10, width // 4))
        y = int(rng.integers(height // 4, height - h // 2))
        x = int(rng.integers(-w // 3, width - w // 2))
        box = (yy >= y) & (yy < y + h) & (xx >= x) & (xx < x + w)
        label[box] = idx(*names)
        number[box] = k + 1
    group = (yy >= height // 4) & (yy < height // 4 + 5) & (xx < width // 6)
    label[group] = idx('human--person', 'human--person--person-group')
    number[group] = 0  # a group: one segment, crowd
    return label, number


def write_mapillary_tree(root: str, height: int = 48, width: int = 64,
                         images: int = 2, seed: int = 0,
                         versions=('v1.2', 'v2.0')) -> str:
    """Write ``config_<v>.json`` and, for ``training`` and ``validation``,
    ``images/<key>.jpg`` and ``<v>/{labels,instances,panoptic}/<key>.png``
    (8-bit palette labels, 16-bit ``label * 256 + instance``, RGB segment
    ids) with ``<v>/panoptic/panoptic_2018.json`` (v1.2) or
    ``panoptic_2020.json`` (v2.0): string image ids (the keys), categories
    in config order with ids = label index + 1, void--unlabeled void."""
    files = {'v1.2': 'panoptic_2018.json', 'v2.0': 'panoptic_2020.json'}
    rng = np.random.default_rng(seed)
    for version in versions:
        labels = mapillary_labels(version)
        with open(osp.join(root, f'config_{version}.json'), 'w') as f:
            json.dump(dict(labels=labels, version=version), f)
        index = {lb['name']: i for i, lb in enumerate(labels)}
        void = index['void--unlabeled']
        categories = [
            dict(id=i + 1, name=lb['readable'], supercategory=lb['name'],
                 isthing=int(lb['instances']), color=lb['color'])
            for i, lb in enumerate(labels) if i != void
        ]
        palette = np.array([lb['color'] for lb in labels], np.uint8)
        for split in ('training', 'validation'):
            img_dir = osp.join(root, split, 'images')
            ann_dir = osp.join(root, split, version)
            for sub in ('labels', 'instances', 'panoptic'):
                os.makedirs(osp.join(ann_dir, sub), exist_ok=True)
            os.makedirs(img_dir, exist_ok=True)
            coco = dict(images=[], annotations=[], categories=categories)
            for k in range(images):
                key = f'{split[:2]}{k}-Mq{seed}x_{k}A'  # like '--jRsD9...'
                label, number = _mapillary_scene(rng, height, width, index)
                img = palette[label].astype(np.int64) + rng.integers(
                    0, 25, (height, width, 3))
                Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(
                    osp.join(img_dir, key + '.jpg'), quality=95)
                sem = Image.fromarray(label.astype(np.uint8), mode='P')
                sem.putpalette(palette.reshape(-1).tolist())
                sem.save(osp.join(ann_dir, 'labels', key + '.png'))
                cv2.imwrite(osp.join(ann_dir, 'instances', key + '.png'),
                            (label * 256 + number).astype(np.uint16))
                pan = np.zeros((height, width), np.int64)
                segments = []
                pairs = np.unique(label * 1000 + number)
                for n, pair in enumerate(pairs):
                    lab, num = divmod(int(pair), 1000)
                    if lab == void:
                        continue
                    mask = (label == lab) & (number == num)
                    seg_id = 4099 * (n + 1) + 7 * k  # all three channels
                    pan[mask] = seg_id
                    ys, xs = np.nonzero(mask)
                    thing = labels[lab]['instances']
                    segments.append(dict(
                        id=seg_id, category_id=lab + 1, area=int(mask.sum()),
                        bbox=[int(xs.min()), int(ys.min()),
                              int(xs.max() - xs.min() + 1),
                              int(ys.max() - ys.min() + 1)],
                        iscrowd=int(bool(thing) and num == 0)))
                rgb = np.stack([pan % 256, pan // 256 % 256, pan // 65536],
                               -1).astype(np.uint8)
                Image.fromarray(rgb).save(
                    osp.join(ann_dir, 'panoptic', key + '.png'))
                coco['images'].append(dict(file_name=key + '.jpg', id=key,
                                           height=height, width=width))
                coco['annotations'].append(dict(
                    image_id=key, file_name=key + '.png',
                    segments_info=segments))
            with open(osp.join(ann_dir, 'panoptic', files[version]),
                      'w') as f:
                json.dump(coco, f)
    return root


# ------------------------------------------------------------ predictions

def predicted_sample(dataset, index: int, rng=None, cut_class=None,
                     false_class=None, with_instances: bool = False):
    """The image's data sample from the dataset's pipeline, with its ground
    truth as the prediction (``pred_panoptic_seg``: label + instance *
    INSTANCE_OFFSET, void = number of classes), perturbed if ``rng`` is
    given: a thing relabelled, a thing dropped, a thing shifted, the left
    part of ``cut_class`` void, and a false ``false_class`` box at the top.
    ``with_instances`` adds the non-crowd things as ``pred_instances``
    (score 1)."""
    import torch
    from mmdet.evaluation.functional import INSTANCE_OFFSET
    from mmengine.structures import InstanceData, PixelData

    from mmpfcn.evaluation.functional import read_panoptic_png

    info = dataset.get_data_info(index)
    id_map = read_panoptic_png(info['seg_map_path'])
    classes = dataset.metainfo['classes']
    num_things = len(dataset.metainfo['thing_classes'])
    pan = np.full(id_map.shape, len(classes), np.int64)
    segments = info['segments_info']
    things = [k for k, s in enumerate(segments)
              if s['category'] < num_things and not s['iscrowd']]
    masks, labels = [], []
    for k, seg in enumerate(segments):
        mask = id_map == seg['id']
        label = seg['category']
        if rng is not None:
            if things and k == things[0]:
                label = (label + 1) % num_things  # wrong class
            if len(things) > 1 and k == things[1]:
                continue  # missed
            if len(things) > 2 and k == things[2]:
                mask = np.roll(mask, (2, 3), (0, 1))  # shifted
            if cut_class is not None and label == classes.index(cut_class):
                cut = int(rng.integers(mask.shape[1] // 6,
                                       mask.shape[1] * 2 // 3))
                mask = mask & (np.arange(mask.shape[1]) >= cut)[None]
        is_thing = label < num_things
        pan[mask] = label + ((k + 1) * INSTANCE_OFFSET if is_thing else 0)
        if is_thing and not seg['iscrowd']:
            masks.append(mask)
            labels.append(label)
    if rng is not None and false_class is not None:
        y, x = rng.integers(0, 6), rng.integers(0, pan.shape[1] - 10)
        pan[y:y + 6, x:x + 10] = classes.index(false_class) + \
            999 * INSTANCE_OFFSET
    sample = dataset[index]['data_samples']
    sample.pred_panoptic_seg = PixelData(sem_seg=torch.from_numpy(pan)[None])
    if with_instances:
        shape = (len(masks), *pan.shape)
        sample.pred_instances = InstanceData(
            masks=torch.from_numpy(np.array(masks, bool).reshape(shape)),
            labels=torch.tensor(labels, dtype=torch.long),
            scores=torch.ones(len(labels)))
    return sample
