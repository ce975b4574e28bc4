"""Stuff generator of Panoptic FCN (paper Sec. 3.3-3.4): pools one kernel
per stuff region, embeds it and predicts one mask per stuff class."""
from typing import List, Sequence, Tuple

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmpfcn.models.layers.kernel_embedding import (
    KernelEmbedding,
    concat_levels,
)
from mmpfcn.models.layers.kernel_fusion import class_mean_kernels
from mmpfcn.models.layers.kernel_gathering import stuff_kernel_pooling
from mmpfcn.models.task_modules.image_targets import ImageTargets
from mmpfcn.models.task_modules.kernel_selection import select_stuff_regions
from mmpfcn.registry import MODELS


@MODELS.register_module()
class StuffGenerator(KernelEmbedding):
    """Stuff regions -> pooled kernels -> embedded kernels -> masks.

    Every (level, class) region gives one kernel, the kernel map summed
    over the region and divided by the map area (the reference's pooling,
    :func:`stuff_kernel_pooling`), in training and at inference. At
    inference the kernels and scores of a class are averaged over the
    levels (:func:`class_mean_kernels`).

    Args:
        in_channels (int): Channels of the kernel maps. Defaults to 256.
        embed_channels (int): C_e. Defaults to 64.
        with_things (bool): The stuff maps have the "all things" channel 0
            (the reference's ``WITH_THING``). Without it channel c is stuff
            class c + 1; predicted labels are always stuff classes (0 =
            things). Defaults to True.
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int = 256,
                 embed_channels: int = 64,
                 with_things: bool = True,
                 init_cfg=None) -> None:
        super().__init__(in_channels, embed_channels, init_cfg=init_cfg)
        self.label_offset = 0 if with_things else 1

    def loss_inputs(self, kernel_maps: Sequence[Tensor], encoded_feats: Tensor,
                    targets: Sequence[ImageTargets]) -> Tuple[Tensor, Tensor]:
        """What the dice of the stuff needs, for a batch: the mask logits of
        every image's pooled kernels (:meth:`training_kernels`, embedded,
        convolved with F_e) and their soft targets.

        Args:
            kernel_maps (Sequence[Tensor]): Per level (B, C, h_l, w_l).
            encoded_feats (Tensor): F_e (B, C_e, H/4, W/4).
            targets (Sequence[ImageTargets]): One per image.

        Returns:
            tuple[Tensor, Tensor]: Mask logits (S, H/4 * W/4) and targets
            (S, H/4 * W/4), S = sum over the images of ``sum_l m_l``.
        """
        logits, masks = [], []
        for img, image_targets in enumerate(targets):
            kernels, image_masks = self.training_kernels(
                [x[img] for x in kernel_maps], image_targets)
            logits.append(
                self.mask_logits(self.embed(kernels), encoded_feats[img]))
            masks.append(image_masks)
        return torch.cat(logits).flatten(1), torch.cat(masks).flatten(1)

    def training_kernels(self, kernel_maps: Sequence[Tensor],
                         targets: ImageTargets) -> Tuple[Tensor, Tensor]:
        """One pooled kernel per (level, stuff class) target of one image.

        Args:
            kernel_maps (Sequence[Tensor]): Per level (C, h_l, w_l).
            targets (ImageTargets): The image's targets.

        Returns:
            tuple[Tensor, Tensor]: Kernels (sum_l m_l, C) and their soft
            stride-4 targets (sum_l m_l, H/4, W/4).
        """
        kernels = [
            stuff_kernel_pooling(regions, kernel_map)
            for regions, kernel_map in zip(targets.stuff_regions, kernel_maps)
        ]
        labels = torch.cat(targets.stuff_labels)
        return torch.cat(kernels), targets.stuff_masks[labels]

    def predict(self, stuff_logits: Sequence[Tensor],
                kernel_maps: Sequence[Tensor], encoded_feats: Tensor,
                cfg) -> List[InstanceData]:
        """Stuff masks of every image of a batch (spec Sec. 4): the regions
        of the stuff maps (:func:`select_stuff_regions`), then
        :meth:`predict_from_regions`.

        Args:
            stuff_logits (Sequence[Tensor]): Per level (B, N_st, h_l, w_l).
            kernel_maps (Sequence[Tensor]): Per level (B, C, h_l, w_l).
            encoded_feats (Tensor): F_e (B, C_e, H/4, W/4).
            cfg (ConfigDict): Inference settings (``stuff_score_thr``).

        Returns:
            list[InstanceData]: Per image ``masks`` (u, H/4, W/4)
            probabilities, ``scores`` and ``labels`` (u,), one per class,
            classes ascending (stuff channels in [1, N_st) or 0 = all
            things).
        """
        regions = [
            select_stuff_regions(logits, cfg.stuff_score_thr)
            for logits in stuff_logits
        ]
        return self.predict_from_regions(regions, kernel_maps, encoded_feats)

    def predict_from_regions(
            self, regions: Sequence[Sequence[Tuple[Tensor, Tensor, Tensor]]],
            kernel_maps: Sequence[Tensor],
            encoded_feats: Tensor) -> List[InstanceData]:
        """Stuff masks of every image from chosen regions: one pooled kernel
        per region (:func:`stuff_kernel_pooling`), averaged per class.

        Args:
            regions (Sequence[Sequence[tuple]]): Per level, per image:
                scores (m,), stuff channels (m,) and regions (m, h_l, w_l),
                as :func:`select_stuff_regions` gives them.
            kernel_maps (Sequence[Tensor]): Per level (B, C, h_l, w_l).
            encoded_feats (Tensor): F_e (B, C_e, H/4, W/4).

        Returns:
            list[InstanceData]: See :meth:`predict`.
        """
        per_level = [[
            (stuff_kernel_pooling(masks, kernel_map[img]), scores,
             labels + self.label_offset)
            for img, (scores, labels, masks) in enumerate(level_regions)
        ] for level_regions, kernel_map in zip(regions, kernel_maps)]
        return [
            self.predict_image(*selected, encoded_feats[img])
            for img, selected in enumerate(concat_levels(per_level))
        ]

    def predict_image(self, kernels: Tensor, scores: Tensor, labels: Tensor,
                      encoded_feat: Tensor) -> InstanceData:
        """Embed, average per class and predict the masks of one image.

        Args:
            kernels (Tensor): Stuff kernels of all levels (m, C).
            scores (Tensor): Region scores (m,).
            labels (Tensor): Stuff channels (m,).
            encoded_feat (Tensor): F_e of the image (C_e, H/4, W/4).

        Returns:
            InstanceData: See :meth:`predict`.
        """
        kernels, scores, classes = class_mean_kernels(
            self.embed(kernels), scores, labels)  # (u, C_e), (u,), (u,)
        probs = self.mask_logits(kernels, encoded_feat).sigmoid()
        return InstanceData(masks=probs, scores=scores, labels=classes)
