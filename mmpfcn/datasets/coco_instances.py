"""Thing annotations from a COCO instances file, for a panoptic dataset.

The reference trains on detectron2's ``coco_2017_train_panoptic_separated``:
thing masks, boxes and labels from ``instances_train2017.json`` (polygons
or RLEs, which may overlap), the stuff map from the panoptic PNG.
:class:`~mmpfcn.datasets.PanopticFCNCocoDataset` takes its things from here
when given an ``instances_file``.
"""
from typing import Optional, Tuple

from mmdet.datasets.api_wrappers import COCO
from mmengine.fileio import get_local_path

MIN_POLYGON_COORDS = 6  # three points


def load_instances_file(path: str, panoptic_cats: dict, ann_file: str,
                        backend_args: Optional[dict] = None) -> COCO:
    """Load a COCO instances JSON and check it against the panoptic one.

    Args:
        path (str): The instances JSON.
        panoptic_cats (dict): Category id -> category of the panoptic JSON.
        ann_file (str): The panoptic JSON's path, for messages.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        COCO: The loaded file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: It is no COCO instances file, or a category id names
            another category than in the panoptic JSON.
    """
    try:
        with get_local_path(path, backend_args=backend_args) as local_path:
            things = COCO(local_path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f'instances_file {path} does not exist') from None
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f'{path} is not a valid COCO instances file '
                         f'({type(err).__name__}: {err})') from err
    for key in ('images', 'annotations', 'categories'):
        if key not in things.dataset:
            raise ValueError(f'{path} has no {key!r} field; expected a COCO '
                             'instances file')
    renamed = {
        cat_id: (cat.get('name'), panoptic_cats[cat_id]['name'])
        for cat_id, cat in things.cats.items()
        if cat_id in panoptic_cats
        and cat.get('name') != panoptic_cats[cat_id]['name']
    }
    if renamed:
        raise ValueError(f'{path} and {ann_file} name categories '
                         f'differently (id: (instances, panoptic)) {renamed}')
    return things


def valid_segmentation(segm, height: int, width: int, where: str):
    """A COCO segmentation without its degenerate polygons.

    Polygons of fewer than three points are dropped, as detectron2's and
    mmdet's COCO loaders do.

    Args:
        segm (list | dict): Polygons ``[[x1, y1, x2, y2, ...], ...]`` or an
            RLE ``{'counts', 'size'}``.
        height (int): Image height.
        width (int): Image width.
        where (str): File and annotation, for the message.

    Returns:
        list | dict | None: The segmentation; None if no polygon is left.

    Raises:
        ValueError: ``segm`` is neither, a polygon has an odd number of
            coordinates, or the RLE's size is not the image's.
    """
    if isinstance(segm, dict):
        if 'counts' not in segm or list(segm.get('size', ())) != [
                height, width
        ]:
            raise ValueError(
                f'{where}: an RLE segmentation needs "counts" and "size" '
                f'[{height}, {width}] (the image\'s height and width), got '
                f'keys {sorted(segm)} and size {segm.get("size")}')
        return segm
    if not isinstance(segm, list) or not all(
            isinstance(poly, list) and len(poly) % 2 == 0 for poly in segm):
        raise ValueError(
            f'{where}: a segmentation must be an RLE dict or a list of '
            'polygons [x1, y1, x2, y2, ...]')
    polygons = [poly for poly in segm if len(poly) >= MIN_POLYGON_COORDS]
    return polygons or None


def image_instances(things: COCO, img_info: dict, cat2label: dict,
                    num_things: int, path: str,
                    ann_file: str) -> Tuple[list, int]:
    """The thing instances of one image, in the dataset's format.

    Args:
        things (COCO): The instances file (:func:`load_instances_file`).
        img_info (dict): The image's ``img_id``, ``img_path``, ``height``
            and ``width``.
        cat2label (dict): Category id -> label (things ``< num_things``).
        num_things (int): Number of thing classes.
        path (str): The instances file's path, for messages.
        ann_file (str): The panoptic JSON's path, for messages.

    Returns:
        tuple[list[dict], int]: Instances (``bbox`` [x1, y1, x2, y2],
        ``bbox_label``, ``ignore_flag`` = iscrowd, ``mask`` = the
        segmentation) and the number of annotations skipped (zero area,
        a box under one pixel, or no valid polygon; mmdet's ``CocoDataset``
        skips the first two too).

    Raises:
        ValueError: The image is not in the file; an annotation lacks a
            field, has a category that is no thing class or a malformed
            segmentation.
    """
    img_id = img_info['img_id']
    if img_id not in things.imgs:
        raise ValueError(
            f'{path} has no image {img_id} ({img_info["img_path"]}), which '
            f'{ann_file} lists; use the instances file of the same split')
    instances, skipped = [], 0
    for ann in things.load_anns(things.get_ann_ids(img_ids=[img_id])):
        where = f'{path}: annotation {ann.get("id")} of image {img_id}'
        missing = [
            k for k in ('category_id', 'bbox', 'area', 'segmentation')
            if k not in ann
        ]
        if missing:
            raise ValueError(f'{where} lacks field(s) {missing}')
        label = cat2label.get(ann['category_id'])
        if label is None or label >= num_things:
            raise ValueError(f'{where} has category_id {ann["category_id"]}, '
                             f'which is not a thing class of {ann_file}')
        segm = valid_segmentation(ann['segmentation'], img_info['height'],
                                  img_info['width'], where)
        x, y, w, h = ann['bbox']
        if segm is None or ann['area'] <= 0 or w < 1 or h < 1:
            skipped += 1
            continue
        instances.append(
            dict(bbox=[x, y, x + w, y + h], bbox_label=label,
                 ignore_flag=int(bool(ann.get('iscrowd', 0))), mask=segm))
    return instances, skipped
