"""Panoptic FCN's stuff map: one "things" channel followed by the stuff."""
import numpy as np
from mmcv.transforms import BaseTransform

from mmpfcn.registry import TRANSFORMS


@TRANSFORMS.register_module()
class GenerateStuffMap(BaseTransform):
    """Turn mmdet's panoptic semantic map into Panoptic FCN's stuff map.

    Panoptic FCN predicts ``1 + S`` stuff channels, channel 0 standing for
    all things merged. This transform relabels ``results['gt_seg_map']``:

    ============================  ==========================
    mmdet (``LoadPanoptic...``)   stuff map (this transform)
    ============================  ==========================
    thing ``0..T-1`` (and crowd)  ``0``
    stuff ``T..T+S-1``            ``1..S`` (same order)
    ``255`` unlabeled (void)      ``ignore_index``
    ============================  ==========================

    Crowd regions count as things: mmdet's loaders write their thing label
    into the semantic map, while the crowd instances themselves sit in
    ``ignored_instances`` and give no thing targets.

    Place it after the geometric transforms (which resize the map with
    nearest-neighbour interpolation and flip it) and before
    ``PackDetInputs``, which then stores the (1, H, W) stuff map as
    ``data_sample.gt_sem_seg.sem_seg`` and ``ignore_index`` in its metainfo.

    Required keys: ``gt_seg_map`` (H, W) integer array (absent: no-op, e.g.
    at inference without ground truth). Modified keys: ``gt_seg_map``
    (uint8). Added keys: ``ignore_index``.

    Args:
        num_things_classes (int): T, number of thing classes.
        num_stuff_classes (int): S, number of stuff classes.
        ignore_index (int): value of void pixels in the stuff map.
            Defaults to 255.

    Raises:
        ValueError: a label of the map is neither a class (``< T + S``) nor
            255, e.g. a map loaded with a different class list.
    """

    def __init__(self,
                 num_things_classes: int,
                 num_stuff_classes: int,
                 ignore_index: int = 255) -> None:
        if num_things_classes < 0 or num_stuff_classes < 0:
            raise ValueError('GenerateStuffMap: class counts must be >= 0, '
                             f'got {num_things_classes} things and '
                             f'{num_stuff_classes} stuff')
        if num_things_classes + num_stuff_classes > 255:
            raise ValueError(
                'GenerateStuffMap: at most 255 classes fit the uint8 map '
                f'(255 = void), got {num_things_classes} + '
                f'{num_stuff_classes}')
        if not 1 + num_stuff_classes <= ignore_index <= 255:
            raise ValueError(
                f'GenerateStuffMap: ignore_index must lie in '
                f'[{1 + num_stuff_classes}, 255] so it differs from the '
                f'stuff labels, got {ignore_index}')
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.ignore_index = ignore_index
        num_classes = num_things_classes + num_stuff_classes
        # one table for the whole map; entries of non-labels are marked -1
        lut = np.full(256, -1, dtype=np.int16)
        lut[:num_things_classes] = 0
        lut[num_things_classes:num_classes] = np.arange(
            1, num_stuff_classes + 1)
        lut[255] = ignore_index
        self._lut = lut

    def transform(self, results: dict) -> dict:
        """Relabel ``results['gt_seg_map']`` in place of the dict.

        Args:
            results (dict): the pipeline's result dict.

        Returns:
            dict: ``results`` with the stuff map and ``ignore_index``.
        """
        seg = results.get('gt_seg_map')
        if seg is None:
            return results
        where = f'gt_seg_map of {results.get("img_path", "an image")}'
        if not np.issubdtype(seg.dtype, np.integer):
            raise ValueError(f'{where} has dtype {seg.dtype}; expected '
                             'integer labels')
        out_of_table = (seg < 0) | (seg > 255)
        stuff = self._lut[np.where(out_of_table, 0, seg)]
        bad = out_of_table | (stuff < 0)
        if bad.any():
            labels = np.unique(seg[bad]).tolist()
            raise ValueError(
                f'{where} holds labels {labels}, which are neither classes '
                f'(< {self.num_things_classes + self.num_stuff_classes}) '
                'nor 255 (void)')
        results['gt_seg_map'] = stuff.astype(np.uint8)
        results['ignore_index'] = self.ignore_index
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'num_things_classes={self.num_things_classes}, '
                f'num_stuff_classes={self.num_stuff_classes}, '
                f'ignore_index={self.ignore_index})')
