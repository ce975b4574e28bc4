"""Fusion head of Panoptic FCN: turns the per-image thing and stuff masks
of the head into panoptic, instance and semantic results at the original
image size."""
from typing import List

from mmdet.evaluation import INSTANCE_OFFSET
from mmengine.config import ConfigDict
from mmengine.model import BaseModule
from mmengine.structures import InstanceData, PixelData

from mmpfcn.models.inference_cfg import DEFAULT_TEST_CFG
from mmpfcn.models.layers.mask_resize import (
    binary_masks_to_image,
    masks_to_boxes,
    masks_to_image,
    stuff_argmax_to_image,
)
from mmpfcn.models.layers.panoptic_merge import argmax_merge, heuristic_merge
from mmpfcn.registry import MODELS

MERGE_MODES = ('heuristic', 'argmax')


@MODELS.register_module()
class PanopticFCNFusionHead(BaseModule):
    """Resize the masks of every image and merge them into a panoptic map.

    For each image: thing and stuff soft masks are resized to the original
    size; thing masks are thresholded at ``mask_thr``; the stuff
    probabilities fill an N_st-channel semantic map (zeros for stuff not
    kept); ``merge_mode`` (``'heuristic'``, the reference, or ``'argmax'``, the
    paper's faster variant) builds the panoptic map.

    Args:
        num_things_classes (int): N_th. Defaults to 80.
        num_stuff_classes (int): Stuff classes (N_st - 1). Defaults to 53.
        test_cfg (dict, optional): ``mask_thr``, ``merge_mode``,
            ``merge_overlap_thr``, ``merge_thing_thr`` (things scoring
            less are not painted), ``stuff_area_limit``;
            missing keys take the reference values of
            :data:`~mmpfcn.models.inference_cfg.DEFAULT_TEST_CFG`. Other
            keys (the head's settings, when the detector passes one shared
            test_cfg) are ignored.
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    def __init__(self,
                 num_things_classes: int = 80,
                 num_stuff_classes: int = 53,
                 test_cfg: dict = None,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.num_classes = num_things_classes + num_stuff_classes
        self.test_cfg = ConfigDict(DEFAULT_TEST_CFG)
        self.test_cfg.update(test_cfg or {})
        if self.test_cfg.merge_mode not in MERGE_MODES:
            raise ValueError('PanopticFCNFusionHead: test_cfg.merge_mode '
                             f'must be one of {MERGE_MODES}, got '
                             f'{self.test_cfg.merge_mode!r}')

    def predict(self,
                thing_results: List[InstanceData],
                stuff_results: List[InstanceData],
                batch_img_metas: List[dict],
                rescale: bool = True) -> List[dict]:
        """Build the results of every image.

        Args:
            thing_results (list[InstanceData]): Per image ``masks`` soft
                (n, H/4, W/4), ``scores`` (n,), ``labels`` (n,), sorted by
                score (see :meth:`PanopticFCNHead.predict`).
            stuff_results (list[InstanceData]): Per image ``masks`` soft
                (u, H/4, W/4), ``scores`` and ``labels`` (stuff channels).
            batch_img_metas (list[dict]): With ``img_shape`` and
                ``ori_shape``.
            rescale (bool): Results at ``ori_shape`` (True) or at the
                resized ``img_shape``. Defaults to True.

        Returns:
            list[dict]: Per image ``pan_results`` (PixelData ``sem_seg``
            (1, H, W) long, ``label + instance_id * INSTANCE_OFFSET``, void
            = num_classes), ``ins_results`` (InstanceData ``masks`` bool
            (n, H, W), ``labels``, ``scores``, ``bboxes`` (n, 4)) and
            ``sem_results`` (PixelData ``sem_seg`` (1, H, W), argmax over
            the N_st channels, 0 = things).
        """
        return [
            self._predict_single(things, stuff, meta, rescale)
            for things, stuff, meta in zip(thing_results, stuff_results,
                                           batch_img_metas)
        ]

    def _predict_single(self, things: InstanceData, stuff: InstanceData,
                        img_meta: dict, rescale: bool) -> dict:
        """Results of one image; see :meth:`predict`.

        In the heuristic merge no full-size float copy of all masks is
        made: each thing mask is upsampled only around the pixels that can
        pass ``mask_thr`` (:func:`binary_masks_to_image`; the arg-max merge
        needs the probabilities) and the merge works in the masks' boxes;
        the stuff channels are reduced to their per-pixel maximum and
        arg-max one mask at a time (:func:`stuff_argmax_to_image`) instead
        of filling an N_st-channel map. The results are those of the
        straightforward computation.
        """
        cfg = self.test_cfg
        img_shape = img_meta['img_shape'][:2]
        ori_shape = img_meta['ori_shape'][:2] if rescale else None
        if cfg.merge_mode == 'heuristic':
            thing_masks, thing_boxes = binary_masks_to_image(
                things.masks, cfg.mask_thr, img_shape, ori_shape)
        else:
            # the arg-max merge compares soft probabilities
            thing_probs = masks_to_image(things.masks, img_shape, ori_shape)
            thing_masks = thing_probs > cfg.mask_thr
            thing_boxes = masks_to_boxes(thing_masks)
        stuff_max = stuff_argmax_to_image(stuff.masks, stuff.labels,
                                          img_shape, ori_shape)

        merge_args = dict(
            num_things_classes=self.num_things_classes,
            num_classes=self.num_classes,
            thing_score_thr=cfg.merge_thing_thr,
            stuff_area_limit=cfg.stuff_area_limit,
            instance_offset=INSTANCE_OFFSET,
            stuff_max=stuff_max)
        if cfg.merge_mode == 'heuristic':
            pan_seg = heuristic_merge(
                thing_masks,
                things.scores,
                things.labels,
                None,
                overlap_thr=cfg.merge_overlap_thr,
                thing_boxes=thing_boxes,
                **merge_args)
        else:
            # soft thing probabilities against the stuff probabilities;
            # below the mask threshold a pixel is void. Only the things the
            # merge can paint take part.
            painted = (things.scores >= cfg.merge_thing_thr).nonzero()[:, 0]
            pan_seg = argmax_merge(
                thing_probs[painted],
                things.scores[painted],
                things.labels[painted],
                None,
                prob_thr=cfg.mask_thr,
                **merge_args)
        ins_results = InstanceData(
            masks=thing_masks,
            labels=things.labels,
            scores=things.scores,
            bboxes=thing_boxes.float())
        return dict(
            pan_results=PixelData(sem_seg=pan_seg[None]),
            ins_results=ins_results,
            sem_results=PixelData(sem_seg=stuff_max[1][None]))
