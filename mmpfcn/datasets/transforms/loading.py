"""Loading of COCO-panoptic PNGs, checked against ``segments_info``."""
import mmcv
import numpy as np
from mmdet.datasets.transforms import LoadPanopticAnnotations
from mmdet.structures.mask import BitmapMasks
from mmengine.fileio import get

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
      like boxes and labels.
    - ``gt_seg_map``: (H, W) uint8, things ``0..T-1`` (crowd pixels carry
      their thing label), stuff ``T..T+S-1``, 255 unlabeled (void).

    Raises (message names the PNG and the image):

    - ``FileNotFoundError``: the PNG does not exist.
    - ``ValueError``: the PNG cannot be decoded; its size differs from the
      image's; a listed segment has no pixel in it; it holds non-zero ids
      that ``segments_info`` does not list.

    Args: as :class:`~mmdet.datasets.transforms.LoadPanopticAnnotations`.
    """

    def _load_masks_and_semantic_segs(self, results: dict) -> None:
        """Read the PNG, check it, and add ``gt_masks`` / ``gt_seg_map``.

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
        png = png[..., ::-1]  # BGR -> RGB
        height, width = results.get(
            'ori_shape', (results['height'], results['width']))
        if png.shape[:2] != (height, width):
            raise ValueError(f'{where} is {png.shape[1]}x{png.shape[0]} '
                             f'(WxH) but the image is {width}x{height}')

        # one sort of the id map gives every check, mask and label at once
        present, inverse = np.unique(
            self.rgb2id(png).ravel(), return_inverse=True)
        inverse = inverse.reshape(height, width)
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

        if self.with_seg:
            # void (id 0) and anything unlisted stays 255
            lut = np.full(len(present), 255, dtype=np.uint8)
            lut[np.searchsorted(present, seg_ids)] = [
                seg['category'] for seg in segments
            ]
            results['gt_seg_map'] = lut[inverse]
        if self.with_mask:
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
