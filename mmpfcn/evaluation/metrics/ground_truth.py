"""The COCO panoptic ground truth of a split, served per image as RLE.

Decoding a panoptic PNG costs more than everything else the runner metric
does for an image. The test pipeline's loader already decodes it in the
dataloader workers: with ``with_eval_rle=True`` it also hands over the
PNG's RLEs (:data:`GT_RLE_KEY` in the sample's metainfo), which are used
as they come. Otherwise the metric decodes the PNG once and, with
``cache=True``, keeps its RLE segments for the later validations of a
training run. Either way the annotation file stays the authority on the
segments' categories, crowd flags and areas.
"""
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Tuple

import mmcv
import numpy as np
from mmengine.fileio import get, load

from ..functional.panoptic_checks import PanopticFormatError
from ..functional.panoptic_io import bgr2id
from ..functional.rle import encode_id_map
from .segments import gt_segments

#: Metainfo key of a data sample's GT PNG as RLE, as
#: ``LoadPanopticFCNAnnotations(with_eval_rle=True)`` writes it: a dict of
#: ``ids`` (K,) (ascending, 0 = void), ``rles`` (K pycocotools RLEs) and
#: ``areas`` (K,), i.e. :func:`encode_id_map` of the PNG's id map.
GT_RLE_KEY = 'gt_panoptic_rle'


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

    def image_info(self, sample: dict) -> Tuple[dict, str]:
        """The annotation-file entry of a sample and its name for errors."""
        name = (f"image {sample['img_id']} "
                f"({sample.get('img_path', 'no img_path')})")
        info = self.images.get(sample['img_id'])
        if info is None:
            raise KeyError(f'{name}: no image with this id in '
                           f'{self.ann_file}')
        return info, name

    def rle(self, sample: dict, info: dict, name: str) -> dict:
        """The GT of a sample's image as RLE.

        Args:
            sample (dict): The data sample (``img_id``, and
                :data:`GT_RLE_KEY` or ``seg_map_path``).
            info (dict): Its entry in the annotation file.
            name (str): The image, as named in errors.

        Returns:
            dict: ``file_name``; ``segments`` (``id``, ``category_id``,
            ``iscrowd``, ``area``, ``segmentation``); ``ids`` (K,) and
            ``rles`` (K RLEs tiling the image): every distinct id of the
            PNG (0 and ids that ``segments`` lacks are void).
        """
        cached = self._cache.get(sample['img_id'])
        if cached is not None:
            return cached
        ann = self._annotation(sample, name)
        encoded = sample.get(GT_RLE_KEY)
        if encoded is None:
            gt_map = self._read(sample, ann, name)
            check_size(gt_map.shape, info, name, 'the GT PNG', self.ann_file)
            encoded = encode_id_map(gt_map)
        else:
            encoded = self._unpack(encoded, info, name)
        ids, rles, _ = encoded
        self._check_segments(ann['segments_info'], encoded, name)
        gt = dict(file_name=ann['file_name'],
                  segments=gt_segments(encoded, ann['segments_info']),
                  ids=ids, rles=rles)
        if self.cache and GT_RLE_KEY not in sample:
            self._cache[sample['img_id']] = gt
        return gt

    def _unpack(self, encoded: dict, info: dict,
                name: str) -> Tuple[np.ndarray, List[dict], np.ndarray]:
        """Check the pipeline's :data:`GT_RLE_KEY` of an image and return
        its (ids, rles, areas)."""
        try:
            ids = np.asarray(encoded['ids'], dtype=np.int64)
            rles, areas = encoded['rles'], np.asarray(encoded['areas'])
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f'{name}: {GT_RLE_KEY} must be a dict of ids, rles and areas '
                '(LoadPanopticFCNAnnotations(with_eval_rle=True)), got '
                f'{type(encoded).__name__}') from None
        if not len(rles) == ids.size == areas.size or (
                ids.size and (np.diff(ids) <= 0).any()):
            raise ValueError(
                f'{name}: {GT_RLE_KEY} needs ascending unique ids with one '
                f'RLE and area each, got {ids.size} ids, {len(rles)} RLEs '
                f'and {areas.size} areas')
        for rle in rles:
            check_size(rle['size'], info, name, f'{GT_RLE_KEY} (the GT PNG)',
                       self.ann_file)
        return ids, rles, areas

    def _check_segments(self, segments_info: List[dict],
                        encoded: Tuple[np.ndarray, List[dict], np.ndarray],
                        name: str) -> None:
        """Raise, naming the image, unless the GT PNG (``encoded``: its
        ids, RLEs and areas) and its ``segments_info`` list the same,
        unique segments with the same areas.

        panopticapi would score such a GT silently (a listed segment absent
        from the PNG as a false negative, unlisted PNG ids as background
        that is not void) and the RLE path would not reproduce that.
        """
        # ~30 segments an image: Python sets beat numpy's set routines
        counted = dict(zip(encoded[0].tolist(), encoded[2].tolist()))
        json_ids = [seg['id'] for seg in segments_info]
        if len(set(json_ids)) != len(json_ids):
            repeated = sorted(i for i, n in Counter(json_ids).items()
                              if n > 1)
            raise PanopticFormatError(
                f'{name}: duplicate GT segment ids {repeated} in '
                f'{self.ann_file}')
        mismatches = [
            f'ids {ids} are in {where} but not in {other}'
            for ids, where, other in (
                (sorted(counted.keys() - set(json_ids) - {0}), 'the PNG',
                 'segments_info'),
                (sorted(set(json_ids) - counted.keys()), 'segments_info',
                 'the PNG')) if ids
        ]
        if mismatches:
            raise PanopticFormatError(
                f'{name}: GT segment ' + ' and '.join(mismatches) +
                f' (annotation file {self.ann_file})')
        wrong = [seg['id'] for seg in segments_info
                 if seg.get('area', counted[seg['id']]) != counted[seg['id']]]
        if wrong:
            raise PanopticFormatError(
                f'{name}: `area` of GT segments {wrong} in {self.ann_file} '
                'differs from their pixel count in the PNG (PQ uses the '
                'JSON area)')

    def _annotation(self, sample: dict, name: str) -> dict:
        """The image's annotation in the annotation file."""
        ann = self._anns.get(sample['img_id'])
        if ann is None:
            raise KeyError(f'{name}: no panoptic annotation for this image '
                           f'in {self.ann_file}')
        return ann

    def _read(self, sample: dict, ann: dict, name: str) -> np.ndarray:
        """The (H, W) segment-id map of the image's GT PNG."""
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
        return bgr2id(mmcv.imfrombytes(content, flag='color'))
