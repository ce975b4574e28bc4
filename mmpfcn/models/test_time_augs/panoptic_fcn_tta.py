"""Panoptic test-time augmentation of Panoptic FCN: one kernel selection on
the averaged position maps of all views, masks averaged over the views."""
from typing import List, Sequence, Tuple

import torch
from mmdet.structures import DetDataSample
from mmengine.model import BaseTTAModel
from mmengine.structures import InstanceData
from torch import Tensor

from mmpfcn.models.layers.kernel_fusion import (
    class_mean_kernels,
    kernel_fusion,
)
from mmpfcn.models.layers.kernel_gathering import stuff_kernel_pooling
from mmpfcn.models.task_modules.kernel_selection import (
    select_stuff_regions,
    select_thing_peaks,
)
from mmpfcn.models.test_time_augs.view_align import (
    ViewMeta,
    average_views,
    reference_index,
    to_reference,
    view_meta,
)
from mmpfcn.registry import MODELS

# per view of one image: thing logits, stuff logits and kernel maps per
# level ((1, C, h_l, w_l) each) and F_e (1, C_e, H/4, W/4)
HeadOutputs = Tuple[List[Tensor], List[Tensor], List[Tensor], Tensor]


@MODELS.register_module()
class PanopticFCNTTAModel(BaseTTAModel):
    """Test-time augmentation (horizontal flip, several scales) of a
    :class:`PanopticFCN`, merged at the level of its kernels.

    Every view (``tta_pipeline``'s ``TestTimeAug``) runs the network up to
    the head outputs. The *reference* view, the first unflipped one (put
    the test scale first), sets the frame of the result. Then, once:

    1. Position maps: the thing and stuff logits of every level, un-flipped
       and resized to the reference's level size, are averaged (in the
       reference's padding only the reference counts). Thing peaks and
       stuff regions are selected ONCE on these maps, so scores, labels
       and the number of things come from all views together.
    2. Kernels: each view's kernel maps are brought into the reference
       frame the same way (border-replicated into the padding) and the
       kernels of every selected peak (or pooled over every selected stuff
       region) are gathered from each of them, giving one kernel per view
       and thing, and embedded.
    3. Fusion: kernel fusion runs ONCE on the per-view embedded kernels
       laid side by side (a thing's V kernels as one vector), so the
       groups of duplicates are the same in every view; stuff kernels are
       averaged per class as without TTA.
    4. Masks: each view convolves its own kernels with its own F_e, in its
       own frame; the mask logits are un-flipped, resized to the
       reference's H/4 x W/4 and averaged; maskness rescoring, the score
       threshold and the panoptic merge run once, as without TTA.

    Why the masks and not the kernel maps and F_e are averaged: the kernel
    head and the feature encoder see [Y, X] coordinate channels, and a
    mask logit is the dot product of a kernel and F_e *of the same frame*.
    In a flipped view X runs the other way, so an un-flipped kernel map or
    F_e is not the reference's map of that place: averaging them would pair
    one view's coordinate code with another's, and cancels the horizontal
    coordinate, which tells apart instances of a class. The mask logit is
    linear in the kernel and in F_e, so averaging the per-view mask logits
    of the same kernel is an ensemble of each view's own (frame-consistent)
    mask of that object. The position maps carry no coordinates by default
    and are class evidence per image location, so they are averaged as
    they are. Averages are of logits: for identical views the result is
    the single view's, bit for bit.

    The maps are averaged level by level: a thing seen at level l in one
    view is at level l in the others too only while the scales differ by
    less than 2x (the levels' object sizes double), so keep the scales
    close to the test scale. The upper-bound analysis head
    (:class:`PanopticFCNUpperBoundHead`) is not supported.

    Args:
        module (dict or nn.Module): The :class:`PanopticFCN` to augment.
        data_preprocessor (dict, optional): See mmengine's
            ``BaseTTAModel``.
    """

    def __init__(self, module, data_preprocessor=None) -> None:
        super().__init__(module, data_preprocessor)
        head = self.module.panoptic_head
        if head.predicts_with_ground_truth:
            raise ValueError(f'PanopticFCNTTAModel: {type(head).__name__} '
                             '(the ground-truth analysis of Table 10) is '
                             'not supported with test-time augmentation')

    def test_step(self, data) -> List[DetDataSample]:
        """Run every view to the head outputs, then :meth:`merge_preds`.

        Args:
            data (dict): ``inputs`` and ``data_samples``, each a list over
                the views of a list over the images (``TestTimeAug`` and
                ``pseudo_collate``).

        Returns:
            list[DetDataSample]: Per image, the reference view's data
            sample with the merged predictions (as :meth:`PanopticFCN.predict`
            gives them).
        """
        if not isinstance(data, dict):
            raise TypeError('PanopticFCNTTAModel.test_step expects a dict '
                            'of inputs and data_samples per view, got '
                            f'{type(data).__name__}')
        num_views = len(data['inputs'])
        per_view = []
        for index in range(num_views):
            view = self.module.data_preprocessor(
                {key: value[index]
                 for key, value in data.items()}, False)
            outs = self.module._forward(view['inputs'])
            for img, sample in enumerate(view['data_samples']):
                sample.head_outputs = tuple(
                    [x[img:img + 1] for x in part] if isinstance(part, list)
                    else part[img:img + 1] for part in outs)
            per_view.append(view['data_samples'])
        return self.merge_preds(list(zip(*per_view)))

    def merge_preds(
        self, data_samples_list: Sequence[Sequence[DetDataSample]]
    ) -> List[DetDataSample]:
        """Merge the views of every image.

        Args:
            data_samples_list: Per image, its views' data samples, each
                with ``head_outputs`` (:data:`HeadOutputs`, set by
                :meth:`test_step`) and the meta ``img_shape``,
                ``batch_input_shape``, ``flip`` and ``flip_direction``.

        Returns:
            list[DetDataSample]: See :meth:`test_step`.
        """
        return [self._merge_image(samples) for samples in data_samples_list]

    def _merge_image(self, samples: Sequence[DetDataSample]) -> DetDataSample:
        """Steps 1-4 of the class docstring for one image."""
        outputs = [sample.pop('head_outputs') for sample in samples]
        views = [view_meta(sample.metainfo) for sample in samples]
        ref = reference_index(views)
        num_levels = len(outputs[ref][0])
        thing_logits, stuff_logits = ([
            average_views(lambda i: outputs[i][part][level][0], views, ref)
            for level in range(num_levels)
        ] for part in (0, 1))
        kernel_maps = [[
            out[2][level][0] if index == ref else to_reference(
                out[2][level][0], views[index], views[ref],
                outputs[ref][2][level].shape[-2:], 'replicate')[0]
            for level in range(num_levels)
        ] for index, out in enumerate(outputs)]  # per view, per level
        encoded_feats = [out[3][0] for out in outputs]
        things = self._things(thing_logits, kernel_maps, encoded_feats, views,
                              ref)
        stuff = self._stuff(stuff_logits, kernel_maps, encoded_feats, views,
                            ref)
        return self.module._attach_results([things], [stuff],
                                           [samples[ref]], True)[0]

    def _average_masks(self, kernels: Sequence[Tensor],
                       encoded_feats: Sequence[Tensor],
                       views: Sequence[ViewMeta], ref: int) -> Tensor:
        """Per-view mask logits of per-view kernels, averaged in the
        reference frame.

        Args:
            kernels (Sequence[Tensor]): Per view, embedded kernels
                (n, C_e) of the same n objects.
            encoded_feats (Sequence[Tensor]): Per view, F_e (C_e, h_v, w_v).
            views (Sequence[ViewMeta]): The views.
            ref (int): Index of the reference view.

        Returns:
            Tensor: Mask probabilities (n, H/4, W/4) of the reference.
        """
        mask_logits = self.module.panoptic_head.thing_generator.mask_logits
        return average_views(
            lambda i: mask_logits(kernels[i], encoded_feats[i]), views,
            ref).sigmoid()

    def _things(self, thing_logits: List[Tensor],
                kernel_maps: List[List[Tensor]],
                encoded_feats: List[Tensor], views: Sequence[ViewMeta],
                ref: int) -> InstanceData:
        """Thing results of one image (``masks`` (n, H/4, W/4), ``scores``,
        ``labels``), see :meth:`ThingGenerator.predict`."""
        head = self.module.panoptic_head
        generator, cfg = head.thing_generator, head.test_cfg
        scores, labels, kernels = [], [], [[] for _ in views]
        for level, logits in enumerate(thing_logits):
            level_scores, level_labels, positions = select_thing_peaks(
                logits[None], cfg.pool_sizes[level], cfg.peaks_per_level,
                cfg.thing_peak_thr)[0]
            scores.append(level_scores)
            labels.append(level_labels)
            for index, maps in enumerate(kernel_maps):
                kernels[index].append(maps[level].flatten(1)[:, positions].t())
        scores, labels = torch.cat(scores), torch.cat(labels)
        embedded = [generator.embed(torch.cat(k)) for k in kernels]
        if cfg.use_fusion:
            fused, scores, labels = kernel_fusion(
                torch.cat(embedded, dim=1), scores, labels,
                cfg.fusion_sim_thr, cfg.fusion_class_aware)
            embedded = fused.chunk(len(views), dim=1)
        probs = self._average_masks(embedded, encoded_feats, views, ref)
        return generator.score_masks(probs, scores, labels, cfg)

    def _stuff(self, stuff_logits: List[Tensor],
               kernel_maps: List[List[Tensor]], encoded_feats: List[Tensor],
               views: Sequence[ViewMeta], ref: int) -> InstanceData:
        """Stuff results of one image (``masks`` (u, H/4, W/4), ``scores``,
        ``labels``), see :meth:`StuffGenerator.predict`."""
        head = self.module.panoptic_head
        generator = head.stuff_generator
        scores, labels, kernels = [], [], [[] for _ in views]
        for level, logits in enumerate(stuff_logits):
            level_scores, level_labels, regions = select_stuff_regions(
                logits[None], head.test_cfg.stuff_score_thr)[0]
            scores.append(level_scores)
            labels.append(level_labels + generator.label_offset)
            for index, maps in enumerate(kernel_maps):
                kernels[index].append(
                    stuff_kernel_pooling(regions, maps[level]))
        scores, labels = torch.cat(scores), torch.cat(labels)
        embedded = []
        for view_kernels in kernels:
            mean, class_scores, classes = class_mean_kernels(
                generator.embed(torch.cat(view_kernels)), scores, labels)
            embedded.append(mean)
        probs = self._average_masks(embedded, encoded_feats, views, ref)
        return InstanceData(masks=probs, scores=class_scores, labels=classes)
