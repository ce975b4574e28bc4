"""The COCO panoptic ground truth of a split, served per image as RLE.

Decoding a panoptic PNG costs more than everything else the runner metric
does for an image, so each image's GT is decoded once, turned into RLE
segments (and, when the mIoU needs it, an RLE per semantic label) and,
with ``cache=True``, kept for the later validations of a training run.
"""
import os.path as osp
from typing import Dict, List, Optional, Tuple

import mmcv
import numpy as np
from mmengine.fileio import get, load
from pycocotools import mask as mask_utils

from ..functional.panoptic_checks import PanopticFormatError
from ..functional.panoptic_io import bgr2id
from .class_maps import ClassMaps
from .rle import encode_id_map
from .segments import encode_gt_segments


def check_size(shape: tuple, info: dict, name: str, what: str,
               source: str) -> None:
    """Raise, naming the image, unless ``shape`` is the image's (H, W).

    Args:
        shape (tuple): (H, W) of the array checked.
        info (dict): The image's entry in the annotation file.
        name (str): The image, as named in errors.
        what (str): The array, as named in errors.
        source (str): The annotation file, as named in errors.
    """
    if tuple(shape) != (info['height'], info['width']):
        raise ValueError(
            f'{name}: {what} is {shape[0]}x{shape[1]} but the image is '
            f"{info['height']}x{info['width']} in {source}; predictions "
            'must be at the original image size')


class PanopticGroundTruth:
    """Images, categories and per-image RLE ground truth of a split.

    Args:
        ann_file (str): COCO panoptic JSON.
        seg_prefix (str, optional): Folder of its PNGs; None: take each
            sample's ``seg_map_path``.
        backend_args (dict, optional): File backend of both.
        need_annotations (bool): Whether ``annotations`` must be present
            (not for a test-server image info file).
        cache (bool): Keep each image's RLEs after the first request.
    """

    def __init__(self,
                 ann_file: str,
                 seg_prefix: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 need_annotations: bool = True,
                 cache: bool = True) -> None:
        self.ann_file = ann_file
        self.seg_prefix = seg_prefix
        self.backend_args = backend_args
        self.cache = cache
        coco = load(ann_file, backend_args=backend_args)
        required = ('images', 'categories') + (('annotations', )
                                               if need_annotations else ())
        missing = [key for key in required if key not in coco]
        if missing:
            raise KeyError(f'{ann_file} has no {missing}: expected a COCO '
                           'panoptic annotation file')
        self.categories: List[dict] = coco['categories']
        self.images: Dict[int, dict] = {img['id']: img
                                        for img in coco['images']}
        self._anns = {ann['image_id']: ann
                      for ann in coco.get('annotations', [])}
        self._cache: Dict[int, dict] = {}

    def clear_cache(self) -> None:
        """Forget the RLEs (e.g. when the class-to-label map changes)."""
        self._cache.clear()

    def image_info(self, sample: dict) -> Tuple[dict, str]:
        """The annotation-file entry of a sample and its name for errors."""
        name = (f"image {sample['img_id']} "
                f"({sample.get('img_path', 'no img_path')})")
        info = self.images.get(sample['img_id'])
        if info is None:
            raise KeyError(f'{name}: no image with this id in '
                           f'{self.ann_file}')
        return info, name

    def rle(self, sample: dict, info: dict, name: str,
            class_maps: Optional[ClassMaps] = None) -> dict:
        """The GT of a sample's image as RLE.

        Args:
            sample (dict): The data sample (``img_id``, ``seg_map_path``).
            info (dict): Its entry in the annotation file.
            name (str): The image, as named in errors.
            class_maps (ClassMaps, optional): Given, the semantic map
                (things merged into 0, void = ``SEM_IGNORE``) is encoded
                too.

        Returns:
            dict: ``file_name``; ``segments`` (``id``, ``category_id``,
            ``iscrowd``, ``area``, ``segmentation``); ``sem``: None or
            (labels (K,), K RLEs) of the semantic map.
        """
        cached = self._cache.get(sample['img_id'])
        if cached is not None and (cached['sem'] is not None
                                   or class_maps is None):
            return cached
        ann, gt_map = self._read(sample, name)
        check_size(gt_map.shape, info, name, 'the GT PNG', self.ann_file)
        segments, gt_ids = encode_gt_segments(gt_map, ann['segments_info'])
        self._check_segments(segments, gt_ids, name)
        sem = None
        if class_maps is not None:
            # Semantic label of every distinct GT id; ids not in the JSON
            # (and 0) are void.
            seg_cat = {s['id']: s['category_id']
                       for s in ann['segments_info']}
            id_sem = class_maps.sem_lut(
                np.array([seg_cat.get(int(i), -1) for i in gt_ids]))
            gt_sem = id_sem[np.searchsorted(gt_ids, gt_map)]  # (H, W)
            sem_labels, sem_rles, _ = encode_id_map(gt_sem)
            sem = (sem_labels, sem_rles)
        gt = dict(file_name=ann['file_name'], segments=segments, sem=sem)
        if self.cache:
            self._cache[sample['img_id']] = gt
        return gt

    def _check_segments(self, segments: List[dict], gt_ids: np.ndarray,
                        name: str) -> None:
        """Raise, naming the image, unless the GT PNG and its
        ``segments_info`` list the same, unique segments with the same
        areas.

        panopticapi would score such a GT silently (a listed segment absent
        from the PNG as a false negative, unlisted PNG ids as background
        that is not void) and the RLE path would not reproduce that.
        """
        json_ids = np.array([seg['id'] for seg in segments], np.int64)
        ids, counts = np.unique(json_ids, return_counts=True)
        if (counts > 1).any():
            raise PanopticFormatError(
                f'{name}: duplicate GT segment ids '
                f'{ids[counts > 1].tolist()} in {self.ann_file}')
        only_png = np.setdiff1d(gt_ids[gt_ids != 0], json_ids)
        only_json = np.setdiff1d(json_ids, gt_ids)
        mismatches = [
            f'ids {ids.tolist()} are in {where} but not in {other}'
            for ids, where, other in (
                (only_png, 'the PNG', 'segments_info'),
                (only_json, 'segments_info', 'the PNG')) if ids.size
        ]
        if mismatches:
            raise PanopticFormatError(
                f'{name}: GT segment ' + ' and '.join(mismatches) +
                f' (annotation file {self.ann_file})')
        counted = mask_utils.area([seg['segmentation'] for seg in segments])
        wrong = [seg['id'] for seg, area in zip(segments, counted)
                 if seg['area'] != area]
        if wrong:
            raise PanopticFormatError(
                f'{name}: `area` of GT segments {wrong} in {self.ann_file} '
                'differs from their pixel count in the PNG (PQ uses the '
                'JSON area)')

    def _read(self, sample: dict, name: str) -> Tuple[dict, np.ndarray]:
        """The GT annotation of a sample and its (H, W) segment-id map."""
        ann = self._anns.get(sample['img_id'])
        if ann is None:
            raise KeyError(f'{name}: no panoptic annotation for this image '
                           f'in {self.ann_file}')
        if self.seg_prefix is not None:
            path = osp.join(self.seg_prefix, ann['file_name'])
        elif sample.get('seg_map_path'):
            path = sample['seg_map_path']
        else:
            raise ValueError(f'{name}: set seg_prefix or give the sample a '
                             'seg_map_path to locate the GT PNG')
        try:
            content = get(path, backend_args=self.backend_args)
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f'{name}: GT panoptic PNG {path} not found') from error
        bgr = mmcv.imfrombytes(content, flag='color')
        return ann, bgr2id(bgr)
