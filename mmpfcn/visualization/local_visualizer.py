"""Side-by-side pictures of the ground truth and the predicted panoptic
segmentation of Panoptic FCN."""
from typing import List, Optional

import mmcv
import numpy as np
import torch
from mmdet.evaluation import INSTANCE_OFFSET
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import PixelData

from mmpfcn.registry import VISUALIZERS


def _as_numpy(data) -> np.ndarray:
    """Masks or maps as a numpy array (tensors, BitmapMasks, arrays)."""
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    if hasattr(data, 'to_ndarray'):
        return data.to_ndarray()
    return np.asarray(data)


def gt_panoptic_map(data_sample: DetDataSample, num_things_classes: int,
                    num_classes: int) -> Optional[np.ndarray]:
    """The ground truth of a data sample as an mmdet panoptic map.

    Things (``gt_instances``, then the crowd ``ignored_instances``) become
    ``label + id * INSTANCE_OFFSET`` with ids 1, 2, ...; the stuff map
    ``gt_sem_seg`` (0 = things, ``1 + i`` = i-th stuff class, 255 = void)
    gives the stuff labels ``num_things_classes + i``; the rest is void
    (``num_classes``).

    Args:
        data_sample (DetDataSample): A sample of the test pipeline.
        num_things_classes (int): Number of thing classes.
        num_classes (int): Number of classes (things + stuff).

    Returns:
        np.ndarray | None: (H, W) int64 map at the size of the pipeline's
        image, or None if the sample has no annotations.
    """
    if 'gt_sem_seg' not in data_sample and 'gt_instances' not in data_sample:
        return None
    shape = None
    pan = None
    if 'gt_sem_seg' in data_sample:
        stuff = _as_numpy(data_sample.gt_sem_seg.sem_seg)[0].astype(np.int64)
        shape = stuff.shape
        is_stuff = (stuff >= 1) & (stuff != 255)
        pan = np.where(is_stuff, num_things_classes + stuff - 1, num_classes)
    instance_id = 0
    for key in ('gt_instances', 'ignored_instances'):
        if key not in data_sample or 'masks' not in data_sample.get(key):
            continue
        instances = data_sample.get(key)
        masks = _as_numpy(instances.masks).astype(bool)
        labels = _as_numpy(instances.labels)
        if pan is None:
            shape = masks.shape[1:]
            pan = np.full(shape, num_classes, dtype=np.int64)
        # masks may be padded beyond the stuff map: crop to it
        masks = masks[:, :shape[0], :shape[1]]
        for mask, label in zip(masks, labels):
            instance_id += 1
            pan[mask] = int(label) + instance_id * INSTANCE_OFFSET
    return pan


@VISUALIZERS.register_module()
class PanopticFCNVisualizer(DetLocalVisualizer):
    """Draw ground truth (left) and prediction (right) panoptic maps.

    mmdet's :class:`DetLocalVisualizer` would also paint every predicted
    instance and the model's stuff-channel semantic map (whose labels are
    not dataset classes) over the picture; here each side shows one
    panoptic map: every segment in its class colour, things with their
    class name. The ground truth is rebuilt from the annotations of the
    test pipeline (see :func:`gt_panoptic_map`) and resized to the picture.

    Args: as :class:`~mmdet.visualization.DetLocalVisualizer`.
    """

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[DetDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       pred_score_thr: float = 0.3,
                       step: int = 0) -> None:
        """Draw a sample's panoptic maps; arguments as mmdet's
        :meth:`DetLocalVisualizer.add_datasample` (``pred_score_thr`` is
        unused: the panoptic merge already chose the segments)."""
        panoptic = DetDataSample()
        if data_sample is not None:
            data_sample = data_sample.cpu()
            meta = self.dataset_meta or {}
            num_things = len(meta.get('thing_classes', ()))
            num_classes = len(meta.get('classes', ()))
            gt_map = gt_panoptic_map(data_sample, num_things, num_classes)
            if draw_gt and gt_map is not None:
                gt_map = mmcv.imresize(
                    gt_map.astype(np.float64), image.shape[1::-1],
                    interpolation='nearest').astype(np.int64)
                panoptic.gt_panoptic_seg = PixelData(sem_seg=gt_map[None])
            if draw_pred and 'pred_panoptic_seg' in data_sample:
                panoptic.pred_panoptic_seg = data_sample.pred_panoptic_seg
        super().add_datasample(
            name,
            image,
            panoptic,
            draw_gt=draw_gt and 'gt_panoptic_seg' in panoptic,
            draw_pred=draw_pred and 'pred_panoptic_seg' in panoptic,
            show=show,
            wait_time=wait_time,
            out_file=out_file,
            pred_score_thr=pred_score_thr,
            step=step)

    def _draw_panoptic_seg(self, image: np.ndarray, panoptic_seg: PixelData,
                           classes: Optional[List[str]],
                           palette: Optional[List]) -> np.ndarray:
        """mmdet's drawing, except that a map without any segment (all
        void, e.g. an untrained model's prediction) leaves the picture as
        it is instead of failing in mmdet."""
        if np.all(_as_numpy(panoptic_seg.sem_seg) == len(classes)):
            return image
        return super()._draw_panoptic_seg(image, panoptic_seg, classes,
                                          palette)
