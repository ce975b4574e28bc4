"""Fusion head of Panoptic FCN: turns the per-image thing and stuff masks
of the head into panoptic, instance and semantic results at the original
image size."""
from typing import List

import torch
from mmdet.evaluation import INSTANCE_OFFSET
from mmdet.models.seg_heads.panoptic_fusion_heads import (
    BasePanopticFusionHead,
)
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData, PixelData

from mmpfcn.evaluation.functional.rle import encode_cropped_mask
from mmpfcn.models.inference_cfg import DEFAULT_TEST_CFG
from mmpfcn.models.layers.mask_resize import (
    masks_to_boxes,
    masks_to_image,
    stuff_argmax_to_image,
    thresholded_masks,
)
from mmpfcn.models.layers.panoptic_merge import (
    GreedyPainter,
    argmax_paint,
    paint_stuff,
    score_order,
)
from mmpfcn.registry import MODELS

MERGE_MODES = ('heuristic', 'argmax')
# the form of pred_instances.masks: mmdet's (n, H, W) bool, COCO RLE dicts
# (what the COCO metrics and the demos' JSON take), or none at all
INSTANCE_MASKS = ('bitmap', 'rle', 'none')


@MODELS.register_module()
class PanopticFCNFusionHead(BasePanopticFusionHead):
    """Resize the masks of every image and merge them into a panoptic map.

    For each image: thing and stuff soft masks are resized to the original
    size; thing masks are thresholded at ``mask_thr``; ``merge_mode``
    (``'heuristic'``, the reference, or ``'argmax'``, the paper's faster
    variant) builds the panoptic map from the things and the per-pixel
    maximum and arg-max of the N_st stuff channels (zeros for stuff not
    kept). The results are those of :func:`heuristic_merge` /
    :func:`argmax_merge` on the full N_st-channel map, computed without
    making it (see :meth:`_predict_single`). No training loss.

    Args:
        num_things_classes (int): N_th. Defaults to 80.
        num_stuff_classes (int): Stuff classes (N_st - 1). Defaults to 53.
        test_cfg (dict, optional): ``mask_thr``, ``merge_mode``,
            ``merge_overlap_thr``, ``merge_thing_thr`` (things scoring
            less are not painted), ``stuff_area_limit``,
            ``instance_masks`` (the form of the instance masks, one of
            ``INSTANCE_MASKS``: ``'bitmap'``, mmdet's (n, H, W) bool, the
            default; ``'rle'``, a list of pycocotools RLE dicts; ``'none'``,
            no masks, only labels, scores and boxes);
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
        super().__init__(
            num_things_classes=num_things_classes,
            num_stuff_classes=num_stuff_classes,
            loss_panoptic=None,
            init_cfg=init_cfg)
        self.test_cfg = ConfigDict(DEFAULT_TEST_CFG)
        self.test_cfg.update(test_cfg or {})
        if self.test_cfg.merge_mode not in MERGE_MODES:
            raise ValueError('PanopticFCNFusionHead: test_cfg.merge_mode '
                             f'must be one of {MERGE_MODES}, got '
                             f'{self.test_cfg.merge_mode!r}')
        if self.test_cfg.instance_masks not in INSTANCE_MASKS:
            raise ValueError('PanopticFCNFusionHead: test_cfg.'
                             f'instance_masks must be one of '
                             f'{INSTANCE_MASKS}, got '
                             f'{self.test_cfg.instance_masks!r}')

    def loss(self, **kwargs) -> dict:
        """The fusion head has no training loss."""
        return dict()

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
            (n, H, W) (a list of n RLE dicts, or none, as
            ``test_cfg.instance_masks`` says), ``labels``, ``scores``,
            ``bboxes`` (n, 4)) and
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

        In the heuristic merge the thing masks are made one at a time at
        the output size, each upsampled only around the pixels that can
        pass ``mask_thr`` (:func:`thresholded_masks`), painted in score
        order and kept only in the form ``instance_masks`` asks for (the
        arg-max merge needs all the probabilities at once); the stuff
        channels are reduced to their per-pixel maximum and arg-max one
        mask at a time (:func:`stuff_argmax_to_image`) instead of filling
        an N_st-channel map. Without full-size bitmaps the memory grows
        with the output pixels by a few full-size maps, not by the number
        of masks. The results are those of the merges on the full
        N_st-channel map (see the class docstring).
        """
        cfg = self.test_cfg
        img_shape = img_meta['img_shape'][:2]
        ori_shape = img_meta['ori_shape'][:2] if rescale else None
        out_shape = tuple(ori_shape or img_shape)
        heuristic = cfg.merge_mode == 'heuristic'
        # the heuristic merge reads the stuff channels as one byte per
        # pixel; the semantic result is made long after it
        stuff_max = stuff_argmax_to_image(
            stuff.masks, stuff.labels, img_shape, ori_shape,
            torch.uint8 if heuristic and self.num_stuff_classes < 255
            else torch.long)
        if heuristic:
            pan_seg, thing_masks, thing_boxes = self._heuristic(
                things, stuff_max, img_shape, ori_shape)
        else:
            # the arg-max merge compares soft probabilities; only the
            # things the merge can paint take part. Below the mask
            # threshold a pixel is void.
            thing_probs = masks_to_image(things.masks, img_shape, ori_shape)
            thing_masks = thing_probs > cfg.mask_thr
            thing_boxes = masks_to_boxes(thing_masks)
            painted = (things.scores >= cfg.merge_thing_thr).nonzero()[:, 0]
            pan_seg = argmax_paint(
                thing_probs[painted],
                things.scores[painted],
                things.labels[painted],
                stuff_max,
                prob_thr=cfg.mask_thr,
                **self._merge_args())
            del thing_probs
            if cfg.instance_masks == 'rle':
                thing_masks = [
                    encode_cropped_mask(mask[y1:y2, x1:x2].numpy(),
                                        (x1, y1), out_shape)
                    for mask, (x1, y1, x2, y2) in zip(
                        thing_masks.cpu(), thing_boxes.tolist())]
            elif cfg.instance_masks == 'none':
                thing_masks = None
        ins_results = InstanceData(
            labels=things.labels,
            scores=things.scores,
            bboxes=thing_boxes.float())
        if thing_masks is not None:
            ins_results.masks = thing_masks
        channel = stuff_max[1]
        del stuff_max  # the probabilities, before the long channel map
        return dict(
            pan_results=PixelData(sem_seg=pan_seg[None]),
            ins_results=ins_results,
            sem_results=PixelData(sem_seg=channel.long()[None]))

    def _merge_args(self) -> dict:
        """The keyword arguments the merges share."""
        cfg = self.test_cfg
        return dict(
            num_things_classes=self.num_things_classes,
            num_classes=self.num_classes,
            thing_score_thr=cfg.merge_thing_thr,
            stuff_area_limit=cfg.stuff_area_limit,
            instance_offset=INSTANCE_OFFSET)

    def _heuristic(self, things: InstanceData, stuff_max, img_shape,
                   ori_shape) -> tuple:
        """The heuristic merge with the thing masks made one at a time
        (the result of :func:`heuristic_merge` on all of them).

        Returns:
            tuple: The panoptic map (H, W) long, the masks in the form of
            ``test_cfg.instance_masks`` (None for ``'none'``) and the
            boxes (n, 4) long.
        """
        cfg = self.test_cfg
        out_shape = tuple(ori_shape or img_shape)
        num, device = len(things), things.scores.device
        order = score_order(things.scores, cfg.merge_thing_thr).tolist()
        painter = GreedyPainter(out_shape, len(order), cfg.merge_overlap_thr,
                                device)
        # the painted things first, in score order, then the others
        ranks = {i: rank for rank, i in enumerate(order)}
        order += [i for i in range(num) if i not in ranks]
        boxes = torch.zeros(num, 4, dtype=torch.long, device=device)
        if cfg.instance_masks == 'bitmap':
            masks = torch.zeros(num, *out_shape, dtype=torch.bool,
                                device=device)
        else:
            masks = [None] * num if cfg.instance_masks == 'rle' else None
        for i, box, crop in thresholded_masks(things.masks, cfg.mask_thr,
                                              img_shape, ori_shape, order):
            boxes[i] = box
            x1, y1, x2, y2 = box.tolist()
            if i in ranks:
                painter.paint(ranks[i], crop, (x1, y1, x2, y2))
            if cfg.instance_masks == 'bitmap':
                masks[i, y1:y2, x1:x2] = crop
            elif cfg.instance_masks == 'rle':
                masks[i] = encode_cropped_mask(crop.cpu().numpy(), (x1, y1),
                                               out_shape)
        args = self._merge_args()
        del args['thing_score_thr']
        painted = torch.tensor(order[:len(ranks)], dtype=torch.long,
                               device=device)
        pan_seg = paint_stuff(painter, things.labels[painted],
                              stuff_max, **args)
        return pan_seg, masks, boxes
