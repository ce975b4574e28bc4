"""COCO panoptic dataset with the label order and checks Panoptic FCN needs.

mmdet's :class:`~mmdet.datasets.CocoPanopticDataset` numbers the classes in
the order the JSON lists them and trusts the JSON blindly. Panoptic FCN's
targets assume things come first (label < num_things <=> thing) and that
every listed segment is a real region of the PNG, so this subclass fixes the
order and turns every inconsistency into an error naming the file, image and
segment (or, where mmdet's convention is to skip, a logged warning).
"""
import copy
import logging
import os.path as osp

from mmdet.datasets import CocoPanopticDataset
from mmengine.fileio import get_file_backend, get_local_path
from mmengine.fileio.backends import LocalBackend
from mmengine.logging import print_log

from mmpfcn.datasets.category_order import things_first_cat_ids
from mmpfcn.datasets.coco_instances import (
    image_instances,
    load_instances_file,
)
from mmpfcn.datasets.file_check import check_files_exist
from mmpfcn.registry import DATASETS

# how many dropped file names a warning lists before summarising
_MAX_NAMES_LOGGED = 10


@DATASETS.register_module()
class PanopticFCNCocoDataset(CocoPanopticDataset):
    """COCO-panoptic dataset: mmdet's, with things-first labels, crowd
    instances kept as ignored instances, and validated annotations.

    Registered under its own name (configs use
    ``type='PanopticFCNCocoDataset'``) so that mmdet's behaviour stays
    reachable as ``CocoPanopticDataset``. Pair it with
    :class:`~mmpfcn.datasets.transforms.LoadPanopticFCNAnnotations`, which
    checks the PNG against ``segments_info``.

    Differences from mmdet's dataset:

    - **Labels**: the JSON categories that are in ``metainfo['classes']``,
      things first, each group in JSON order (for COCO, whose JSON lists
      things first, this equals mmdet's labelling). If the JSON (or the given
      metainfo) orders them otherwise, ``classes``, ``thing_classes``,
      ``stuff_classes`` and ``palette`` of the metainfo are reordered to the
      labels and a warning is logged. ``self.cat_ids[label]`` is the category
      id of a label.
    - **Crowd**: thing segments with ``iscrowd=1`` stay in ``instances`` with
      ``ignore_flag=1`` (mmdet drops them), so ``PackDetInputs`` puts them,
      with their masks, into ``data_sample.ignored_instances``; they give no
      thing targets but their pixels stay thing pixels of the semantic map.
    - **Checks** (``ValueError`` naming file, image and segment): metainfo
      classes absent from the JSON or with the wrong ``isthing``; segments
      without ``id``/``category_id``/``bbox``/``area``, with id 0 (void),
      duplicate ids, unknown category ids, or zero area / empty box (mmdet
      silently skips these, which would leave their PNG pixels unexplained).
    - **Files**: every image of the JSON and the PNG of every annotation
      must exist when the dataset is built (``FileNotFoundError`` naming
      the first missing ones and their count; local storage only).
    - **Warnings**: images with no segments, and the file names of images
      that ``filter_cfg`` drops from training.
    - **Things from an instances file** (``instances_file``, the
      reference's ``coco_2017_train_panoptic_separated``): ``instances`` are
      the annotations of a COCO instances JSON (``mask`` = their
      segmentation, decoded by ``LoadPanopticFCNAnnotations``) and
      ``filter_empty_gt`` looks at them; the stuff map still comes from the
      panoptic PNG. See :mod:`mmpfcn.datasets.coco_instances` for its
      checks.

    Each ``data_list`` entry holds ``img_path``, ``img_id``,
    ``seg_map_path`` (``<seg prefix>/<file_name of the image's
    annotation>``, as the COCO panoptic format defines it; mmdet's
    ``<image stem>.png`` for an image without annotation), ``height``,
    ``width``, ``instances`` (things: ``bbox`` [x1, y1, x2, y2],
    ``bbox_label``, ``ignore_flag`` = iscrowd, and the PNG's ``segment_id``
    or, from an instances file, ``mask``) and ``segments_info`` (every
    segment: ``id``, ``category`` label, ``is_thing`` -- False for crowd, as
    in mmdet, so that ``filter_empty_gt`` drops images whose only things
    are crowds -- and ``iscrowd``).

    Args:
        instances_file (str, optional): COCO instances JSON to take the
            things from (e.g. ``annotations/instances_train2017.json``;
            joined with ``data_root`` like ``ann_file``). None (default)
            takes them from the panoptic PNG.
        **kwargs: As :class:`~mmdet.datasets.CocoPanopticDataset`.
    """
    #: Warn when the JSON does not list its thing categories first (off in
    #: subclasses whose files are known to mix them).
    warn_category_order = True

    def __init__(self, *args, instances_file: str = None, **kwargs) -> None:
        # set before the parent's __init__, which loads the data list
        self.instances_file = instances_file
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> list[dict]:
        """Load the JSON, fix the label order and parse every image.

        Returns:
            list[dict]: one parsed entry per image of the JSON.
        """
        with get_local_path(
                self.ann_file, backend_args=self.backend_args) as local_path:
            try:
                self.coco = self.COCOAPI(local_path)
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(
                    f'{self.ann_file} is not a valid COCO panoptic annotation '
                    f'file ({type(err).__name__}: {err})') from err
        for key in ('images', 'annotations', 'categories'):
            if key not in self.coco.dataset:
                raise ValueError(f'{self.ann_file} has no {key!r} field; '
                                 'expected a COCO panoptic annotation file')
        self.cat_ids = self._things_first_cat_ids(
            self.coco.dataset['categories'])
        self.cat2label = {cat: label for label, cat in enumerate(self.cat_ids)}
        self.cat_img_map = copy.deepcopy(self.coco.cat_img_map)
        things, skipped = None, 0
        if self.instances_file:
            things_path = self.instances_file
            if self.data_root and not osp.isabs(things_path):
                things_path = osp.join(self.data_root, things_path)
            things = load_instances_file(things_path, self.coco.cats,
                                         self.ann_file, self.backend_args)

        # the PNG each annotation names (mmdet assumes <image stem>.png)
        seg_files = {
            ann['image_id']: ann['file_name']
            for ann in self.coco.dataset['annotations'] if 'file_name' in ann
        }
        data_list = []
        for img_id in self.coco.get_img_ids():
            raw_img_info = dict(
                self.coco.load_imgs([img_id])[0], img_id=img_id)
            if img_id in seg_files:
                raw_img_info['seg_file_name'] = seg_files[img_id]
            raw_ann_info = self.coco.load_anns(
                self.coco.get_ann_ids(img_ids=[img_id]))
            data_info = self.parse_data_info(
                dict(raw_img_info=raw_img_info, raw_ann_info=raw_ann_info))
            if things is not None:
                data_info['instances'], count = image_instances(
                    things, data_info, self.cat2label,
                    len(self._metainfo['thing_classes']), things_path,
                    self.ann_file)
                skipped += count
            data_list.append(data_info)
        del self.coco
        self._check_split_files(data_list, seg_files)
        if skipped:
            print_log(
                f'{things_path}: skipped {skipped} annotation(s) with zero '
                'area, a box under one pixel or no valid polygon',
                logger='current',
                level=logging.WARNING)
        return data_list

    def _check_split_files(self, data_list: list[dict],
                           annotated: dict) -> None:
        """Check that every image, and the PNG of every image with an
        annotation (``annotated``: image id -> PNG name), is a file, naming
        the missing ones (local storage only: other backends are not
        stat'ed file by file)."""
        if not data_list or not isinstance(
                get_file_backend(data_list[0]['img_path'],
                                 backend_args=self.backend_args),
                LocalBackend):
            return
        paths = [info['img_path'] for info in data_list]
        paths += [
            info['seg_map_path'] for info in data_list
            if info['img_id'] in annotated and info['seg_map_path']
        ]
        check_files_exist(paths, self.ann_file)

    def _things_first_cat_ids(self, categories: list[dict]) -> list[int]:
        """The category id of each label, things first; checks and reorders
        ``self._metainfo`` (:func:`~.category_order.things_first_cat_ids`)."""
        return things_first_cat_ids(categories, self._metainfo,
                                    self.ann_file, type(self).__name__,
                                    self.warn_category_order)

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """Parse and check the annotation of one image.

        Args:
            raw_data_info (dict): ``raw_img_info`` (the JSON image entry plus
                ``img_id``) and ``raw_ann_info`` (its segments, possibly with
                same-id segments of other images, which are discarded).

        Returns:
            dict: the entry described in the class docstring.
        """
        img_info = raw_data_info['raw_img_info']
        img_id = img_info['img_id']
        for key in ('file_name', 'height', 'width'):
            if key not in img_info:
                raise ValueError(f'{self.ann_file}: image {img_id} lacks the '
                                 f'field {key!r}')
        file_name = img_info['file_name']
        where = f'{self.ann_file}: image {img_id} ({file_name})'
        # COCOPanoptic indexes segments by id, and ids repeat across images
        anns = [
            ann for ann in raw_data_info['raw_ann_info']
            if ann['image_id'] == img_id
        ]
        if not anns:
            print_log(f'{where} has no segments', logger='current',
                      level=logging.WARNING)

        seg_prefix = self.data_prefix.get('seg')
        num_things = len(self._metainfo['thing_classes'])
        instances, segments_info, seen = [], [], set()
        for ann in anns:
            self._check_segment(ann, seen, where)
            seen.add(ann['id'])
            label = self.cat2label[ann['category_id']]
            is_thing = label < num_things
            is_crowd = bool(ann.get('iscrowd', 0))
            if is_thing:
                x, y, w, h = ann['bbox']
                instances.append(
                    dict(bbox=[x, y, x + w, y + h], bbox_label=label,
                         ignore_flag=int(is_crowd), segment_id=ann['id']))
            segments_info.append(
                dict(id=ann['id'], category=label,
                     is_thing=is_thing and not is_crowd, iscrowd=is_crowd))
        data_info = dict(
            img_path=osp.join(self.data_prefix['img'], file_name),
            img_id=img_id,
            seg_map_path=(osp.join(
                seg_prefix,
                img_info.get('seg_file_name',
                             osp.splitext(file_name)[0] + '.png'))
                          if seg_prefix else None),
            height=img_info['height'],
            width=img_info['width'],
            instances=instances,
            segments_info=segments_info)
        if self.return_classes:  # mmdet's option for open-vocabulary models
            data_info.update(
                text=self._metainfo['thing_classes'],
                stuff_text=self._metainfo['stuff_classes'],
                custom_entities=True)
        return data_info

    def _check_segment(self, ann: dict, seen: set, where: str) -> None:
        """Raise ``ValueError`` if a ``segments_info`` entry is unusable.

        Args:
            ann (dict): the segment entry of the JSON.
            seen (set): ids of the image's segments checked so far.
            where (str): file and image, for the message.
        """
        missing = [
            k for k in ('id', 'category_id', 'bbox', 'area') if k not in ann
        ]
        if missing:
            raise ValueError(f'{where}: segment {ann} lacks field(s) '
                             f'{missing}')
        seg_id, cat_id = ann['id'], ann['category_id']
        if not isinstance(seg_id, int) or seg_id <= 0:
            raise ValueError(f'{where}: segment id {seg_id!r} is not a '
                             'positive integer (0 marks void pixels)')
        if seg_id in seen:
            raise ValueError(f'{where}: segment id {seg_id} is listed more '
                             'than once')
        if cat_id not in self.cat2label:
            known = cat_id in self.coco.cats
            raise ValueError(
                f'{where}: segment {seg_id} has category_id {cat_id}, which '
                + ('is not among the dataset classes (metainfo)'
                   if known else 'is not a category of the file'))
        bbox = ann['bbox']
        if len(bbox) != 4:
            raise ValueError(f'{where}: segment {seg_id} has bbox {bbox}; '
                             'expected [x, y, w, h]')
        if ann['area'] <= 0 or bbox[2] < 1 or bbox[3] < 1:
            raise ValueError(
                f'{where}: segment {seg_id} has zero area (area '
                f'{ann["area"]}, bbox {bbox}); a listed segment must cover '
                'pixels of the PNG -- remove it from segments_info')

    def filter_data(self) -> list[dict]:
        """mmdet's filter (``filter_empty_gt``: drop training images without
        non-crowd things -- those of the instances file if one is given;
        ``min_size``: drop smaller images), logging what it drops.

        Returns:
            list[dict]: the kept entries of ``self.data_list``.
        """
        if self.instances_file and not self.test_mode and self.filter_cfg:
            min_size = self.filter_cfg.get('min_size', 0)
            keep_empty = not self.filter_cfg.get('filter_empty_gt', False)
            kept = [
                info for info in self.data_list
                if min(info['width'], info['height']) >= min_size and (
                    keep_empty or any(not inst['ignore_flag']
                                      for inst in info['instances']))
            ]
        else:
            kept = super().filter_data()
        if len(kept) < len(self.data_list):
            kept_ids = {info['img_id'] for info in kept}
            dropped = [
                osp.basename(info['img_path']) for info in self.data_list
                if info['img_id'] not in kept_ids
            ]
            listed = ', '.join(dropped[:_MAX_NAMES_LOGGED])
            more = len(dropped) - _MAX_NAMES_LOGGED
            print_log(
                f'{self.ann_file}: filter_cfg={self.filter_cfg} drops '
                f'{len(dropped)} of {len(self.data_list)} training images '
                '(no non-crowd thing instance, or smaller than min_size): '
                f'{listed}' + (f' and {more} more' if more > 0 else ''),
                logger='current',
                level=logging.WARNING)
        return kept
