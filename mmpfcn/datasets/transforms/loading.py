"""Loading of COCO-panoptic PNGs, checked against ``segments_info``."""
from typing import Optional

import mmcv
import numpy as np
from mmdet.datasets.transforms import LoadPanopticAnnotations
from mmdet.structures.mask import BitmapMasks
from mmengine.fileio import get

from mmpfcn.evaluation.functional.panoptic_io import bgr2id
from mmpfcn.evaluation.functional.rle import distinct_values, encode_id_map
from mmpfcn.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadPanopticFCNAnnotations(LoadPanopticAnnotations):
    """Load boxes, labels, instance masks and the semantic map of a panoptic
    image, checking the PNG against the JSON.

    Registered under its own name so that mmdet's ``LoadPanopticAnnotations``
    stays reachable; it expects the entries of
    :class:`~mmpfcn.datasets.PanopticFCNCocoDataset` (each instance carries
    its ``segment_id``).

    Outputs follow mmdet's convention:

    - ``gt_masks``: :class:`BitmapMasks` (N, H, W), one per entry of
      ``instances`` and in the same order -- crowd instances included, so
      that ``PackDetInputs`` can split masks with ``gt_ignore_flags`` exactly
      like boxes and labels. An instance's pixels are those of its
      ``segment_id`` in the PNG or, for instances of an instances file
      (``PanopticFCNCocoDataset(instances_file=...)``), its decoded
      ``mask`` polygons / RLE.
    - ``gt_seg_map``: (H, W) uint8, things ``0..T-1`` (crowd pixels carry
      their thing label), stuff ``T..T+S-1``, 255 unlabeled (void).
    - ``gt_panoptic_rle`` (with ``with_eval_rle``): the PNG at its own
      size as ``{'ids': (K,), 'rles': K pycocotools RLEs, 'areas': (K,)}``
      (:func:`~mmpfcn.evaluation.functional.rle.encode_id_map`), for
      the panoptic metrics (:class:`~mmpfcn.evaluation.PanopticQualityMetric`
      and the others of :mod:`mmpfcn.evaluation.metrics`). Listed in
      ``PackDetInputs``' ``meta_keys`` it reaches them, which then decode
      no PNG themselves: the test pipeline's workers do it once for both,
      in parallel with the model.

    Raises (message names the PNG and the image):

    - ``FileNotFoundError``: the PNG does not exist.
    - ``ValueError``: the PNG cannot be decoded; its size differs from the
      image's; a listed segment has no pixel in it; it holds non-zero ids
      that ``segments_info`` does not list.

    Args:
        with_eval_rle (bool): Add ``gt_panoptic_rle``. Defaults to False.
        **kwargs: As :class:`~mmdet.datasets.transforms.
            LoadPanopticAnnotations` (``with_bbox``, ``with_label``,
            ``with_mask``, ``with_seg``, ``imdecode_backend``,
            ``backend_args``).
    """

    def __init__(self, with_eval_rle: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.with_eval_rle = with_eval_rle

    def transform(self, results: dict) -> Optional[dict]:
        """Load the annotations asked for (see the class docstring)."""
        super().transform(results)
        if self.with_eval_rle and not (self.with_mask or self.with_seg):
            self._load_masks_and_semantic_segs(results)
        return results

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] +
                f', with_eval_rle={self.with_eval_rle})')

    def _load_masks_and_semantic_segs(self, results: dict) -> None:
        """Read the PNG, check it, and add ``gt_masks`` / ``gt_seg_map`` /
        ``gt_panoptic_rle``.

        Args:
            results (dict): needs ``seg_map_path`` (None: nothing to load),
                ``segments_info``, ``instances`` and ``ori_shape`` (or
                ``height``/``width``).
        """
        path = results.get('seg_map_path')
        if path is None:
            return
        where = f'panoptic PNG {path} (image {results.get("img_path")})'
        try:
            png_bytes = get(path, backend_args=self.backend_args)
        except FileNotFoundError:
            raise FileNotFoundError(f'{where} does not exist') from None
        # decode in the backend's own channel order: asking for RGB would
        # make cv2 convert colours before we could see a failed decode
        try:
            png = mmcv.imfrombytes(
                png_bytes, flag='color', channel_order='bgr',
                backend=self.imdecode_backend)
        except Exception:  # each backend fails its own way on bad bytes
            png = None
        if png is None or png.ndim != 3:
            raise ValueError(f'{where} cannot be decoded: the file is '
                             'corrupt or not an image')
        if 'ori_shape' in results:
            height, width = results['ori_shape'][:2]
        else:
            height, width = results['height'], results['width']
        if png.shape[:2] != (height, width):
            raise ValueError(f'{where} is {png.shape[1]}x{png.shape[0]} '
                             f'(WxH) but the image is {width}x{height}')

        id_map = bgr2id(png)  # (H, W) uint32
        if self.with_eval_rle:
            present, rles, areas = encode_id_map(id_map)
            results['gt_panoptic_rle'] = dict(ids=present, rles=rles,
                                              areas=areas)
        else:
            present = distinct_values(id_map)
        segments = results['segments_info']
        seg_ids = np.array([seg['id'] for seg in segments], dtype=np.int64)
        absent = np.setdiff1d(seg_ids, present)
        if absent.size:
            raise ValueError(
                f'{where}: segments {absent.tolist()} of segments_info have '
                'no pixel in the PNG (zero-area or mismatched ids)')
        unlisted = np.setdiff1d(present[present != 0], seg_ids)
        if unlisted.size:
            raise ValueError(
                f'{where}: ids {unlisted.tolist()} occur in the PNG but are '
                'not listed in segments_info')

        if not (self.with_seg or self.with_mask):
            return
        # position of each pixel's id in `present`: (H, W)
        inverse = np.searchsorted(present, id_map)
        if self.with_seg:
            # void (id 0) and anything unlisted stays 255
            lut = np.full(len(present), 255, dtype=np.uint8)
            lut[np.searchsorted(present, seg_ids)] = [
                seg['category'] for seg in segments
            ]
            results['gt_seg_map'] = lut[inverse]
        if self.with_mask and all('mask' in inst
                                  for inst in results['instances']):
            results['gt_masks'] = BitmapMasks(
                [self._poly2mask(inst['mask'], height, width)
                 for inst in results['instances']], height, width)
        elif self.with_mask:
            try:
                inst_ids = np.array(
                    [inst['segment_id'] for inst in results['instances']],
                    dtype=np.int64)
            except KeyError:
                raise KeyError(
                    f'instances of image {results.get("img_path")} lack '
                    '"segment_id"; build the dataset with '
                    'PanopticFCNCocoDataset') from None
            slots = np.searchsorted(present, inst_ids)  # (N,)
            masks = inverse[None] == slots[:, None, None]  # (N, H, W)
            results['gt_masks'] = BitmapMasks(
                masks.astype(np.uint8), height, width)
