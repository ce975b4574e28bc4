"""Panoptic FCN head: kernel generator + feature encoder, the training
losses (paper Sec. 3.5) and the kernel-level inference (Sec. 3.3)."""
import copy
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.model import BaseModule
from mmengine.model.weight_init import normal_init
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmpfcn.models.layers.kernel_fusion import kernel_fusion
from mmpfcn.models.task_modules.kernel_selection import (
    select_stuff_regions,
    select_thing_peaks,
)
from mmpfcn.models.task_modules.targets import (
    ImageTargets,
    mass_centers,
    stuff_kernel_pooling,
    topk_positive_kernels,
)
from mmpfcn.registry import MODELS, TASK_UTILS

LevelOutputs = Tuple[List[Tensor], List[Tensor], List[Tensor], Tensor]

# reference inference settings (spec Sec. 4); configs override single keys
DEFAULT_TEST_CFG = dict(
    pool_sizes=(3, 3, 3, 5, 5),  # avg-pool of the centre heat, per level
    peaks_per_level=50,  # TOP_NUM // 2
    thing_peak_thr=0.05,  # FAST: 0.2
    stuff_score_thr=0.05,  # FAST: 0.1
    use_fusion=True,
    fusion_sim_thr=0.9,
    fusion_class_aware=True,
    mask_thr=0.4,  # INST_THRES
    score_thr=0.05,  # after maskness rescoring
    max_per_img=100)


def project_kernels(proj: nn.Conv2d, kernels: Tensor) -> Tensor:
    """Apply a 1x1 conv to gathered kernel vectors.

    Args:
        proj (nn.Conv2d): 1x1 conv C -> C_e (kept as a conv so the weights
            have the reference's (C_e, C, 1, 1) shape).
        kernels (Tensor): Kernels of shape (N, C); N may be 0.

    Returns:
        Tensor: Projected kernels of shape (N, C_e).
    """
    return F.linear(kernels, proj.weight.flatten(1), proj.bias)


@MODELS.register_module()
class PanopticFCNHead(BaseModule):
    """Generates thing and stuff kernels and the encoded feature, and turns
    them into losses (training) or per-image mask candidates (inference).

    Training (spec Sec. 2-3): focal losses on the thing centre heatmaps and
    the stuff region maps of every level; weighted dice on the masks of the
    top-k kernels of every (instance, level) target and on the masks of
    the stuff kernels pooled over each (level, class) region.

    Inference (spec Sec. 4): per level, thing peaks and stuff regions give
    kernels; across levels, thing kernels are projected and fused, their
    masks rescored by maskness; stuff kernels and scores are averaged per
    class. Results are soft masks at stride 4; the fusion head resizes and
    merges them.

    Args:
        num_things_classes (int): N_th. Defaults to 80.
        num_stuff_classes (int): Stuff classes; N_st = this + 1 (channel 0
            = all things). Defaults to 53.
        in_channels (int): Channels of the FPN levels and of F_h.
            Defaults to 256.
        kernel_channels (int): Channels of the generated kernels before
            the projection to C_e. Defaults to 256.
        kernel_generator (dict): Config of the kernel generator; the class
            counts and channels are filled in here.
        feature_encoder (dict): Config of the feature encoder; its
            ``feat_channels`` is C_e.
        target_generator (dict): Config of the target generator
            (``TASK_UTILS``); class counts and strides are filled in here.
        strides (Sequence[int]): Strides of the levels the head sees.
            Defaults to (8, 16, 32, 64, 128) (P3..P7).
        pos_num (int): k, thing kernels per (instance, level) in the
            weighted dice. Defaults to 7.
        use_weighted_dice (bool): Weighted dice over the top-k kernels.
            False: one kernel at the GT centre with weight 1 (the paper's
            ablation baseline; ``pos_num`` is then ignored). Defaults to
            True.
        loss_pos (dict): Focal loss of the position head.
        loss_seg (dict): Dice loss of the masks (loss_weight = lambda_seg).
        test_cfg (dict, optional): Inference settings; missing keys take
            the reference values of ``DEFAULT_TEST_CFG``.
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    def __init__(
        self,
        num_things_classes: int = 80,
        num_stuff_classes: int = 53,
        in_channels: int = 256,
        kernel_channels: int = 256,
        kernel_generator: dict = dict(type='KernelGenerator'),
        feature_encoder: dict = dict(type='FeatureEncoder'),
        target_generator: dict = dict(type='PanopticFCNTargetGenerator'),
        strides: Sequence[int] = (8, 16, 32, 64, 128),
        pos_num: int = 7,
        use_weighted_dice: bool = True,
        loss_pos: dict = dict(
            type='SoftFocalLoss', alpha=0.25, gamma=2.0, loss_weight=1.0),
        loss_seg: dict = dict(type='WeightedDiceLoss', loss_weight=3.0),
        test_cfg: dict = None,
        init_cfg=None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.num_classes = num_things_classes + num_stuff_classes
        self.num_stuff_channels = num_stuff_classes + 1
        self.strides = tuple(strides)
        self.pos_num = pos_num if use_weighted_dice else 1
        self.use_weighted_dice = use_weighted_dice

        generator_cfg = copy.deepcopy(kernel_generator)
        generator_cfg.update(
            num_things_classes=num_things_classes,
            num_stuff_channels=self.num_stuff_channels,
            in_channels=in_channels,
            feat_channels=kernel_channels)
        self.kernel_generator = MODELS.build(generator_cfg)
        encoder_cfg = copy.deepcopy(feature_encoder)
        encoder_cfg.update(in_channels=in_channels)
        self.feature_encoder = MODELS.build(encoder_cfg)
        encoder_channels = self.feature_encoder.out_channels
        # 1x1 projections of the gathered kernels to C_e (the reference's
        # thing_generator / stuff_generator .embed_extractor)
        self.thing_embed = nn.Conv2d(kernel_channels, encoder_channels, 1)
        self.stuff_embed = nn.Conv2d(kernel_channels, encoder_channels, 1)

        target_cfg = copy.deepcopy(target_generator)
        target_cfg.update(
            num_things_classes=num_things_classes,
            num_stuff_classes=num_stuff_classes,
            strides=self.strides)
        self.target_generator = TASK_UTILS.build(target_cfg)
        self.loss_pos = MODELS.build(loss_pos)
        self.loss_seg = MODELS.build(loss_seg)

        self.test_cfg = ConfigDict(DEFAULT_TEST_CFG)
        self.test_cfg.update(test_cfg or {})
        if len(self.test_cfg.pool_sizes) != len(self.strides):
            raise ValueError('PanopticFCNHead: test_cfg.pool_sizes needs one '
                             f'size per level ({len(self.strides)}), got '
                             f'{self.test_cfg.pool_sizes}')

    def init_weights(self) -> None:
        """Projections: N(0, 0.01) weights, zero biases."""
        super().init_weights()
        normal_init(self.thing_embed, std=0.01, bias=0)
        normal_init(self.stuff_embed, std=0.01, bias=0)

    def forward(self, level_feats: Sequence[Tensor],
                encoder_feat: Tensor) -> LevelOutputs:
        """Position maps and kernel maps of every level, and F_e.

        Args:
            level_feats (Sequence[Tensor]): P3..P7, level l of shape
                (B, in_channels, h_l, w_l).
            encoder_feat (Tensor): F_h of shape (B, in_channels, H/4, W/4).

        Returns:
            tuple: thing logits per level (B, N_th, h_l, w_l), stuff logits
            per level (B, N_st, h_l, w_l), kernel maps per level
            (B, kernel_channels, h_l, w_l) and F_e (B, C_e, H/4, W/4).
        """
        if len(level_feats) != len(self.strides):
            raise ValueError(f'PanopticFCNHead expects {len(self.strides)} '
                             f'levels, got {len(level_feats)}')
        thing_logits, stuff_logits, kernel_maps = self.kernel_generator(
            level_feats)
        return (thing_logits, stuff_logits, kernel_maps,
                self.feature_encoder(encoder_feat))

    # ------------------------------------------------------------ training
    def loss(self, level_feats: Sequence[Tensor], encoder_feat: Tensor,
             batch_data_samples: list) -> Dict[str, Tensor]:
        """Forward, build the targets and compute the four losses.

        Args:
            level_feats (Sequence[Tensor]): P3..P7, see :meth:`forward`.
            encoder_feat (Tensor): F_h (B, in_channels, H/4, W/4).
            batch_data_samples (list[DetDataSample]): With ``gt_instances``
                (non-crowd things; masks padded to the batch input) and
                ``gt_sem_seg.sem_seg`` (1, H, W), the stuff map.

        Returns:
            dict[str, Tensor]: ``loss_pos_th``, ``loss_pos_st``,
            ``loss_seg_th``, ``loss_seg_st``.
        """
        outs = self(level_feats, encoder_feat)
        pad_shape = tuple(batch_data_samples[0].metainfo['batch_input_shape'])
        level_sizes = [tuple(x.shape[-2:]) for x in outs[0]]
        targets = []
        for sample in batch_data_samples:
            if 'gt_sem_seg' not in sample:
                raise KeyError('PanopticFCNHead.loss: data samples need '
                               '`gt_sem_seg` (the stuff map, see the '
                               'GenerateStuffMap transform)')
            targets.append(
                self.target_generator.get_targets(sample.gt_instances,
                                                  sample.gt_sem_seg.sem_seg,
                                                  pad_shape, level_sizes))
        return self.loss_by_feat(*outs, targets)

    def loss_by_feat(self, thing_logits: List[Tensor],
                     stuff_logits: List[Tensor], kernel_maps: List[Tensor],
                     mask_feats: Tensor,
                     targets: List[ImageTargets]) -> Dict[str, Tensor]:
        """The four losses from the head outputs and per-image targets.

        Args:
            thing_logits (list[Tensor]): Per level (B, N_th, h_l, w_l).
            stuff_logits (list[Tensor]): Per level (B, N_st, h_l, w_l).
            kernel_maps (list[Tensor]): Per level (B, C, h_l, w_l).
            mask_feats (Tensor): F_e (B, C_e, H/4, W/4).
            targets (list[ImageTargets]): One per image.

        Returns:
            dict[str, Tensor]: The four scalar losses.
        """
        num_imgs = len(targets)
        if tuple(targets[0].stuff_masks.shape[-2:]) != \
                tuple(mask_feats.shape[-2:]):
            raise ValueError(
                'PanopticFCNHead: stride-4 targets of size '
                f'{tuple(targets[0].stuff_masks.shape[-2:])} do not match '
                f'F_e of size {tuple(mask_feats.shape[-2:])}; the input '
                'must be padded to a multiple of 32')
        num_things = sum(t.num_things for t in targets)

        # things: every level and element, / number of (instance, level)
        pred = torch.cat([x.flatten(2) for x in thing_logits], dim=2)
        heat = torch.stack([
            torch.cat([h.flatten(1) for h in t.thing_heatmaps], dim=1)
            for t in targets
        ])  # (B, N_th, sum_l h_l * w_l)
        loss_pos_th = self.loss_pos(pred, heat, avg_factor=max(num_things, 1))
        # stuff: mean over each map, summed over (image, class, level), / B
        loss_pos_st = sum(
            self.loss_pos(
                logits,
                torch.stack([t.stuff_heatmaps[level] for t in targets]),
                avg_factor=num_imgs * logits.shape[-2] * logits.shape[-1])
            for level, logits in enumerate(stuff_logits))

        thing_pred, thing_tgt, thing_w = [], [], []
        stuff_pred, stuff_tgt = [], []
        for img, image_targets in enumerate(targets):
            kernels, masks, weights = self._thing_kernel_targets(
                [x[img] for x in thing_logits], [x[img] for x in kernel_maps],
                image_targets)
            thing_pred.append(
                self._mask_logits(self.thing_embed, kernels, mask_feats[img]))
            thing_tgt.append(masks.flatten(1))
            thing_w.append(weights)
            kernels, masks = self._stuff_kernel_targets(
                [x[img] for x in kernel_maps], image_targets)
            stuff_pred.append(
                self._mask_logits(self.stuff_embed, kernels, mask_feats[img]))
            stuff_tgt.append(masks.flatten(1))
        thing_pred = torch.cat(thing_pred)  # (sum n * k, H/4 * W/4)
        stuff_pred = torch.cat(stuff_pred)  # (sum m, H/4 * W/4)

        loss_seg_th = self._dice(thing_pred, torch.cat(thing_tgt),
                                 torch.cat(thing_w), num_things)
        loss_seg_st = self._dice(stuff_pred, torch.cat(stuff_tgt), None,
                                 stuff_pred.shape[0])
        return dict(
            loss_pos_th=loss_pos_th,
            loss_pos_st=loss_pos_st,
            loss_seg_th=loss_seg_th,
            loss_seg_st=loss_seg_st)

    def _dice(self, pred: Tensor, target: Tensor, weight, count: int):
        """Dice loss / max(count, 1); 0 * prediction without targets.

        The empty case keeps the graph connected (every projection gets a
        zero gradient) and stays finite, unlike a mean over no masks.
        """
        if pred.shape[0] == 0:
            return pred.sum() * 0
        return self.loss_seg(pred, target, weight, avg_factor=max(count, 1))

    @staticmethod
    def _mask_logits(proj: nn.Conv2d, kernels: Tensor,
                     mask_feat: Tensor) -> Tensor:
        """Project kernels (N, C) and apply them to F_e (C_e, H/4, W/4).

        Returns:
            Tensor: Mask logits (N, H/4 * W/4).
        """
        return project_kernels(proj, kernels) @ mask_feat.flatten(1)

    def _thing_kernel_targets(
            self, thing_logits: List[Tensor], kernel_maps: List[Tensor],
            targets: ImageTargets) -> Tuple[Tensor, Tensor, Tensor]:
        """Positive thing kernels of one image with their targets.

        Args:
            thing_logits (list[Tensor]): Per level (N_th, h_l, w_l).
            kernel_maps (list[Tensor]): Per level (C, h_l, w_l).
            targets (ImageTargets): The image's targets.

        Returns:
            tuple[Tensor, Tensor, Tensor]: Kernels (sum_l n_l * k, C), the
            soft stride-4 target of each (sum_l n_l * k, H/4, W/4) and
            the dice weights (sum_l n_l * k,); every instance's k weights
            sum to 1 (or 0 if its region is empty).
        """
        kernels, mask_inds, weights = [], [], []
        for level, (logits, kernel_map) in enumerate(
                zip(thing_logits, kernel_maps)):
            inds = targets.thing_inds[level]  # (n,)
            if self.use_weighted_dice:
                # sigmoid heat at the GT class guides (and, not detached,
                # is trained by) the choice and weight of the k kernels
                guidance = logits.flatten(1)[targets.thing_labels[level]]
                regions = targets.thing_regions[level].flatten(1)
                positions, level_weights = topk_positive_kernels(
                    guidance.sigmoid(), regions, self.pos_num)  # (n, k)
            else:
                positions = self._center_positions(
                    targets.thing_masks[inds], logits.shape[-2:],
                    targets.thing_masks.shape[-2:])
                level_weights = logits.new_ones(positions.shape)
            kernels.append(kernel_map.flatten(1)[:, positions.flatten()].t())
            mask_inds.append(inds.repeat_interleave(self.pos_num))
            weights.append(level_weights.flatten())
        masks = targets.thing_masks[torch.cat(mask_inds)]
        return torch.cat(kernels), masks, torch.cat(weights)

    @staticmethod
    def _center_positions(masks: Tensor, level_size: Tuple[int, int],
                          mask_size: Tuple[int, int]) -> Tensor:
        """Flat level position of each instance's mass centre, (n, 1).

        The centre of the stride-4 mask is scaled to the level grid and
        truncated, as for the heatmap targets; a mask that vanished at
        stride 4 has no centre and uses position 0 (its target is empty,
        so the choice does not matter).
        """
        h_l, w_l = level_size
        scale = masks.new_tensor(
            [h_l / mask_size[0], w_l / mask_size[1]])
        centers = (mass_centers(masks).nan_to_num(0) * scale).long()
        rows = centers[:, 0].clamp(0, h_l - 1)
        cols = centers[:, 1].clamp(0, w_l - 1)
        return (rows * w_l + cols)[:, None]

    @staticmethod
    def _stuff_kernel_targets(
            kernel_maps: List[Tensor],
            targets: ImageTargets) -> Tuple[Tensor, Tensor]:
        """One pooled kernel per (level, stuff class) target of one image.

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

    # ----------------------------------------------------------- inference
    def predict(
        self, level_feats: Sequence[Tensor], encoder_feat: Tensor,
        batch_img_metas: List[dict]
    ) -> Tuple[List[InstanceData], List[InstanceData]]:
        """Forward and select the thing and stuff masks of every image.

        Args:
            level_feats (Sequence[Tensor]): P3..P7, see :meth:`forward`.
            encoder_feat (Tensor): F_h (B, in_channels, H/4, W/4).
            batch_img_metas (list[dict]): Meta information of each image
                (only their number is used here).

        Returns:
            tuple[list[InstanceData], list[InstanceData]]: Per image, the
            things (``masks`` soft (n, H/4, W/4), ``scores`` (n,),
            ``labels`` (n,) in [0, N_th)), sorted by score, and the stuff
            (``masks`` soft (u, H/4, W/4), ``scores`` (u,), ``labels``
            (u,) stuff channels in [1, N_st) or 0 = all things).
        """
        outs = self(level_feats, encoder_feat)
        if len(batch_img_metas) != outs[-1].shape[0]:
            raise ValueError(f'PanopticFCNHead.predict: got '
                             f'{len(batch_img_metas)} image metas for a '
                             f'batch of {outs[-1].shape[0]}')
        return self.predict_by_feat(*outs)

    def predict_by_feat(
        self, thing_logits: List[Tensor], stuff_logits: List[Tensor],
        kernel_maps: List[Tensor], mask_feats: Tensor
    ) -> Tuple[List[InstanceData], List[InstanceData]]:
        """Kernel-level inference from the head outputs (spec Sec. 4).

        Args:
            thing_logits (list[Tensor]): Per level (B, N_th, h_l, w_l).
            stuff_logits (list[Tensor]): Per level (B, N_st, h_l, w_l).
            kernel_maps (list[Tensor]): Per level (B, C, h_l, w_l).
            mask_feats (Tensor): F_e (B, C_e, H/4, W/4).

        Returns:
            tuple[list[InstanceData], list[InstanceData]]: See
            :meth:`predict`.
        """
        cfg = self.test_cfg
        num_imgs = mask_feats.shape[0]
        things = [([], [], []) for _ in range(num_imgs)]
        stuff = [([], [], []) for _ in range(num_imgs)]
        for level, (thing, stuff_map, kernel_map) in enumerate(
                zip(thing_logits, stuff_logits, kernel_maps)):
            peaks = select_thing_peaks(thing, cfg.pool_sizes[level],
                                       cfg.peaks_per_level,
                                       cfg.thing_peak_thr)
            regions = select_stuff_regions(stuff_map, cfg.stuff_score_thr)
            # the number of peaks and regions differs between images
            for img in range(num_imgs):
                scores, labels, positions = peaks[img]
                things[img][0].append(
                    kernel_map[img].flatten(1)[:, positions].t())
                things[img][1].append(scores)
                things[img][2].append(labels)
                scores, labels, masks = regions[img]
                stuff[img][0].append(
                    stuff_kernel_pooling(masks, kernel_map[img]))
                stuff[img][1].append(scores)
                stuff[img][2].append(labels)
        thing_results, stuff_results = [], []
        for img in range(num_imgs):
            thing_results.append(
                self._predict_things(*map(torch.cat, things[img]),
                                     mask_feats[img]))
            stuff_results.append(
                self._predict_stuff(*map(torch.cat, stuff[img]),
                                    mask_feats[img]))
        return thing_results, stuff_results

    def _predict_things(self, kernels: Tensor, scores: Tensor,
                        labels: Tensor, mask_feat: Tensor) -> InstanceData:
        """Project, fuse, predict, rescore by maskness and keep the best.

        Args:
            kernels (Tensor): Thing kernels of all levels (n, C).
            scores (Tensor): Peak scores (n,).
            labels (Tensor): Classes (n,).
            mask_feat (Tensor): F_e of the image (C_e, H/4, W/4).

        Returns:
            InstanceData: ``masks`` (m, H/4, W/4) probabilities, ``scores``
            and ``labels`` (m,), sorted by score, m <= max_per_img.
        """
        cfg = self.test_cfg
        kernels = project_kernels(self.thing_embed, kernels)  # (n, C_e)
        if cfg.use_fusion:
            kernels, scores, labels = kernel_fusion(
                kernels, scores, labels, cfg.fusion_sim_thr,
                cfg.fusion_class_aware)
        probs = torch.einsum('nc,chw->nhw', kernels, mask_feat).sigmoid()
        binary = (probs > cfg.mask_thr).to(probs.dtype)
        # maskness: mean probability inside the predicted mask
        maskness = (probs * binary).sum(dim=(1, 2)) / (
            binary.sum(dim=(1, 2)) + 1e-6)
        scores = scores * maskness
        keep = (scores >= cfg.score_thr).nonzero().squeeze(1)
        order = scores[keep].argsort(descending=True, stable=True)
        keep = keep[order[:cfg.max_per_img]]
        return InstanceData(
            masks=probs[keep], scores=scores[keep], labels=labels[keep])

    def _predict_stuff(self, kernels: Tensor, scores: Tensor, labels: Tensor,
                       mask_feat: Tensor) -> InstanceData:
        """Average kernels and scores per stuff class over the levels.

        Args:
            kernels (Tensor): Stuff kernels of all levels (m, C).
            scores (Tensor): Region scores (m,).
            labels (Tensor): Stuff channels (m,).
            mask_feat (Tensor): F_e of the image (C_e, H/4, W/4).

        Returns:
            InstanceData: ``masks`` (u, H/4, W/4) probabilities, ``scores``
            and ``labels`` (u,), one per class, classes ascending.
        """
        kernels = project_kernels(self.stuff_embed, kernels)  # (m, C_e)
        classes, inverse = torch.unique(labels, return_inverse=True)
        counts = scores.new_zeros(len(classes)).index_add_(
            0, inverse, torch.ones_like(scores))
        mean_kernels = kernels.new_zeros(len(classes), kernels.shape[1])
        mean_kernels.index_add_(0, inverse, kernels)
        mean_kernels = mean_kernels / counts[:, None]
        mean_scores = scores.new_zeros(len(classes)).index_add_(
            0, inverse, scores) / counts
        probs = torch.einsum('nc,chw->nhw', mean_kernels,
                             mask_feat).sigmoid()
        return InstanceData(masks=probs, scores=mean_scores, labels=classes)
