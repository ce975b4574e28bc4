"""The upper-bound analysis of Panoptic FCN (paper Table 10): the head's
inference with the ground-truth thing centres and stuff regions in place of
the predicted ones. An evaluation tool, only for the Table 10 configs."""
from typing import List, Sequence, Tuple

from mmengine.structures import InstanceData
from torch import Tensor

from mmpfcn.models.heads.panoptic_fcn_head import PanopticFCNHead
from mmpfcn.models.task_modules.gt_positions import (
    check_upper_bound,
    gt_stuff_regions,
    gt_targets,
    gt_thing_peaks,
)
from mmpfcn.models.task_modules.image_targets import ImageTargets
from mmpfcn.registry import MODELS


@MODELS.register_module()
class PanopticFCNUpperBoundHead(PanopticFCNHead):
    """:class:`PanopticFCNHead` whose inference takes the positions from the
    ground truth: "given ground truth positions of object centers L^th_i
    and stuff regions L^st_i" (paper Table 10).

    At each level the ground truth is placed exactly as the training
    targets place it (:meth:`PanopticFCNTargetGenerator.get_targets` on the
    test image's annotations): the thing kernels are taken at the targets'
    centres (at most ``max_things_per_level`` per level) and the stuff
    kernels pooled over the targets' stuff regions. Training is the
    ordinary head's.

    - ``'gt_position'``: the classes and scores are predicted: a thing
      takes the class with the highest heat at its centre and that heat; a
      stuff region the channel whose probability, averaged over the
      region, is highest and that average (:func:`gt_stuff_regions`).
    - ``'gt_position_class'``: the ground-truth classes, score 1.

    The test data must carry the ground truth (``gt_instances`` and
    ``gt_sem_seg``, as the COCO test pipeline loads them); the thing peak
    and stuff score thresholds do not apply to the given positions.

    Args:
        upper_bound (str): ``'gt_position'`` or ``'gt_position_class'``
            (the rows of Table 10). Defaults to ``'gt_position'``.
        **kwargs: The arguments of :class:`PanopticFCNHead`.
    """

    predicts_with_ground_truth = True

    def __init__(self, upper_bound: str = 'gt_position', **kwargs) -> None:
        super().__init__(**kwargs)
        check_upper_bound(upper_bound, type(self).__name__)
        self.upper_bound = upper_bound

    def predict(
        self, level_feats: Sequence[Tensor], high_res_feats: Tensor,
        batch_img_metas: List[dict], batch_data_samples: list
    ) -> Tuple[List[InstanceData], List[InstanceData]]:
        """Forward, then the masks at the ground-truth positions.

        Args:
            level_feats (Sequence[Tensor]): P3..P7, see :meth:`forward`.
            high_res_feats (Tensor): F_h (B, in_channels, H/4, W/4).
            batch_img_metas (list[dict]): ``batch_input_shape`` and
                ``img_shape`` of every image.
            batch_data_samples (list[DetDataSample]): With ``gt_instances``
                and ``gt_sem_seg``, see :func:`gt_targets`.

        Returns:
            tuple[list[InstanceData], list[InstanceData]]: See
            :meth:`PanopticFCNHead.predict`.
        """
        outs = self(level_feats, high_res_feats)
        self._check_batch(batch_img_metas, outs[-1])
        targets = gt_targets(self.target_generator, batch_data_samples,
                             batch_img_metas,
                             [tuple(x.shape[-2:]) for x in outs[0]],
                             outs[-1].device)
        return self.predict_with_targets(*outs, targets)

    def predict_with_targets(
        self, thing_logits: List[Tensor], stuff_logits: List[Tensor],
        kernel_maps: List[Tensor], encoded_feats: Tensor,
        targets: List[ImageTargets]
    ) -> Tuple[List[InstanceData], List[InstanceData]]:
        """The ordinary mask prediction, fusion and scoring, from the
        targets' positions instead of the predicted ones.

        Args:
            thing_logits (list[Tensor]): Per level (B, N_th, h_l, w_l).
            stuff_logits (list[Tensor]): Per level (B, N_st, h_l, w_l).
            kernel_maps (list[Tensor]): Per level (B, C, h_l, w_l).
            encoded_feats (Tensor): F_e (B, C_e, H/4, W/4).
            targets (list[ImageTargets]): The targets of each image.

        Returns:
            tuple[list[InstanceData], list[InstanceData]]: See
            :meth:`PanopticFCNHead.predict`.
        """
        mode = self.upper_bound
        peaks = [[
            gt_thing_peaks(logits[img], t.thing_centers[level],
                           t.thing_labels[level], mode)
            for img, t in enumerate(targets)
        ] for level, logits in enumerate(thing_logits)]
        regions = [[
            gt_stuff_regions(logits[img], t.stuff_regions[level],
                             t.stuff_labels[level], mode)
            for img, t in enumerate(targets)
        ] for level, logits in enumerate(stuff_logits)]
        return (self.thing_generator.predict_from_peaks(
            peaks, kernel_maps, encoded_feats, self.test_cfg),
                self.stuff_generator.predict_from_regions(
                    regions, kernel_maps, encoded_feats))
