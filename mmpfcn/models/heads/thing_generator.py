"""Thing generator of Panoptic FCN (paper Sec. 3.3-3.4): gathers the
kernels of object centres, embeds them, fuses duplicates and predicts one
mask per thing."""
from typing import List, Sequence, Tuple

import torch
from mmdet.models.layers import mask_matrix_nms
from mmengine.structures import InstanceData
from torch import Tensor

from mmpfcn.models.layers.kernel_embedding import (
    KernelEmbedding,
    concat_levels,
)
from mmpfcn.models.layers.kernel_fusion import kernel_fusion
from mmpfcn.models.layers.kernel_gathering import topk_positive_kernels
from mmpfcn.models.task_modules.image_targets import ImageTargets
from mmpfcn.models.task_modules.kernel_selection import select_thing_peaks
from mmpfcn.registry import MODELS

DICE_WEIGHTINGS = ('score', 'uniform', 'center')

@MODELS.register_module()
class ThingGenerator(KernelEmbedding):
    """Thing kernels -> embedded kernels -> masks.

    Training: for every (instance, level) target, the k positions of the
    candidate region with the highest predicted heat at the GT class give
    k kernels whose dice losses are weighted by that (not detached) heat
    (``dice_weighting='score'``, the paper's weighted dice); ``'uniform'``
    takes the same k kernels with equal weights; ``'center'`` takes the
    single kernel at the heatmap centre with weight 1 (the paper's
    unweighted baseline).

    Inference: kernels at the heatmap peaks of every level (or, for the
    upper bound of Table 10, at given positions), embedded,
    fused (:func:`kernel_fusion`), turned into soft masks and rescored by
    their maskness; optionally Matrix NMS on the masks.

    Args:
        in_channels (int): Channels of the kernel maps. Defaults to 256.
        embed_channels (int): C_e. Defaults to 64.
        pos_num (int): k, kernels per (instance, level) target.
            Defaults to 7.
        dice_weighting (str): ``'score'``, ``'uniform'`` or ``'center'``
            (``pos_num`` is then 1). Defaults to ``'score'``.
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int = 256,
                 embed_channels: int = 64,
                 pos_num: int = 7,
                 dice_weighting: str = 'score',
                 init_cfg=None) -> None:
        super().__init__(in_channels, embed_channels, init_cfg=init_cfg)
        if dice_weighting not in DICE_WEIGHTINGS:
            raise ValueError(f'ThingGenerator: dice_weighting must be one of '
                             f'{DICE_WEIGHTINGS}, got {dice_weighting!r}')
        self.dice_weighting = dice_weighting
        self.pos_num = 1 if dice_weighting == 'center' else pos_num

    def loss_inputs(
            self, thing_logits: Sequence[Tensor],
            kernel_maps: Sequence[Tensor], encoded_feats: Tensor,
            targets: Sequence[ImageTargets]) -> Tuple[Tensor, Tensor, Tensor]:
        """What the weighted dice of the things needs, for a batch: the
        mask logits of every image's positive kernels
        (:meth:`training_kernels`, embedded, convolved with F_e), their soft
        targets and their weights.

        Args:
            thing_logits (Sequence[Tensor]): Per level (B, N_th, h_l, w_l).
            kernel_maps (Sequence[Tensor]): Per level (B, C, h_l, w_l).
            encoded_feats (Tensor): F_e (B, C_e, H/4, W/4).
            targets (Sequence[ImageTargets]): One per image.

        Returns:
            tuple[Tensor, Tensor, Tensor]: Mask logits (T, H/4 * W/4),
            targets (T, H/4 * W/4) and dice weights (T,), T = sum over the
            images of ``sum_l n_l * k``.
        """
        logits, masks, weights = [], [], []
        for img, image_targets in enumerate(targets):
            kernels, image_masks, image_weights = self.training_kernels(
                [x[img] for x in thing_logits], [x[img] for x in kernel_maps],
                image_targets)
            logits.append(
                self.mask_logits(self.embed(kernels), encoded_feats[img]))
            masks.append(image_masks)
            weights.append(image_weights)
        return (torch.cat(logits).flatten(1), torch.cat(masks).flatten(1),
                torch.cat(weights))

    def training_kernels(
            self, thing_logits: Sequence[Tensor],
            kernel_maps: Sequence[Tensor],
            targets: ImageTargets) -> Tuple[Tensor, Tensor, Tensor]:
        """Positive kernels of one image with their mask targets.

        Args:
            thing_logits (Sequence[Tensor]): Per level (N_th, h_l, w_l).
            kernel_maps (Sequence[Tensor]): Per level (C, h_l, w_l).
            targets (ImageTargets): The image's targets.

        Returns:
            tuple[Tensor, Tensor, Tensor]: Kernels (sum_l n_l * k, C), the
            soft stride-4 target of each (sum_l n_l * k, H/4, W/4) and the
            dice weights (sum_l n_l * k,); an instance's k weights sum to 1
            (or 0 if its region is empty).
        """
        kernels, mask_inds, weights = [], [], []
        for level, (logits, kernel_map) in enumerate(
                zip(thing_logits, kernel_maps)):
            inds = targets.thing_inds[level]  # (n,)
            if self.dice_weighting == 'center':
                positions = targets.thing_centers[level][:, None]  # (n, 1)
                level_weights = logits.new_ones(positions.shape)
            else:
                # the sigmoid heat at the GT class guides (and, not
                # detached, is trained by) the choice and weight of k kernels
                guidance = logits.flatten(1)[targets.thing_labels[level]]
                regions = targets.thing_regions[level].flatten(1)
                positions, level_weights = topk_positive_kernels(
                    guidance.sigmoid(), regions, self.pos_num,
                    uniform=self.dice_weighting == 'uniform')  # (n, k)
            kernels.append(kernel_map.flatten(1)[:, positions.flatten()].t())
            mask_inds.append(inds.repeat_interleave(self.pos_num))
            weights.append(level_weights.flatten())
        masks = targets.thing_masks[torch.cat(mask_inds)]
        return torch.cat(kernels), masks, torch.cat(weights)

    def predict(self, thing_logits: Sequence[Tensor],
                kernel_maps: Sequence[Tensor], encoded_feats: Tensor,
                cfg) -> List[InstanceData]:
        """Thing masks of every image of a batch (spec Sec. 4): the kernels
        at the heatmap peaks (:func:`select_thing_peaks`), then
        :meth:`predict_from_peaks`.

        Args:
            thing_logits (Sequence[Tensor]): Per level (B, N_th, h_l, w_l).
            kernel_maps (Sequence[Tensor]): Per level (B, C, h_l, w_l).
            encoded_feats (Tensor): F_e (B, C_e, H/4, W/4).
            cfg (ConfigDict): Inference settings (``pool_sizes``,
                ``peaks_per_level``, ``thing_peak_thr``, ``use_fusion``,
                ``fusion_sim_thr``, ``fusion_class_aware``,
                ``use_matrix_nms``, ``mask_thr``, ``score_thr``,
                ``max_per_img``).

        Returns:
            list[InstanceData]: Per image ``masks`` (m, H/4, W/4)
            probabilities, ``scores`` and ``labels`` (m,) in [0, N_th),
            sorted by score, m <= ``max_per_img``.
        """
        peaks = [
            select_thing_peaks(logits, cfg.pool_sizes[level],
                               cfg.peaks_per_level, cfg.thing_peak_thr)
            for level, logits in enumerate(thing_logits)
        ]
        return self.predict_from_peaks(peaks, kernel_maps, encoded_feats, cfg)

    def predict_from_peaks(
            self, peaks: Sequence[Sequence[Tuple[Tensor, Tensor, Tensor]]],
            kernel_maps: Sequence[Tensor], encoded_feats: Tensor,
            cfg) -> List[InstanceData]:
        """Thing masks of every image from chosen positions.

        Args:
            peaks (Sequence[Sequence[tuple]]): Per level, per image: scores
                (n,), labels (n,) and flat positions (n,) into
                ``h_l * w_l``, as :func:`select_thing_peaks` gives them.
            kernel_maps (Sequence[Tensor]): Per level (B, C, h_l, w_l).
            encoded_feats (Tensor): F_e (B, C_e, H/4, W/4).
            cfg (ConfigDict): See :meth:`predict`.

        Returns:
            list[InstanceData]: See :meth:`predict`.
        """
        per_level = [[
            (kernel_map[img].flatten(1)[:, positions].t(), scores, labels)
            for img, (scores, labels, positions) in enumerate(level_peaks)
        ] for level_peaks, kernel_map in zip(peaks, kernel_maps)]
        return [
            self.predict_image(*selected, encoded_feats[img], cfg)
            for img, selected in enumerate(concat_levels(per_level))
        ]

    def predict_image(self, kernels: Tensor, scores: Tensor, labels: Tensor,
                       encoded_feat: Tensor, cfg) -> InstanceData:
        """Embed, fuse, predict, then :meth:`score_masks`.

        Args:
            kernels (Tensor): Thing kernels of all levels (n, C).
            scores (Tensor): Peak scores (n,).
            labels (Tensor): Classes (n,).
            encoded_feat (Tensor): F_e of the image (C_e, H/4, W/4).
            cfg (ConfigDict): See :meth:`predict`.

        Returns:
            InstanceData: See :meth:`predict`.
        """
        kernels = self.embed(kernels)  # (n, C_e)
        if cfg.use_fusion:
            kernels, scores, labels = kernel_fusion(
                kernels, scores, labels, cfg.fusion_sim_thr,
                cfg.fusion_class_aware)
        probs = self.mask_logits(kernels, encoded_feat).sigmoid()
        return self.score_masks(probs, scores, labels, cfg)

    def score_masks(self, probs: Tensor, scores: Tensor, labels: Tensor,
                    cfg) -> InstanceData:
        """Rescore the masks by their maskness and keep the best.

        Args:
            probs (Tensor): Mask probabilities (n, H/4, W/4).
            scores (Tensor): Peak scores (n,).
            labels (Tensor): Classes (n,).
            cfg (ConfigDict): See :meth:`predict`.

        Returns:
            InstanceData: See :meth:`predict`.
        """
        binary = (probs > cfg.mask_thr).to(probs.dtype)
        # maskness: mean probability inside the predicted mask
        maskness = (probs * binary).sum(dim=(1, 2)) / (
            binary.sum(dim=(1, 2)) + 1e-6)
        scores = scores * maskness
        if cfg.use_matrix_nms:
            # decays the scores of masks that overlap a better one of the
            # same class (mmdet's Matrix NMS, Gaussian kernel)
            scores, labels, _, order = mask_matrix_nms(
                binary, labels, scores, kernel='gaussian', sigma=2.0)
            probs = probs[order]
        keep = (scores >= cfg.score_thr).nonzero().squeeze(1)
        order = scores[keep].argsort(descending=True, stable=True)
        keep = keep[order[:cfg.max_per_img]]
        return InstanceData(
            masks=probs[keep], scores=scores[keep], labels=labels[keep])
