"""The per-image encoding of the panoptic metrics: checked predictions and
GT as compact, picklable parts.

:class:`PanopticEncoder` checks a data sample's predictions against the
image's entry in the annotation file and turns them, with the image's GT,
into the parts the metrics keep (:data:`PARTS`): RLE segments of the GT
and of the predicted panoptic map, RLE instance masks and three pixel
counts per semantic class. With ``threads`` it computes them in background
threads (numpy, OpenCV and the PNG decoding release the GIL), which overlap
the model's forward on the next batch; each part is then a
``concurrent.futures.Future`` until the metric asks for its result.
"""
import contextlib
import gc
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Dict, Hashable, Iterator, List, Optional

import numpy as np
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET

from ..functional.rle import encode_masks, is_rle_list
from .class_maps import SEM_IGNORE, ClassMaps
from .ground_truth import GT_RLE_KEY, PanopticGroundTruth, check_size
from .segments import encode_panoptic_prediction
from .semantic_iou import semantic_area_stats_rle

#: Images per encoding thread that may wait for it before process() blocks.
BACKLOG_PER_THREAD = 4

#: The parts of an image's encoding, and what each holds (see
#: :meth:`PanopticEncoder.job`).
PARTS = {
    'gt': 'the GT as RLE: file_name, segments, ids, rles',
    'pred_segments': 'the RLE segments of pred_panoptic_seg',
    'instances': 'category_id, score and RLE segmentation of '
                 'pred_instances',
    'sem_stats': 'intersection, GT and predicted pixels per semantic class '
                 'of pred_sem_seg',
}


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


def done(value: Any) -> Future:
    """A future that already holds ``value``."""
    future: Future = Future()
    future.set_result(value)
    return future


class PanopticEncoder:
    """Checks and encodes the predictions and GT of processed images.

    Args:
        gt (PanopticGroundTruth): The split's ground truth.
        class_maps (Callable[[], ClassMaps]): Gives the label -> category
            lookups (built lazily by the metric from its dataset meta).
        threads (int): Background encoding threads; the parts of at most
            ``BACKLOG_PER_THREAD * threads`` images wait for them
            (:meth:`submit` blocks beyond, and raises the error of a failed
            job, which names the image). 0 encodes inside :meth:`submit`.
        owner (str): The metric, as named in errors.
    """

    def __init__(self, gt: PanopticGroundTruth,
                 class_maps: Callable[[], ClassMaps], threads: int,
                 owner: str) -> None:
        if threads < 0:
            raise ValueError(f'{owner}: threads must be >= 0, got {threads}')
        self.gt = gt
        self._class_maps = class_maps
        self.threads = threads
        self._pool: Optional[ThreadPoolExecutor] = None
        # per image (its encoding), the jobs submitted, maybe running
        self._jobs: Dict[Hashable, List[Future]] = OrderedDict()
        #: Evaluation passes ended (:meth:`shutdown` calls).
        self.passes = 0

    @property
    def class_maps(self) -> ClassMaps:
        """The metric's label -> category lookups."""
        return self._class_maps()

    def encodes_like(self, other: 'PanopticEncoder') -> bool:
        """Whether ``other`` gives the same parts for any sample: the same
        annotation file, GT folder and label spaces."""
        if other is self:
            return True
        if (self.gt.ann_file, self.gt.seg_prefix) != (other.gt.ann_file,
                                                      other.gt.seg_prefix):
            return False
        mine, theirs = self.class_maps, other.class_maps
        return (mine.classes == theirs.classes
                and mine.stuff_classes == theirs.stuff_classes
                and np.array_equal(mine.thing2cat, theirs.thing2cat))

    # ------------------------------------------------------------ jobs

    def submit(self, work: Callable[[], Any], image: Hashable) -> Future:
        """Run ``work`` in the background (or here, without threads).

        Args:
            work (Callable[[], Any]): Computes parts.
            image (Hashable): The image's encoding, whose parts count as
                one image in the backlog.

        Returns:
            Future: Its result; without threads already done, or the error
            raised here.
        """
        if not self.threads:
            return done(work())
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.threads, thread_name_prefix='panoptic_metric')
        self.class_maps  # built here, not concurrently by the threads
        job = self._pool.submit(work)
        # bounded backlog: each waiting job holds the image's maps
        self._jobs.setdefault(image, []).append(job)
        while len(self._jobs) > BACKLOG_PER_THREAD * self.threads:
            for oldest in self._jobs.popitem(last=False)[1]:
                oldest.result()  # waits; raises its error
        return job

    def job(self, part: str, sample: dict, info: dict, name: str,
            gt: Optional[Callable[[], dict]] = None) -> Callable[[], Any]:
        """Check the input of one part of a sample's encoding, here in the
        calling thread, and return the work computing it.

        Args:
            part (str): One of :data:`PARTS`.
            sample (dict): The data sample.
            info (dict): The image's entry in the annotation file.
            name (str): The image, as named in errors.
            gt (Callable[[], dict], optional): Gives the image's ``'gt'``
                part, which ``'sem_stats'`` needs (computed before it: by
                the same job, or by one submitted earlier, so that a thread
                waiting for it cannot block the pool).

        Returns:
            Callable[[], Any]: Computes the part from copies of its input
            (not the sample's tensors, which the caller may reuse).
        """
        if part == 'gt':
            # only what the encoding needs, not the sample's other tensors
            gt_sample = {key: sample[key] for key in
                         ('img_id', 'seg_map_path', GT_RLE_KEY)
                         if key in sample}
            return lambda: self.gt.rle(gt_sample, info, name)
        if part == 'pred_segments':
            pan = self.panoptic_map(sample, info, name)
            ignore_index = sample['pred_panoptic_seg'].get('ignore_index')
            return lambda: self.panoptic_segments(pan, ignore_index,
                                                  name)[0]
        if part == 'instances':
            instances = self._check_instances(sample['pred_instances'], info,
                                              name)
            return lambda: self._encode_instances(instances)
        if part == 'sem_stats':
            pred_sem = self._semantic_map(sample['pred_sem_seg'], info, name)
            return lambda: self._semantic_stats(pred_sem, gt())
        raise KeyError(f'unknown encoding part {part!r}; one of '
                       f'{list(PARTS)}')

    def shutdown(self, cancel: bool = False) -> None:
        """Stop the threads (none idle between passes, when the training
        dataloader forks its workers), after their jobs, or cancelling
        those not started."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=cancel)
            self._pool = None
        self._jobs.clear()
        self.passes += 1

    # ----------------------------------------------------------- parts

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

    def _check_instances(self, instances: dict, info: dict,
                         name: str) -> dict:
        """Category ids and scores of ``pred_instances``, with its masks as
        (n, H, W) ``masks`` (numpy, to be RLE-encoded) or, given as a list
        of n pycocotools RLE dicts (``test_cfg.instance_masks='rle'``), as
        they are under ``segmentation``."""
        if 'masks' not in instances:
            raise ValueError(
                f'{name}: pred_instances has no masks (a model with '
                "test_cfg.instance_masks='none'?)")
        masks = instances['masks']
        labels = to_numpy(instances['labels']).astype(np.int64)
        if is_rle_list(masks):
            for rle in masks:
                check_size(rle['size'], info, name,
                           'an RLE of pred_instances.masks', self.gt.ann_file)
            shape, masks = (len(masks), ), dict(segmentation=list(masks))
        elif getattr(masks, 'ndim', None) == 3:
            check_size(masks.shape[1:], info, name, 'pred_instances.masks',
                       self.gt.ann_file)
            shape, masks = masks.shape[:1], dict(masks=to_numpy(masks))
        else:
            raise ValueError(
                f'{name}: pred_instances.masks must be (n, H, W) or a list '
                'of n pycocotools RLE dicts, got '
                f"{getattr(masks, 'shape', type(masks).__name__)}")
        if shape != labels.shape:
            raise ValueError(f'{name}: {shape[0]} pred_instances.masks for '
                             f'{labels.size} labels')
        num_things = self.class_maps.thing2cat.size
        if labels.size and (labels.min() < 0 or labels.max() >= num_things):
            raise ValueError(f'{name}: pred_instances.labels must index the '
                             f'{num_things} thing classes, got '
                             f'[{labels.min()}, {labels.max()}]')
        return dict(
            category_id=self.class_maps.thing2cat[labels],
            score=to_numpy(instances['scores']).astype(np.float64),
            **masks)

    @staticmethod
    def _encode_instances(instances: dict) -> dict:
        """The ``'instances'`` part: the masks as RLE ``segmentation``
        (bitmaps encoded, RLEs as given)."""
        if 'masks' not in instances:
            return instances
        instances = dict(instances,
                         segmentation=encode_masks(instances['masks']))
        del instances['masks']
        return instances

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

    def _semantic_stats(self, pred_sem: np.ndarray, gt: dict) -> np.ndarray:
        """The ``'sem_stats'`` part: (3, 1 + N_st) pixel counts of the
        semantic prediction against the GT, things merged into 0 and the
        ids that no GT segment lists (void) left out."""
        categories = {seg['id']: seg['category_id'] for seg in gt['segments']}
        labels = self.class_maps.sem_lut(
            np.array([categories.get(int(i), -1) for i in gt['ids']]))
        return semantic_area_stats_rle(
            pred_sem, labels, gt['rles'], self.class_maps.num_sem_classes,
            SEM_IGNORE)
