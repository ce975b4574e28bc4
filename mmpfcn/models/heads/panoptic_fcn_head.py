"""Panoptic FCN head: ties the kernel generator, the feature encoder and
the thing and stuff generators together; training losses (paper Sec. 3.5)
and kernel-level inference (Sec. 3.3)."""
import copy
from typing import Dict, List, Sequence, Tuple

import torch
from mmengine.config import ConfigDict
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor

from mmpfcn.models.inference_cfg import DEFAULT_TEST_CFG
from mmpfcn.models.losses.normalizer import mean_over_ranks
from mmpfcn.models.task_modules.image_targets import ImageTargets
from mmpfcn.registry import MODELS, TASK_UTILS

LevelOutputs = Tuple[List[Tensor], List[Tensor], List[Tensor], Tensor]


@MODELS.register_module()
class PanopticFCNHead(BaseModule):
    """Generates thing and stuff kernels and the encoded feature, and turns
    them into losses (training) or per-image mask candidates (inference).

    The paper's boxes are its parts: ``kernel_generator`` (position head +
    kernel head, shared over P3..P7), ``feature_encoder`` (F_h -> F_e),
    ``thing_generator`` and ``stuff_generator`` (kernel gathering, 1x1
    embedding, fusion and masks) and ``target_generator``.

    Training (spec Sec. 2-3): focal losses on the thing centre heatmaps and
    the stuff region maps of every level; weighted dice on the masks of
    the top-k kernels of every (instance, level) target and on the masks of
    the stuff kernels pooled over each (level, class) region.

    Inference (spec Sec. 4): see :meth:`ThingGenerator.predict` and
    :meth:`StuffGenerator.predict`. Results are soft masks at stride 4; the
    fusion head resizes and merges them.

    Args:
        num_things_classes (int): N_th. Defaults to 80.
        num_stuff_classes (int): Stuff classes; N_st = this + 1 (channel 0
            = all things). Defaults to 53.
        in_channels (int): Channels of the FPN levels and of F_h.
            Defaults to 256.
        kernel_channels (int): Channels of the generated kernels before
            the embedding to C_e. Defaults to 256.
        kernel_generator (dict): Config of the kernel generator; the class
            counts and channels are filled in here.
        feature_encoder (dict): Config of the feature encoder; its
            ``feat_channels`` is C_e.
        thing_generator (dict): Config of the thing generator (``pos_num``
            k and ``dice_weighting`` of the weighted dice, see
            :class:`ThingGenerator`); its channels are filled in here.
        stuff_generator (dict): Config of the stuff generator; its channels
            and ``with_things`` are filled in here.
        target_generator (dict): Config of the target generator
            (``TASK_UTILS``); class counts and strides are filled in here.
        strides (Sequence[int]): Strides of the levels the head sees.
            Defaults to (8, 16, 32, 64, 128) (P3..P7).
        stuff_with_things (bool): Stuff channel 0 stands for all things
            (the reference's ``WITH_THING``); read by the kernel generator,
            the stuff generator and the targets. Defaults to True.
        loss_pos (dict): Focal loss of the position head.
        loss_seg (dict): Dice loss of the masks (loss_weight = lambda_seg).
        sync_normalizers (bool): Divide the thing losses by the thing count
            averaged over the data-parallel ranks instead of this rank's
            own (the reference's per-GPU count, spec Sec. 7). Defaults to
            False.
        test_cfg (dict, optional): Inference settings; missing keys take
            the reference values of
            :data:`~mmpfcn.models.inference_cfg.DEFAULT_TEST_CFG`.
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    # predict() reads only the images (the Table 10 head reads the GT too)
    predicts_with_ground_truth = False

    def __init__(
        self,
        num_things_classes: int = 80,
        num_stuff_classes: int = 53,
        in_channels: int = 256,
        kernel_channels: int = 256,
        kernel_generator: dict = dict(type='KernelGenerator'),
        feature_encoder: dict = dict(type='FeatureEncoder'),
        thing_generator: dict = dict(
            type='ThingGenerator', pos_num=7, dice_weighting='score'),
        stuff_generator: dict = dict(type='StuffGenerator'),
        target_generator: dict = dict(type='PanopticFCNTargetGenerator'),
        strides: Sequence[int] = (8, 16, 32, 64, 128),
        stuff_with_things: bool = True,
        loss_pos: dict = dict(
            type='SoftFocalLoss', alpha=0.25, gamma=2.0, loss_weight=1.0),
        loss_seg: dict = dict(type='WeightedDiceLoss', loss_weight=3.0),
        sync_normalizers: bool = False,
        test_cfg: dict = None,
        init_cfg=None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.strides = tuple(strides)

        generator_cfg = copy.deepcopy(kernel_generator)
        generator_cfg.update(
            num_things_classes=num_things_classes,
            num_stuff_channels=num_stuff_classes + int(stuff_with_things),
            in_channels=in_channels,
            feat_channels=kernel_channels)
        self.kernel_generator = MODELS.build(generator_cfg)
        encoder_cfg = copy.deepcopy(feature_encoder)
        encoder_cfg.update(in_channels=in_channels)
        self.feature_encoder = MODELS.build(encoder_cfg)
        embed_channels = self.feature_encoder.out_channels
        thing_cfg = copy.deepcopy(thing_generator)
        thing_cfg.update(
            in_channels=kernel_channels, embed_channels=embed_channels)
        self.thing_generator = MODELS.build(thing_cfg)
        stuff_cfg = copy.deepcopy(stuff_generator)
        stuff_cfg.update(
            in_channels=kernel_channels,
            embed_channels=embed_channels,
            with_things=stuff_with_things)
        self.stuff_generator = MODELS.build(stuff_cfg)

        target_cfg = copy.deepcopy(target_generator)
        target_cfg.update(
            num_things_classes=num_things_classes,
            num_stuff_classes=num_stuff_classes,
            strides=self.strides,
            stuff_with_things=stuff_with_things)
        self.target_generator = TASK_UTILS.build(target_cfg)
        self.loss_pos = MODELS.build(loss_pos)
        self.loss_seg = MODELS.build(loss_seg)
        self.sync_normalizers = sync_normalizers

        self.test_cfg = ConfigDict(DEFAULT_TEST_CFG)
        self.test_cfg.update(test_cfg or {})
        if len(self.test_cfg.pool_sizes) != len(self.strides):
            raise ValueError('PanopticFCNHead: test_cfg.pool_sizes needs one '
                             f'size per level ({len(self.strides)}), got '
                             f'{self.test_cfg.pool_sizes}')

    def forward(self, level_feats: Sequence[Tensor],
                high_res_feats: Tensor) -> LevelOutputs:
        """Position maps and kernel maps of every level, and F_e.

        Args:
            level_feats (Sequence[Tensor]): P3..P7, level l of shape
                (B, in_channels, h_l, w_l).
            high_res_feats (Tensor): F_h of shape (B, in_channels, H/4, W/4).

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
                self.feature_encoder(high_res_feats))

    # ------------------------------------------------------------ training
    def loss(self, level_feats: Sequence[Tensor], high_res_feats: Tensor,
             batch_data_samples: list) -> Dict[str, Tensor]:
        """Forward, build the targets and compute the four losses.

        Args:
            level_feats (Sequence[Tensor]): P3..P7, see :meth:`forward`.
            high_res_feats (Tensor): F_h (B, in_channels, H/4, W/4).
            batch_data_samples (list[DetDataSample]): With ``gt_instances``
                (non-crowd things; masks padded to the batch input),
                ``gt_sem_seg.sem_seg`` (1, H, W), the stuff map, and the
                ``img_shape`` meta (the image inside the padded input).

        Returns:
            dict[str, Tensor]: ``loss_pos_th``, ``loss_pos_st``,
            ``loss_seg_th``, ``loss_seg_st``.
        """
        outs = self(level_feats, high_res_feats)
        pad_shape = tuple(batch_data_samples[0].metainfo['batch_input_shape'])
        level_sizes = [tuple(x.shape[-2:]) for x in outs[0]]
        targets = []
        for sample in batch_data_samples:
            if 'gt_sem_seg' not in sample:
                raise KeyError('PanopticFCNHead.loss: data samples need '
                               '`gt_sem_seg` (the stuff map, see the '
                               'GenerateStuffMap transform)')
            targets.append(
                self.target_generator.get_targets(
                    sample.gt_instances,
                    sample.gt_sem_seg.sem_seg,
                    pad_shape,
                    level_sizes,
                    img_shape=sample.metainfo['img_shape'][:2]))
        return self.loss_by_feat(*outs, targets)

    def loss_by_feat(self, thing_logits: List[Tensor],
                     stuff_logits: List[Tensor], kernel_maps: List[Tensor],
                     encoded_feats: Tensor,
                     targets: List[ImageTargets]) -> Dict[str, Tensor]:
        """The four losses from the head outputs and per-image targets.

        Args:
            thing_logits (list[Tensor]): Per level (B, N_th, h_l, w_l).
            stuff_logits (list[Tensor]): Per level (B, N_st, h_l, w_l).
            kernel_maps (list[Tensor]): Per level (B, C, h_l, w_l).
            encoded_feats (Tensor): F_e (B, C_e, H/4, W/4).
            targets (list[ImageTargets]): One per image.

        Returns:
            dict[str, Tensor]: The four scalar losses.
        """
        num_imgs = len(targets)
        if tuple(targets[0].stuff_masks.shape[-2:]) != \
                tuple(encoded_feats.shape[-2:]):
            raise ValueError(
                'PanopticFCNHead: stride-4 targets of size '
                f'{tuple(targets[0].stuff_masks.shape[-2:])} do not match '
                f'F_e of size {tuple(encoded_feats.shape[-2:])}; the input '
                'must be padded to a multiple of 32')
        num_things = sum(t.num_things for t in targets)
        if self.sync_normalizers:
            num_things = mean_over_ranks(num_things, encoded_feats.device)

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

        thing_pred, thing_tgt, thing_w = self.thing_generator.loss_inputs(
            thing_logits, kernel_maps, encoded_feats, targets)
        stuff_pred, stuff_tgt = self.stuff_generator.loss_inputs(
            kernel_maps, encoded_feats, targets)

        loss_seg_th = self._dice(thing_pred, thing_tgt, thing_w, num_things)
        loss_seg_st = self._dice(stuff_pred, stuff_tgt, None,
                                 stuff_pred.shape[0])
        return dict(
            loss_pos_th=loss_pos_th,
            loss_pos_st=loss_pos_st,
            loss_seg_th=loss_seg_th,
            loss_seg_st=loss_seg_st)

    def _dice(self, pred: Tensor, target: Tensor, weight, count: int):
        """Dice loss / max(count, 1); 0 * prediction without targets.

        The empty case keeps the graph connected (every embedding gets a
        zero gradient) and stays finite, unlike a mean over no masks.
        """
        if pred.shape[0] == 0:
            return pred.sum() * 0
        return self.loss_seg(pred, target, weight, avg_factor=max(count, 1))

    # ----------------------------------------------------------- inference
    def predict(
        self, level_feats: Sequence[Tensor], high_res_feats: Tensor,
        batch_img_metas: List[dict]
    ) -> Tuple[List[InstanceData], List[InstanceData]]:
        """Forward and select the thing and stuff masks of every image.

        Args:
            level_feats (Sequence[Tensor]): P3..P7, see :meth:`forward`.
            high_res_feats (Tensor): F_h (B, in_channels, H/4, W/4).
            batch_img_metas (list[dict]): Meta information of each image
                (only their number is read).

        Returns:
            tuple[list[InstanceData], list[InstanceData]]: Per image, the
            things (``masks`` soft (n, H/4, W/4), ``scores`` (n,),
            ``labels`` (n,) in [0, N_th)), sorted by score, and the stuff
            (``masks`` soft (u, H/4, W/4), ``scores`` (u,), ``labels``
            (u,) stuff channels in [1, N_st) or 0 = all things).
        """
        outs = self(level_feats, high_res_feats)
        self._check_batch(batch_img_metas, outs[-1])
        return self.predict_by_feat(*outs)

    def _check_batch(self, batch_img_metas: List[dict],
                     encoded_feats: Tensor) -> None:
        """One meta per image of the batch."""
        if len(batch_img_metas) != encoded_feats.shape[0]:
            raise ValueError(f'{type(self).__name__}.predict: got '
                             f'{len(batch_img_metas)} image metas for a '
                             f'batch of {encoded_feats.shape[0]}')

    def predict_by_feat(
        self, thing_logits: List[Tensor], stuff_logits: List[Tensor],
        kernel_maps: List[Tensor], encoded_feats: Tensor
    ) -> Tuple[List[InstanceData], List[InstanceData]]:
        """Kernel-level inference from the head outputs (spec Sec. 4).

        Args:
            thing_logits (list[Tensor]): Per level (B, N_th, h_l, w_l).
            stuff_logits (list[Tensor]): Per level (B, N_st, h_l, w_l).
            kernel_maps (list[Tensor]): Per level (B, C, h_l, w_l).
            encoded_feats (Tensor): F_e (B, C_e, H/4, W/4).

        Returns:
            tuple[list[InstanceData], list[InstanceData]]: See
            :meth:`predict`.
        """
        return (self.thing_generator.predict(thing_logits, kernel_maps,
                                             encoded_feats, self.test_cfg),
                self.stuff_generator.predict(stuff_logits, kernel_maps,
                                             encoded_feats, self.test_cfg))
