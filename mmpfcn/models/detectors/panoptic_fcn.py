"""Panoptic FCN detector (Li et al., CVPR 2021): backbone -> FPN ->
{semantic FPN -> feature encoder, kernel generator} -> masks -> panoptic
merge, as in the paper's Fig. 2."""
import copy
from typing import Dict, List, Tuple

from mmdet.models.detectors import BaseDetector
from mmdet.structures import SampleList
from torch import Tensor

from mmpfcn.models.inference_cfg import TEST_CFG_KEYS
from mmpfcn.models.losses.finite import check_finite_losses
from mmpfcn.registry import MODELS
from mmpfcn.utils.config_keys import ConfigKeyError, unknown_key_errors

# training settings are arguments of the head, so no train_cfg key is read
TRAIN_CFG_KEYS = frozenset()


@MODELS.register_module()
class PanopticFCN(BaseDetector):
    """Thin wrapper that wires the parts of Panoptic FCN.

    The neck yields P2..P7; P2..P5 feed the semantic FPN (the high-resolution
    feature F_h) and P3..P7 the kernel generator of the head.

    Args:
        backbone (dict): Backbone config (mmdet ``ResNet``).
        neck (dict): FPN config giving P2..P7.
        semantic_fpn (dict): Config of :class:`SemanticFPN`.
        panoptic_head (dict): Config of :class:`PanopticFCNHead`.
        panoptic_fusion_head (dict): Config of
            :class:`PanopticFCNFusionHead`; the class counts are taken from
            the head.
        train_cfg (dict, optional): Must be empty: the training settings
            are arguments of ``panoptic_head``. Accepted so that a stray
            ``train_cfg`` gets a clear error.
        test_cfg (dict, optional): Inference settings shared by the head
            and the fusion head (each reads its own keys; the defaults are
            :data:`~mmpfcn.models.inference_cfg.DEFAULT_TEST_CFG`); a key
            that neither reads is a :class:`ConfigKeyError`.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 semantic_fpn: dict,
                 panoptic_head: dict,
                 panoptic_fusion_head: dict,
                 train_cfg: dict = None,
                 test_cfg: dict = None,
                 data_preprocessor: dict = None,
                 init_cfg=None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if 'upper_bound' in (test_cfg or {}):
            raise ValueError(
                'PanopticFCN: test_cfg.upper_bound is gone; the upper bounds '
                'of Table 10 use panoptic_head=dict(type='
                '\'PanopticFCNUpperBoundHead\', upper_bound=...), see '
                'configs/panoptic_fcn/ablations/tab10_*.py')
        # a misspelt key would leave the default in force without a word
        errors = []
        for name, cfg, known in (('train_cfg', train_cfg, TRAIN_CFG_KEYS),
                                 ('test_cfg', test_cfg, TEST_CFG_KEYS)):
            errors += unknown_key_errors(cfg, known, 'PanopticFCN',
                                         f'{name} key')
        if errors:
            raise ConfigKeyError('; '.join(errors))
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.semantic_fpn = MODELS.build(semantic_fpn)

        head_cfg = copy.deepcopy(panoptic_head)
        head_cfg.update(test_cfg=test_cfg)
        self.panoptic_head = MODELS.build(head_cfg)
        fusion_cfg = copy.deepcopy(panoptic_fusion_head)
        fusion_cfg.update(
            num_things_classes=self.panoptic_head.num_things_classes,
            num_stuff_classes=self.panoptic_head.num_stuff_classes,
            test_cfg=test_cfg)
        self.panoptic_fusion_head = MODELS.build(fusion_cfg)
        self.test_cfg = test_cfg

    def extract_feat(self, batch_inputs: Tensor) -> Tuple[List[Tensor],
                                                          Tensor]:
        """Backbone, FPN and semantic FPN.

        Args:
            batch_inputs (Tensor): Padded images (B, 3, H, W), H and W
                multiples of 32.

        Returns:
            tuple[list[Tensor], Tensor]: P3..P7 (level l of shape
            (B, 256, H/2^(l+3), W/2^(l+3))) and F_h (B, 256, H/4, W/4).
        """
        feats = self.neck(self.backbone(batch_inputs))  # P2..P7
        return list(feats[1:]), self.semantic_fpn(feats)

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Compute the losses of a batch.

        Args:
            batch_inputs (Tensor): Padded images (B, 3, H, W).
            batch_data_samples (list[DetDataSample]): With ``gt_instances``
                and the stuff map ``gt_sem_seg``.

        Returns:
            dict[str, Tensor]: ``loss_pos_th``, ``loss_pos_st``,
            ``loss_seg_th``, ``loss_seg_st``.

        Raises:
            FloatingPointError: If a loss is NaN or infinite (before the
                backward pass; see :func:`check_finite_losses`).
        """
        level_feats, high_res_feats = self.extract_feat(batch_inputs)
        losses = self.panoptic_head.loss(level_feats, high_res_feats,
                                         batch_data_samples)
        check_finite_losses(losses)
        return losses

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Predict panoptic, instance and semantic results.

        Args:
            batch_inputs (Tensor): Padded images (B, 3, H, W).
            batch_data_samples (list[DetDataSample]): With ``img_shape`` and
                ``ori_shape`` in their meta information.
            rescale (bool): Results at the original image size (True) or
                at the resized input size. Defaults to True.

        Returns:
            list[DetDataSample]: The inputs with ``pred_panoptic_seg``
            (``sem_seg`` (1, H, W): ``label + id * INSTANCE_OFFSET``, void
            = num_classes), ``pred_instances`` (bool ``masks`` (n, H, W),
            ``labels``, ``scores``, ``bboxes``) and ``pred_sem_seg``
            (``sem_seg`` (1, H, W), stuff channel per pixel, 0 = things).
        """
        batch_img_metas = [sample.metainfo for sample in batch_data_samples]
        level_feats, high_res_feats = self.extract_feat(batch_inputs)
        head_inputs = (level_feats, high_res_feats, batch_img_metas)
        if self.panoptic_head.predicts_with_ground_truth:
            # the upper-bound analysis head of Table 10 reads the GT
            head_inputs += (batch_data_samples, )
        thing_results, stuff_results = self.panoptic_head.predict(
            *head_inputs)
        return self._attach_results(thing_results, stuff_results,
                                    batch_data_samples, rescale)

    def predict_by_feat(self,
                        outs: tuple,
                        batch_data_samples: SampleList,
                        rescale: bool = True) -> SampleList:
        """Post-processing of network outputs computed elsewhere (e.g. by
        an exported ONNX model): kernel selection, masks and merge.

        Args:
            outs (tuple): As :meth:`_forward` returns them: thing logits,
                stuff logits and kernel maps per level, and F_e.
            batch_data_samples (list[DetDataSample]): See :meth:`predict`.
            rescale (bool): See :meth:`predict`.

        Returns:
            list[DetDataSample]: See :meth:`predict`.
        """
        if self.panoptic_head.predicts_with_ground_truth:
            raise ValueError(f'predict_by_feat: the upper-bound head '
                             f'{type(self.panoptic_head).__name__} needs '
                             'the ground truth of predict(); it is not '
                             'available here')
        if len(batch_data_samples) != outs[-1].shape[0]:
            raise ValueError(f'predict_by_feat: {len(batch_data_samples)} '
                             f'data samples for a batch of '
                             f'{outs[-1].shape[0]}')
        thing_results, stuff_results = self.panoptic_head.predict_by_feat(
            *outs)
        return self._attach_results(thing_results, stuff_results,
                                    batch_data_samples, rescale)

    def _attach_results(self, thing_results: list, stuff_results: list,
                        batch_data_samples: SampleList,
                        rescale: bool) -> SampleList:
        """Fusion head results into the data samples."""
        batch_img_metas = [sample.metainfo for sample in batch_data_samples]
        results = self.panoptic_fusion_head.predict(
            thing_results, stuff_results, batch_img_metas, rescale=rescale)
        for sample, result in zip(batch_data_samples, results):
            sample.pred_panoptic_seg = result['pan_results']
            sample.pred_instances = result['ins_results']
            sample.pred_sem_seg = result['sem_results']
        return batch_data_samples

    def _forward(self,
                 batch_inputs: Tensor,
                 batch_data_samples: SampleList = None) -> tuple:
        """Network outputs without post-processing (``mode='tensor'``).

        Returns:
            tuple: The head's outputs: thing logits, stuff logits and kernel
            maps per level, and F_e (see :meth:`PanopticFCNHead.forward`).
        """
        level_feats, high_res_feats = self.extract_feat(batch_inputs)
        return self.panoptic_head(level_feats, high_res_feats)
