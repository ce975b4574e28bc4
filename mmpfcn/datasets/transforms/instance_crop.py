"""Random crop that keeps at least one thing instance in view."""
from typing import Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.structures.mask import BitmapMasks

from mmpfcn.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomCropWithInstance(BaseTransform):
    """Crop a fixed-size window that shows at least one thing instance.

    The crop recipe of Panoptic FCN's Cityscapes and Mapillary models
    (the reference author's description): a window of ``crop_size`` at a
    uniformly random position; if no non-crowd thing instance has a pixel
    inside it, draw another position, at most ``max_tries`` times in all,
    then keep the last window whatever it shows. An image without thing
    instances is cropped once, at a random position. Windows larger than
    the image shrink to the image along that side.

    Everything spatial is cropped with the same window, so the image and
    its ground truth stay aligned:

    - ``img`` and ``gt_seg_map`` (the panoptic semantic map, later the
      stuff map: place :class:`GenerateStuffMap` after this transform);
    - ``gt_masks`` (:class:`BitmapMasks`, thing and crowd instances alike);
      an instance with no pixel left in the window is dropped together with
      its ``gt_bboxes``, ``gt_bboxes_labels`` and ``gt_ignore_flags`` (the
      flags mark the crowd regions, which ``PackDetInputs`` turns into
      ``ignored_instances``);
    - ``gt_bboxes``: recomputed as the tight box of each cropped mask, so
      that an instance cut by the window edge gets the box (and the level
      assignment by ``sqrt(box area)``) of its visible part.

    Required keys: ``img``; optional ``gt_masks`` (then also
    ``gt_bboxes``, ``gt_bboxes_labels``, ``gt_ignore_flags``),
    ``gt_seg_map``. Modified keys: those, and ``img_shape``. Added keys:
    ``crop_offset`` ((y, x) of the window's top-left corner in the input).

    Args:
        crop_size (tuple[int, int]): (h, w) of the window, e.g. (512, 1024)
            for Cityscapes, (1024, 1024) for Mapillary Vistas.
        max_tries (int): Windows drawn at most before giving up on showing
            an instance. Defaults to 10.
        min_visible_pixels (int): Pixels of an instance that must be in the
            window for it to count as shown. Defaults to 1.
    """

    def __init__(self,
                 crop_size: Tuple[int, int],
                 max_tries: int = 10,
                 min_visible_pixels: int = 1) -> None:
        if (len(crop_size) != 2
                or not all(isinstance(s, int) and s > 0 for s in crop_size)):
            raise ValueError('RandomCropWithInstance: crop_size must be two '
                             f'positive integers (h, w), got {crop_size}')
        if max_tries < 1:
            raise ValueError('RandomCropWithInstance: max_tries must be >= '
                             f'1, got {max_tries}')
        if min_visible_pixels < 1:
            raise ValueError('RandomCropWithInstance: min_visible_pixels '
                             f'must be >= 1, got {min_visible_pixels}')
        self.crop_size = tuple(crop_size)
        self.max_tries = max_tries
        self.min_visible_pixels = min_visible_pixels

    def _choose_window(self, results: dict, height: int,
                       width: int) -> Tuple[int, int, int, int]:
        """Draw windows until one shows an instance; returns (y, x, h, w)."""
        crop_h, crop_w = min(self.crop_size[0], height), min(
            self.crop_size[1], width)
        masks: Optional[BitmapMasks] = results.get('gt_masks')
        candidates = None
        if masks is not None and len(masks):
            ignore = np.asarray(
                results.get('gt_ignore_flags', np.zeros(len(masks), bool)),
                dtype=bool)
            candidates = masks.masks[~ignore]  # (n, H, W), non-crowd
            if not len(candidates):
                candidates = None
        tries = self.max_tries if candidates is not None else 1
        for _ in range(tries):
            y = int(np.random.randint(0, height - crop_h + 1))
            x = int(np.random.randint(0, width - crop_w + 1))
            if candidates is None:
                break
            window = candidates[:, y:y + crop_h, x:x + crop_w]
            visible = np.count_nonzero(
                window.reshape(len(window), crop_h * crop_w), axis=1)  # (n,)
            if (visible >= self.min_visible_pixels).any():
                break
        return y, x, crop_h, crop_w

    def transform(self, results: dict) -> dict:
        """Crop ``results`` in place (see the class docstring).

        Args:
            results (dict): The pipeline's result dict.

        Returns:
            dict: ``results`` with every spatial entry cropped.
        """
        img = results['img']
        height, width = img.shape[:2]
        masks: Optional[BitmapMasks] = results.get('gt_masks')
        if masks is not None and (masks.height, masks.width) != (height,
                                                                  width):
            raise ValueError(
                f'gt_masks of {results.get("img_path", "an image")} are '
                f'{masks.height}x{masks.width} but the image is '
                f'{height}x{width}; crop after the transforms that resize '
                'both')
        y, x, crop_h, crop_w = self._choose_window(results, height, width)

        results['img'] = img[y:y + crop_h, x:x + crop_w]
        results['img_shape'] = results['img'].shape[:2]
        results['crop_offset'] = (y, x)
        if results.get('gt_seg_map') is not None:
            results['gt_seg_map'] = results['gt_seg_map'][y:y + crop_h,
                                                          x:x + crop_w]
        if masks is not None:
            cropped = masks.masks[:, y:y + crop_h, x:x + crop_w]
            keep = cropped.reshape(len(cropped), crop_h * crop_w).any(
                axis=1)  # (n,)
            results['gt_masks'] = BitmapMasks(
                np.ascontiguousarray(cropped[keep]), crop_h, crop_w)
            for key in ('gt_bboxes_labels', 'gt_ignore_flags'):
                if key in results:
                    results[key] = results[key][keep]
            if 'gt_bboxes' in results:
                results['gt_bboxes'] = results['gt_masks'].get_bboxes(
                    type(results['gt_bboxes']))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop_size={self.crop_size}, '
                f'max_tries={self.max_tries}, '
                f'min_visible_pixels={self.min_visible_pixels})')
