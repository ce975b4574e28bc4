"""The visualizer of Panoptic FCN: panoptic pictures of predictions and,
side by side, of the ground truth."""
from typing import Optional

import mmcv
import numpy as np
import torch
from mmdet.evaluation import INSTANCE_OFFSET
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer
from mmdet.visualization.palette import get_palette

from mmpfcn.evaluation.functional.rle import is_rle_list, masks_to_dense
from mmpfcn.registry import VISUALIZERS

from .panoptic_overlay import draw_panoptic_overlay
from .panoptic_segments import panoptic_segments


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


def predicted_instances(data_sample: DetDataSample,
                        shape: tuple) -> Optional[dict]:
    """``masks`` ((n, H, W) bool, or a list of RLE dicts as given),
    ``labels`` and ``scores`` numpy arrays of a sample's
    ``pred_instances`` (None if it has none)."""
    if 'pred_instances' not in data_sample or \
            'masks' not in data_sample.pred_instances:
        return None
    pred = data_sample.pred_instances
    masks = pred.masks if is_rle_list(pred.masks) else masks_to_dense(
        pred.masks, shape)
    return dict(masks=masks,
                labels=_as_numpy(pred.labels), scores=_as_numpy(pred.scores))


@VISUALIZERS.register_module()
class PanopticFCNVisualizer(DetLocalVisualizer):
    """The one picture style of mmpfcn: panoptic maps over their image.

    Every picture of the project comes from here: the Inferencer and the
    demos (prediction only), ``tools/test.py --show-dir`` and
    ``tools/analysis_tools/analyze_results.py`` (ground truth left,
    prediction right). Each side is drawn by
    :func:`~mmpfcn.visualization.panoptic_overlay.draw_panoptic_overlay`:
    things in distinct colours labelled with class name (and, predicted,
    the score of their instance), stuff in its palette colour, segment
    outlines. mmdet's :class:`DetLocalVisualizer` would also paint every
    predicted instance and the model's stuff-channel semantic map (whose
    labels are not dataset classes); here only the panoptic map is drawn.
    The ground truth is rebuilt from the annotations of the test pipeline
    (see :func:`gt_panoptic_map`) and resized to the picture.

    Args: as :class:`~mmdet.visualization.DetLocalVisualizer`; the palette
    is ``dataset_meta['palette']`` (RGB triples, or a name mmdet's
    ``get_palette`` knows, e.g. ``'random'``).
    """

    def set_image(self, image: np.ndarray) -> None:
        """Set the image to draw on, as mmengine's
        :meth:`~mmengine.visualization.Visualizer.set_image`, without
        drawing it on the full-size matplotlib canvas (about 120 bytes per
        pixel) until something is drawn over it: :meth:`get_image` of an
        image nothing was drawn on is that image (the same pixels)."""
        image = image.astype('uint8')
        self._image = self._undrawn = image
        self.width, self.height = image.shape[1], image.shape[0]
        self._default_font_size = max(
            np.sqrt(self.height * self.width) // 90, 10)

    @property
    def ax_save(self):
        """mmengine's axes of the picture; the image set by
        :meth:`set_image` is put on them when they are first used."""
        undrawn = self.__dict__.get('_undrawn')
        if undrawn is not None:
            self._undrawn = None
            super().set_image(undrawn)
        return self._ax_save

    @ax_save.setter
    def ax_save(self, axes) -> None:
        self._ax_save = axes

    def get_image(self) -> np.ndarray:
        """The picture, RGB (H, W, 3) uint8: the image of :meth:`set_image`
        itself (not a copy) if nothing was drawn over it, else mmengine's
        matplotlib rendering."""
        undrawn = self.__dict__.get('_undrawn')
        if undrawn is not None:
            return undrawn
        return super().get_image()

    def draw_panoptic(self,
                      image: np.ndarray,
                      pan_seg: np.ndarray,
                      instances: Optional[dict] = None,
                      score_thr: float = 0.0) -> np.ndarray:
        """Draw one panoptic map over an image.

        Args:
            image (np.ndarray): (H, W, 3) RGB uint8 image.
            pan_seg (np.ndarray): (H, W) mmdet panoptic map (``label +
                id * INSTANCE_OFFSET``, void = number of classes).
            instances (dict, optional): ``masks`` ((n, H, W) bool),
                ``labels``, ``scores``: gives things their score.
            score_thr (float): Things whose score is below it are not
                drawn (those without a score always are). Defaults to 0.

        Returns:
            np.ndarray: (H, W, 3) RGB uint8 picture.
        """
        meta = self.dataset_meta or {}
        classes = list(meta.get('classes', ()))
        num_things = len(meta.get('thing_classes', ()))
        palette = get_palette(meta.get('palette', 'random'), len(classes))
        id_map, segments = panoptic_segments(pan_seg, num_things,
                                             len(classes), instances)
        hidden = [s['id'] for s in segments
                  if s.get('score', score_thr) < score_thr]
        if hidden:
            id_map[np.isin(id_map, hidden)] = 0
            segments = [s for s in segments if s['id'] not in hidden]
        picture = draw_panoptic_overlay(
            np.ascontiguousarray(image[..., ::-1]), id_map, segments,
            classes, palette)
        return picture[..., ::-1]

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
        :meth:`DetLocalVisualizer.add_datasample` (``image`` RGB), with
        ``pred_score_thr`` the lowest score of a drawn predicted thing.

        The picture is the ground truth (if drawn and annotated) beside
        the prediction (if drawn and present), else the image; it is shown,
        written to ``out_file`` or, without one, given to the visualizer's
        backends.
        """
        if image.dtype != np.uint8:
            image = image.clip(0, 255).astype(np.uint8)
        pictures = []
        if data_sample is not None:
            data_sample = data_sample.cpu()
            meta = self.dataset_meta or {}
            gt_map = gt_panoptic_map(data_sample,
                                     len(meta.get('thing_classes', ())),
                                     len(meta.get('classes', ())))
            if draw_gt and gt_map is not None:
                gt_map = mmcv.imresize(
                    gt_map.astype(np.float64), image.shape[1::-1],
                    interpolation='nearest').astype(np.int64)
                pictures.append(self.draw_panoptic(image, gt_map))
            if draw_pred and 'pred_panoptic_seg' in data_sample:
                pan = _as_numpy(data_sample.pred_panoptic_seg.sem_seg)[0]
                pictures.append(self.draw_panoptic(
                    image, pan, predicted_instances(data_sample, pan.shape),
                    pred_score_thr))
        drawn = pictures[0] if len(pictures) == 1 else \
            np.concatenate(pictures, axis=1) if pictures else image
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
