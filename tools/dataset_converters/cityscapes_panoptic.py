"""Cityscapes panoptic ground truth in the COCO-panoptic layout of mmpfcn.

``python tools/dataset_converters/cityscapes_panoptic.py DATA_ROOT
[--nproc N] [--splits train val] [--out-dir DIR]`` reads the official tree

    DATA_ROOT/gtFine/{split}/<city>/<name>_gtFine_instanceIds.png
    DATA_ROOT/gtFine/{split}/<city>/<name>_gtFine_labelIds.png
    DATA_ROOT/leftImg8bit/{split}/<city>/<name>_leftImg8bit.png

and writes, per split, ``DIR/cityscapes_panoptic_{split}.json`` and the
PNGs ``DIR/cityscapes_panoptic_{split}/<name>_gtFine_panoptic.png``
(``DIR`` defaults to ``DATA_ROOT/annotations``), which
:class:`~mmpfcn.datasets.CityscapesPanopticDataset` loads.

The panoptic segments are those of cityscapesscripts' preparation
(``createPanopticImgs.py``, with its label table ``labels.py``): segment
id = the ``instanceIds`` value, category id = the official label id,
crowd = a thing-class region without instance number (value < 1000), labels
with ``ignoreInEval`` left void; so the PNGs are pixel for pixel the ones
it writes (checked by the tests) and the official panoptic evaluation
scores against them unchanged. What this converter adds, and why it does
not call ``convert2panoptic`` itself: categories listed things first (the
order of the model's labels), integer image ids, image file names
``<city>/<name>_leftImg8bit.png`` relative to ``leftImg8bit/{split}/``,
``--nproc`` worker processes, checks of the whole tree before anything is
written (errors name the missing or unexpected file), and atomic output:
everything is written under temporary names and renamed at the end of a
split, so an interrupted run leaves no half-written split behind.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import sys
from multiprocessing import Pool
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

from mmpfcn.evaluation.functional.panoptic_io import write_panoptic_png
from mmpfcn.evaluation.functional.rle import distinct_values

INSTANCE_SUFFIX = '_gtFine_instanceIds.png'
LABEL_SUFFIX = '_gtFine_labelIds.png'
IMAGE_SUFFIX = '_leftImg8bit.png'
PANOPTIC_SUFFIX = '_gtFine_panoptic.png'


class CityscapesLayoutError(FileNotFoundError):
    """A file or folder of the official Cityscapes tree is missing."""


def cityscapes_labels() -> list:
    """cityscapesscripts' label table (with a clear error without it)."""
    try:
        from cityscapesscripts.helpers.labels import labels
    except ImportError as err:
        raise ImportError(
            'the Cityscapes converter needs cityscapesscripts (pip install '
            f'cityscapesscripts): {err}') from err
    return labels


def panoptic_categories() -> List[dict]:
    """The evaluated Cityscapes classes as COCO-panoptic categories, things
    first, each group in label-id order."""
    evaluated = [lb for lb in cityscapes_labels() if not lb.ignoreInEval]
    ordered = ([lb for lb in evaluated if lb.hasInstances] +
               [lb for lb in evaluated if not lb.hasInstances])
    return [
        dict(id=int(lb.id), name=lb.name, color=list(lb.color),
             supercategory=lb.category, isthing=int(lb.hasInstances))
        for lb in ordered
    ]


def find_split(data_root: str, split: str) -> List[Tuple[str, str]]:
    """Check the files of one split and list its (city, name) pairs.

    Raises:
        CityscapesLayoutError: a folder or file is missing, naming it.
    """
    gt_dir = osp.join(data_root, 'gtFine', split)
    img_dir = osp.join(data_root, 'leftImg8bit', split)
    for folder in (gt_dir, img_dir):
        if not osp.isdir(folder):
            raise CityscapesLayoutError(
                f'{folder} does not exist: expected split {split!r} of the '
                'Cityscapes tree (gtFine_trainvaltest.zip and '
                'leftImg8bit_trainvaltest.zip unpacked into DATA_ROOT)')
    found = sorted(glob.glob(osp.join(gt_dir, '*', '*' + INSTANCE_SUFFIX)))
    if not found:
        raise CityscapesLayoutError(
            f'no *{INSTANCE_SUFFIX} under {gt_dir}/<city>/: expected the '
            'fine annotations of gtFine_trainvaltest.zip')
    pairs = []
    for path in found:
        city = osp.basename(osp.dirname(path))
        name = osp.basename(path)[:-len(INSTANCE_SUFFIX)]
        label_path = osp.join(gt_dir, city, name + LABEL_SUFFIX)
        if not osp.isfile(label_path):
            raise CityscapesLayoutError(
                f'{path} has no labelIds partner: expected {label_path} '
                '(gtFine ships *_labelIds.png next to every '
                '*_instanceIds.png)')
        if not osp.isdir(osp.join(img_dir, city)):
            raise CityscapesLayoutError(
                f'city folder {osp.join(img_dir, city)} does not exist but '
                f'{osp.join(gt_dir, city)} does: leftImg8bit/{split} and '
                f'gtFine/{split} must hold the same cities')
        image_path = osp.join(img_dir, city, name + IMAGE_SUFFIX)
        if not osp.isfile(image_path):
            raise CityscapesLayoutError(
                f'{image_path} does not exist: the image of {path}')
        pairs.append((city, name))
    return pairs


def convert_image(task: Tuple[str, str, str, str, int]) -> Dict:
    """Convert one ``instanceIds`` PNG; writes the panoptic PNG.

    Args:
        task (tuple): data root, split, city, name, image id, and the
            output PNG folder.

    Returns:
        dict: ``image`` (the COCO image entry) and ``annotation``.
    """
    data_root, split, city, name, image_id, png_dir = task
    gt_dir = osp.join(data_root, 'gtFine', split, city)
    inst_path = osp.join(gt_dir, name + INSTANCE_SUFFIX)
    with Image.open(inst_path) as png:
        if png.mode not in ('I', 'I;16', 'I;16B', 'L'):
            raise ValueError(
                f'{inst_path} has PIL mode {png.mode!r}: expected the '
                '16-bit grey instanceIds of gtFine (label_id * 1000 + k)')
        inst = np.asarray(png, dtype=np.int64)  # (H, W)
    height, width = inst.shape
    for suffix, folder in ((LABEL_SUFFIX, gt_dir),
                           (IMAGE_SUFFIX,
                            osp.join(data_root, 'leftImg8bit', split, city))):
        path = osp.join(folder, name + suffix)
        with Image.open(path) as other:
            if other.size != (width, height):
                raise ValueError(
                    f'{path} is {other.size[0]}x{other.size[1]} (WxH) but '
                    f'{inst_path} is {width}x{height}')

    # not np.unique(return_inverse=True), which sorts every pixel
    ids = distinct_values(inst)  # (K,) ascending
    inverse = np.searchsorted(ids, inst)  # (H, W) segment index per pixel
    areas = np.bincount(inverse.ravel(), minlength=len(ids))  # (K,)
    id2label = {lb.id: lb for lb in cityscapes_labels()}
    semantic = np.where(ids < 1000, ids, ids // 1000)
    unknown = sorted({int(s) for s in semantic} - id2label.keys())
    if unknown:
        raise ValueError(f'{inst_path} holds label ids {unknown}, which '
                         'cityscapesscripts does not know')
    labels = [id2label[int(s)] for s in semantic]
    keep = np.array([not lb.ignoreInEval for lb in labels])  # (K,)

    # tight box of every segment: rows / columns it occupies, (K, H) (K, W)
    rows = np.zeros((len(ids), height), bool)
    rows[inverse, np.arange(height)[:, None]] = True
    cols = np.zeros((len(ids), width), bool)
    cols[inverse, np.arange(width)[None, :]] = True
    y0, x0 = rows.argmax(1), cols.argmax(1)
    y1 = height - rows[:, ::-1].argmax(1)
    x1 = width - cols[:, ::-1].argmax(1)

    segments = [
        dict(id=int(seg_id), category_id=int(lb.id), area=int(area),
             bbox=[int(x0[k]), int(y0[k]), int(x1[k] - x0[k]),
                   int(y1[k] - y0[k])],
             iscrowd=int(seg_id < 1000 and lb.hasInstances))
        for k, (seg_id, lb, area) in enumerate(zip(ids, labels, areas))
        if keep[k]
    ]
    png_name = name + PANOPTIC_SUFFIX
    write_panoptic_png(osp.join(png_dir, png_name),
                       np.where(keep, ids, 0)[inverse])
    return dict(
        image=dict(id=image_id, file_name=f'{city}/{name}{IMAGE_SUFFIX}',
                   height=height, width=width),
        annotation=dict(image_id=image_id, file_name=png_name,
                        segments_info=segments))


def _replace(tmp: str, final: str) -> None:
    """Move ``tmp`` to ``final``, replacing a previous ``final``."""
    if osp.isdir(final):
        old = f'{final}.old-{os.getpid()}'
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)


def convert_split(data_root: str, split: str, pairs: Sequence[Tuple[str,
                                                                   str]],
                  out_dir: str, nproc: int) -> str:
    """Convert the (checked) images of a split; returns the JSON path."""
    base = f'cityscapes_panoptic_{split}'
    tmp_dir = osp.join(out_dir, f'.{base}.tmp-{os.getpid()}')
    tmp_json = tmp_dir + '.json'
    os.makedirs(tmp_dir)
    try:
        tasks = [(data_root, split, city, name, image_id, tmp_dir)
                 for image_id, (city, name) in enumerate(pairs)]
        if nproc > 1:
            with Pool(nproc) as pool:
                converted = pool.map(convert_image, tasks, chunksize=4)
        else:
            converted = [convert_image(task) for task in tasks]
        with open(tmp_json, 'w') as f:
            json.dump(dict(images=[c['image'] for c in converted],
                           annotations=[c['annotation'] for c in converted],
                           categories=panoptic_categories()), f)
        _replace(tmp_dir, osp.join(out_dir, base))
        final_json = osp.join(out_dir, base + '.json')
        os.replace(tmp_json, final_json)  # last: marks the split complete
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if osp.exists(tmp_json):
            os.remove(tmp_json)
        raise
    return final_json


def convert(data_root: str, splits: Sequence[str] = ('train', 'val'),
            out_dir: str | None = None, nproc: int = 1) -> List[str]:
    """Check every split, then convert them; returns the JSON paths."""
    cityscapes_labels()  # fail early without cityscapesscripts
    if not osp.isdir(osp.join(data_root, 'gtFine')):
        raise CityscapesLayoutError(
            f'{osp.join(data_root, "gtFine")} does not exist: DATA_ROOT must '
            'be the Cityscapes folder holding gtFine/ and leftImg8bit/')
    pairs = {split: find_split(data_root, split) for split in splits}
    out_dir = out_dir or osp.join(data_root, 'annotations')
    os.makedirs(out_dir, exist_ok=True)
    return [convert_split(data_root, split, pairs[split], out_dir, nproc)
            for split in splits]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description='Convert the Cityscapes gtFine annotations to the '
        'COCO-panoptic files of CityscapesPanopticDataset')
    parser.add_argument('data_root', help='Cityscapes root (gtFine/, '
                        'leftImg8bit/)')
    parser.add_argument('--nproc', type=int, default=1,
                        help='worker processes (default: 1)')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'],
                        help='splits to convert (default: train val)')
    parser.add_argument('--out-dir', help='output folder (default: '
                        'DATA_ROOT/annotations)')
    args = parser.parse_args(argv)
    try:
        written = convert(args.data_root, args.splits, args.out_dir,
                          args.nproc)
    except (FileNotFoundError, ValueError) as err:
        print(f'cityscapes_panoptic: error: {err}', file=sys.stderr)
        return 1
    for path in written:
        print(f'wrote {path} and {osp.splitext(path)[0]}/')
    return 0


if __name__ == '__main__':
    sys.exit(main())
