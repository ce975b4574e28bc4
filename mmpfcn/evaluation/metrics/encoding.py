"""The per-image encoding of the runner metrics: checked predictions and
GT as compact, picklable records.

:class:`PanopticEncoder` checks a data sample's predictions against the
image's entry in the annotation file and turns them, with the image's GT,
into RLE segments, RLE instance masks and three pixel counts per semantic
class. With ``threads`` it does the encoding in background threads (numpy,
OpenCV and the PNG decoding release the GIL), which overlap the model's
forward on the next batch; the record then holds the job under ``'job'``
until :meth:`PanopticEncoder.finish` puts its outputs in.
"""
import contextlib
import gc
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Deque, Iterator, Optional

import numpy as np
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET

from ..functional.rle import encode_masks
from .class_maps import SEM_IGNORE, ClassMaps
from .ground_truth import GT_RLE_KEY, PanopticGroundTruth, check_size
from .segments import encode_panoptic_prediction
from .semantic_iou import semantic_area_stats_rle

#: Images per encoding thread that may wait for it before process() blocks.
BACKLOG_PER_THREAD = 4


def to_numpy(data: np.ndarray | torch.Tensor) -> np.ndarray:
    """A CPU numpy view of a tensor (arrays pass through)."""
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    return np.asarray(data)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic garbage collector inside the block (restoring
    its previous state)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def label_map(data: np.ndarray | torch.Tensor, name: str,
              what: str) -> np.ndarray:
    """The (H, W) integer map of a (1, H, W) prediction, in its own dtype
    (no widening copy: int32 maps encode faster)."""
    data = to_numpy(data)
    if data.ndim != 3 or data.shape[0] != 1 or not np.issubdtype(
            data.dtype, np.integer):
        raise ValueError(f'{name}: {what}.sem_seg must be a (1, H, W) '
                         f'integer map, got {data.dtype} of shape '
                         f'{data.shape}')
    return data[0]


class PanopticEncoder:
    """Checks and encodes the predictions and GT of processed images.

    Args:
        gt (PanopticGroundTruth): The split's ground truth.
        class_maps (Callable[[], ClassMaps]): Gives the label -> category
            lookups (built lazily by the metric from its dataset meta).
        threads (int): Background encoding threads; at most
            ``BACKLOG_PER_THREAD * threads`` images wait for them
            (:meth:`submit` blocks beyond, and raises the error of a failed
            job, which names the image). 0 encodes inside :meth:`submit`.
    """

    def __init__(self, gt: PanopticGroundTruth,
                 class_maps: Callable[[], ClassMaps], threads: int) -> None:
        if threads < 0:
            raise ValueError('PanopticFCNMetric: threads must be >= 0, '
                             f'got {threads}')
        self.gt = gt
        self._class_maps = class_maps
        self.threads = threads
        self._pool: Optional[ThreadPoolExecutor] = None
        self._jobs: Deque[Future] = deque()  # submitted, maybe running

    @property
    def class_maps(self) -> ClassMaps:
        """The metric's label -> category lookups."""
        return self._class_maps()

    def panoptic_map(self, sample: dict, info: dict,
                     name: str) -> np.ndarray:
        """The checked (H, W) map of ``pred_panoptic_seg``, as a copy that
        outlives the sample (mmdet's panoptic metric, if it runs in the
        same evaluator, overwrites void labels in place)."""
        pan = label_map(sample['pred_panoptic_seg']['sem_seg'], name,
                        'pred_panoptic_seg')
        check_size(pan.shape, info, name, 'pred_panoptic_seg',
                   self.gt.ann_file)
        return pan.copy()

    def panoptic_segments(self, pan: np.ndarray, ignore_index: Optional[int],
                          name: str) -> tuple:
        """Encode a panoptic map as RLE segments with ids 1..K.

        Returns:
            tuple: the segments (``id``, ``category_id``, ``area``,
            ``segmentation``), the (K',) distinct values of the map and
            the (K',) segment id of each (0 = void).
        """
        num_classes = len(self.class_maps.classes)
        void = (num_classes,
                num_classes if ignore_index is None else ignore_index)
        return encode_panoptic_prediction(
            pan, self.class_maps.label2cat, void, INSTANCE_OFFSET, name)

    def submit(self, sample: dict) -> dict:
        """The compact record of one image: ``image_id``, ``height``,
        ``width``, and (see :meth:`_encode`) the encoded parts, or the
        background job making them under ``'job'``.

        The prediction is checked here, in the calling thread.
        """
        info, name = self.gt.image_info(sample)
        pan = self.panoptic_map(sample, info, name)
        instances = pred_sem = None
        if 'pred_instances' in sample:
            instances = self._check_instances(sample['pred_instances'], info,
                                              name)
        if 'pred_sem_seg' in sample:
            pred_sem = self._semantic_map(sample['pred_sem_seg'], info, name)
        # only what the encoding needs, not the sample's other tensors
        gt_sample = {key: sample[key] for key in
                     ('img_id', 'seg_map_path', GT_RLE_KEY) if key in sample}
        args = (pan, sample['pred_panoptic_seg'].get('ignore_index'),
                instances, pred_sem, gt_sample, info, name)
        record = dict(image_id=sample['img_id'], height=info['height'],
                      width=info['width'])
        if not self.threads:
            record.update(self._encode(*args))
            return record
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.threads, thread_name_prefix='panoptic_metric')
        self.class_maps  # built here, not concurrently by the threads
        job = self._pool.submit(self._encode, *args)
        record['job'] = job
        # bounded backlog: each waiting job holds the image's maps
        self._jobs.append(job)
        while len(self._jobs) > BACKLOG_PER_THREAD * self.threads:
            self._jobs.popleft().result()  # waits; raises its error
        return record

    def _encode(self, pan: np.ndarray, ignore_index: Optional[int],
                instances: Optional[dict], pred_sem: Optional[np.ndarray],
                sample: dict, info: dict, name: str) -> dict:
        """The parts of an image's record made from its checked prediction
        and its GT: ``pred_segments``, ``instances``, ``file_name``,
        ``gt_segments`` and ``sem_stats`` (None without a semantic
        prediction)."""
        pred_segments, _, _ = self.panoptic_segments(pan, ignore_index, name)
        if instances is not None:
            instances = dict(instances,
                             segmentation=encode_masks(instances['masks']))
            del instances['masks']
        gt = self.gt.rle(sample, info, name,
                         self.class_maps if pred_sem is not None else None)
        sem_stats = None
        if pred_sem is not None:
            labels, rles = gt['sem']
            sem_stats = semantic_area_stats_rle(
                pred_sem, labels, rles, self.class_maps.num_sem_classes,
                SEM_IGNORE)
        return dict(pred_segments=pred_segments, instances=instances,
                    file_name=gt['file_name'], gt_segments=gt['segments'],
                    sem_stats=sem_stats)

    def finish(self, results: list) -> None:
        """Wait for the background jobs of ``results`` and put their
        outputs into the records, in order (the first failed job raises
        its error, which names the image)."""
        for record in results:
            job: Optional[Future] = record.pop('job', None)
            if job is not None:
                record.update(job.result())
        self._jobs = deque(job for job in self._jobs if not job.done())

    def shutdown(self) -> None:
        """Stop the threads (none idle between passes, when the training
        dataloader forks its workers) and forget the pending jobs."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        self._jobs.clear()

    def _check_instances(self, instances: dict, info: dict,
                         name: str) -> dict:
        """Category ids, scores and the (n, H, W) masks (numpy, to be
        RLE-encoded) of ``pred_instances``."""
        masks = instances['masks']
        if masks.ndim != 3:
            raise ValueError(f'{name}: pred_instances.masks must be '
                             f'(n, H, W), got shape {tuple(masks.shape)}')
        check_size(masks.shape[1:], info, name, 'pred_instances.masks',
                   self.gt.ann_file)
        labels = to_numpy(instances['labels']).astype(np.int64)
        num_things = self.class_maps.thing2cat.size
        if labels.size and (labels.min() < 0 or labels.max() >= num_things):
            raise ValueError(f'{name}: pred_instances.labels must index the '
                             f'{num_things} thing classes, got '
                             f'[{labels.min()}, {labels.max()}]')
        return dict(
            category_id=self.class_maps.thing2cat[labels],
            score=to_numpy(instances['scores']).astype(np.float64),
            masks=to_numpy(masks))

    def _semantic_map(self, sem_seg: dict, info: dict,
                      name: str) -> np.ndarray:
        """The checked (H, W) label map of ``pred_sem_seg``, as a copy
        that outlives the sample (for the background thread)."""
        pred = label_map(sem_seg['sem_seg'], name, 'pred_sem_seg')
        check_size(pred.shape, info, name, 'pred_sem_seg',
                   self.gt.ann_file)
        num_sem = self.class_maps.num_sem_classes
        if pred.size and (pred.min() < 0 or pred.max() >= num_sem):
            raise ValueError(f'{name}: pred_sem_seg labels must lie in '
                             f'0..{num_sem - 1}, got [{pred.min()}, '
                             f'{pred.max()}]')
        return pred.astype(np.int16 if num_sem < 2**15 else np.int64)
