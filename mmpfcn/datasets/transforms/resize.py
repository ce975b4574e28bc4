"""Resize of an image with its instance masks and semantic map as
detectron2 resizes them (the reference's input pipeline)."""
from typing import Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmdet.datasets.transforms import Resize
from mmdet.structures.mask import BitmapMasks
from PIL import Image

from mmpfcn.registry import TRANSFORMS

BACKENDS = ('pillow', 'cv2')


def shortest_edge_size(height: int, width: int, short_edge: int,
                       max_long_edge: int) -> Tuple[int, int]:
    """Output size of detectron2's ``ResizeShortestEdge``.

    The short side becomes ``short_edge`` unless the long side would then
    exceed ``max_long_edge``, in which case the long side becomes
    ``max_long_edge``; each side is rounded half up. mmcv's
    ``rescale_size`` states the same rule but multiplies in another order,
    so the two can round a side differently when it lands near x.5 (e.g.
    100 x 400 at 512 / 854: detectron2 214 x 854, mmcv 213 x 854).

    Args:
        height (int): Input height.
        width (int): Input width.
        short_edge (int): Target short side.
        max_long_edge (int): Bound of the long side.

    Returns:
        tuple[int, int]: (new_height, new_width).
    """
    scale = short_edge / min(height, width)
    if height < width:
        new_h, new_w = float(short_edge), scale * width
    else:
        new_h, new_w = scale * height, float(short_edge)
    if max(new_h, new_w) > max_long_edge:
        scale = max_long_edge / max(new_h, new_w)
        new_h, new_w = new_h * scale, new_w * scale
    return int(new_h + 0.5), int(new_w + 0.5)


def nearest_indices(src_len: int, dst_len: int, backend: str) -> np.ndarray:
    """Source index of every output position of a nearest-neighbour resize.

    Nearest-neighbour resizing is separable, so resizing the row (column)
    indices ``0..src_len-1`` with the backend gives the source row (column)
    of each output row (column), bit-exact with what the backend does to
    any image: PIL samples at pixel centres, floor((i + 0.5) src / dst);
    cv2 at pixel corners, floor(i src / dst).

    Args:
        src_len (int): Input length along the axis.
        dst_len (int): Output length along the axis.
        backend (str): ``'pillow'`` or ``'cv2'``.

    Returns:
        np.ndarray: (dst_len,) int source indices.
    """
    index = np.arange(src_len, dtype=np.int32)[None]  # (1, src_len)
    if backend == 'pillow':
        out = np.asarray(
            Image.fromarray(index).resize((dst_len, 1), Image.NEAREST))
    else:
        out = mmcv.imresize(
            index, (dst_len, 1), interpolation='nearest', backend='cv2')
    return out[0].astype(np.intp)


@TRANSFORMS.register_module()
class PanopticResize(Resize):
    """mmdet's ``Resize`` with detectron2's output size and one backend for
    the image, the instance masks and the semantic map.

    With ``backend='pillow'`` (the default) this is the reference's
    ``ResizeShortestEdge``: PIL bilinear for the image and PIL nearest for
    ``gt_masks`` and ``gt_seg_map``. With ``backend='cv2'`` everything is
    resized with OpenCV instead (faster). Enlarged, the image then differs
    from PIL's by one grey level in ~22% of the values; shrunk (e.g. COCO
    images for the 400 model) by many levels (25 at 427 -> 400 px on a
    COCO image), as PIL averages over the whole footprint and cv2
    interpolates 2x2 pixels.
    Masks shift at sub-pixel boundaries. mmdet's ``Resize`` resizes masks
    with cv2
    whatever its ``backend``, and computes the kept-ratio size with
    mmcv's ``rescale_size``; this transform uses :func:`shortest_edge_size`
    when ``keep_ratio``, so image, masks and map share one size.

    Masks and map are resized by indexing with :func:`nearest_indices`
    (one gather for all masks). Bitmap masks only; polygon masks are
    scaled as mmdet does.

    Use it directly (test pipelines) or as the ``resize_type`` of mmcv's
    ``RandomChoiceResize`` (training).

    Required keys: ``img``; optional ``gt_bboxes``, ``gt_masks``,
    ``gt_seg_map``. Modified keys: those. Added keys: ``img_shape``,
    ``scale``, ``scale_factor``, ``keep_ratio``, ``homography_matrix``.

    Args:
        scale (int or tuple[int, int], optional): (long, short) bounds when
            ``keep_ratio``, else the output (w, h). Defaults to None.
        scale_factor (float or tuple[float, float], optional): Used when
            ``scale`` is None. Defaults to None.
        keep_ratio (bool): Keep the aspect ratio. Defaults to False.
        clip_object_border (bool): Clip boxes to the image. Defaults to
            True.
        backend (str): ``'pillow'`` (detectron2) or ``'cv2'``. Defaults to
            ``'pillow'``.
        interpolation (str): Image interpolation. Defaults to
            ``'bilinear'``.
    """

    def __init__(self,
                 scale: Optional[Union[int, Tuple[int, int]]] = None,
                 scale_factor: Optional[Union[float, Tuple[float,
                                                           float]]] = None,
                 keep_ratio: bool = False,
                 clip_object_border: bool = True,
                 backend: str = 'pillow',
                 interpolation: str = 'bilinear') -> None:
        if backend not in BACKENDS:
            raise ValueError(f'PanopticResize: backend must be one of '
                             f'{BACKENDS}, got {backend!r}')
        super().__init__(
            scale=scale,
            scale_factor=scale_factor,
            keep_ratio=keep_ratio,
            clip_object_border=clip_object_border,
            backend=backend,
            interpolation=interpolation)

    def _output_size(self, results: dict) -> Tuple[int, int]:
        """(new_h, new_w) of the image in ``results``."""
        height, width = results['img'].shape[:2]
        bounds: Sequence[int] = results['scale']
        if self.keep_ratio:
            return shortest_edge_size(height, width, min(bounds),
                                      max(bounds))
        return int(bounds[1]), int(bounds[0])

    def _resize_img(self, results: dict) -> None:
        """Resize ``img`` to :meth:`_output_size`, set ``img_shape`` and
        ``scale_factor`` (new / old, per axis)."""
        if results.get('img') is None:
            return
        img = results['img']
        if self.backend == 'pillow' and img.dtype != np.uint8:
            raise ValueError(
                f'PanopticResize(backend="pillow") resizes uint8 images as '
                f'detectron2 does; image {results.get("img_path")} is '
                f'{img.dtype} (load it without to_float32, or use '
                'backend="cv2")')
        height, width = img.shape[:2]
        new_h, new_w = self._output_size(results)
        results['img'] = mmcv.imresize(
            img, (new_w, new_h),
            interpolation=self.interpolation,
            backend=self.backend)
        results['img_shape'] = (new_h, new_w)
        results['scale_factor'] = (new_w / width, new_h / height)
        results['keep_ratio'] = self.keep_ratio

    def _nearest(self, array: np.ndarray, size: Tuple[int,
                                                      int]) -> np.ndarray:
        """Nearest-neighbour resize of the last two axes to ``size``
        (h, w)."""
        new_h, new_w = size
        rows = nearest_indices(array.shape[-2], new_h, self.backend)
        cols = nearest_indices(array.shape[-1], new_w, self.backend)
        # gathering rows copies whole rows (cheap), gathering columns is
        # per element: do the columns on the array with fewer rows
        if new_h > array.shape[-2]:
            return array.take(cols, axis=-1).take(rows, axis=-2)
        return array.take(rows, axis=-2).take(cols, axis=-1)

    def _resize_masks(self, results: dict) -> None:
        """Resize ``gt_masks`` like the image (bitmaps: the backend's
        nearest neighbour)."""
        masks = results.get('gt_masks')
        if masks is None:
            return
        new_h, new_w = results['img_shape']
        if isinstance(masks, BitmapMasks):
            results['gt_masks'] = BitmapMasks(
                self._nearest(masks.masks, (new_h, new_w)), new_h, new_w)
        else:
            results['gt_masks'] = masks.resize((new_h, new_w))

    def _resize_seg(self, results: dict) -> None:
        """Resize ``gt_seg_map`` with the backend's nearest neighbour."""
        if results.get('gt_seg_map') is not None:
            results['gt_seg_map'] = self._nearest(results['gt_seg_map'],
                                                  results['img_shape'])

    def transform(self, results: dict) -> dict:
        """Resize image, boxes, masks and semantic map (see the class
        docstring)."""
        if results.get('img') is None:
            raise KeyError(f'PanopticResize needs results["img"] (image '
                           f'{results.get("img_path")})')
        return super().transform(results)
