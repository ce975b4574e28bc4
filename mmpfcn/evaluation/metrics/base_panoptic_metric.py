"""The common frame of the panoptic metrics: ground truth, class maps and
the shared per-image encoding.

Per image, :meth:`BasePanopticMetric.process` asks the sample's shared
encoding (:mod:`.shared_encoding`) for the parts the metric needs
(:attr:`~BasePanopticMetric.parts`), which background threads compute
while the model runs on the next batch. :meth:`~BasePanopticMetric.evaluate`
waits for them and keeps, per image, only what the metric scores
(:meth:`~BasePanopticMetric.keep`): only these small, picklable records are
gathered from the ranks. :meth:`~BasePanopticMetric.compute_metrics` then
scores them with the cyclic garbage collector paused.
"""
from abc import abstractmethod
from collections import Counter
from typing import Dict, Optional, Sequence, Tuple

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmengine.structures import BaseDataElement

from .class_maps import ClassMaps, build_class_maps
from .encoding import PanopticEncoder, gc_paused
from .ground_truth import PanopticGroundTruth
from .shared_encoding import sample_encoding


class BasePanopticMetric(BaseMetric):
    """A metric on the encoded predictions and COCO panoptic GT of images.

    Reads from each data sample ``img_id``, ``img_path`` and the
    predictions named by :attr:`inputs`, at the original image size.
    Ground truth: ``ann_file`` plus the panoptic PNGs, taken as RLE from
    the sample's ``gt_panoptic_rle`` when the test pipeline provides it
    (``LoadPanopticFCNAnnotations(with_eval_rle=True)``, packed as a meta
    key: no PNG decoded here), else read from ``seg_prefix`` (or the
    sample's ``seg_map_path``).

    The metrics of one evaluator encode each sample once: the first one
    listed encodes the parts that each asks for, with its ``cache_gt``,
    ``threads`` and ``backend_args``, if their ``ann_file``,
    ``seg_prefix`` and classes agree (see :mod:`.shared_encoding`).

    Args:
        ann_file (str): COCO panoptic JSON.
        seg_prefix (str, optional): Folder of the GT panoptic PNGs.
            Defaults to None: use each sample's ``seg_map_path``.
        classwise (bool): Log per-class results. Defaults to False.
        cache_gt (bool): Keep each image's GT as RLE after its first
            evaluation from its PNG, so that later validations skip the
            decoding (the RLEs of its segments, kept on the rank that
            saw it). Defaults to True.
        threads (int): Threads encoding the predictions and the GT of the
            processed images in the background (numpy, OpenCV and the PNG
            decoding release the GIL), overlapping the model's forward.
            At most ``encoding.BACKLOG_PER_THREAD * threads`` (4 per
            thread) parts wait for them (``process`` blocks beyond); an
            error in one (naming the image) is raised by the next
            :meth:`process` call that waits, or by :meth:`evaluate`. 0
            does it inside :meth:`process`. Defaults to 1.
        backend_args (dict, optional): File backend of ``ann_file`` and the
            GT PNGs. Defaults to None.
        collect_device (str): ``'cpu'`` or ``'gpu'``, used to gather results
            across ranks. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to
            ``'coco_panoptic'``.
        need_annotations (bool): Whether ``ann_file`` must hold
            ``annotations`` (not for a test-server image info file).
            Defaults to True.
    """
    default_prefix: Optional[str] = 'coco_panoptic'
    #: Names of the encoding parts the metric keeps (see ``encoding.PARTS``).
    parts: Tuple[str, ...] = ()
    #: Prediction keys a data sample must have.
    inputs: Tuple[str, ...] = ()

    def __init__(self,
                 ann_file: str,
                 seg_prefix: Optional[str] = None,
                 classwise: bool = False,
                 cache_gt: bool = True,
                 threads: int = 1,
                 backend_args: Optional[dict] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 need_annotations: bool = True) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.classwise = classwise
        self.gt = PanopticGroundTruth(
            ann_file, seg_prefix, backend_args,
            need_annotations=need_annotations, cache=cache_gt)
        self._class_maps: Optional[ClassMaps] = None
        self.encoder = PanopticEncoder(self.gt, lambda: self.class_maps,
                                       threads, type(self).__name__)

    @property
    def threads(self) -> int:
        """Background encoding threads (see :class:`PanopticEncoder`)."""
        return self.encoder.threads

    @property
    def dataset_meta(self) -> Optional[dict]:
        """The dataset's meta info; setting it re-matches the classes."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        self._class_maps = None

    @property
    def class_maps(self) -> ClassMaps:
        """Label -> category id lookups (built on first use)."""
        if self._class_maps is None:
            self._class_maps = build_class_maps(
                self.gt.categories, self.dataset_meta, self.gt.ann_file)
        return self._class_maps

    # ----------------------------------------------------------- process

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Start the encoding of the parts of a batch this metric needs.

        Args:
            data_batch (dict): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): The model's outputs, as dicts or
                ``DetDataSample``.
        """
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            self.results.append(self.pending_record(sample))

    def pending_record(self, sample: dict) -> dict:
        """``image_id``, ``height``, ``width`` and, under ``'pending'``, the
        futures of :attr:`parts` of one sample."""
        missing = [key for key in self.inputs if key not in sample]
        if missing:
            _, name = self.gt.image_info(sample)
            raise ValueError(
                f'{name}: {type(self).__name__} needs {missing[0]} in the '
                'prediction; remove the metric from the evaluator for a '
                'model without it')
        encoding = sample_encoding(sample, self.encoder)
        return dict(encoding.header,
                    pending=encoding.request(sample, self.parts))

    def keep(self, parts: dict) -> dict:
        """What a record keeps of its finished parts (all of them unless a
        metric drops or reduces some)."""
        return parts

    def finish_jobs(self, results: list) -> None:
        """Wait for the background jobs of ``results`` and put what
        :meth:`keep` takes of their outputs into the records, in order
        (the first failed job raises its error, which names the image)."""
        for record in results:
            pending = record.pop('pending', None)
            if pending is not None:
                record.update(self.keep({part: job.result()[part]
                                         for part, job in pending.items()}))

    def evaluate(self, size: int) -> dict:
        """Finish this rank's background jobs, then gather and compute as
        :meth:`mmengine.evaluator.BaseMetric.evaluate` does."""
        try:
            self.finish_jobs(self.results)
        except Exception:
            self.results.clear()  # a failed pass leaves nothing behind
            self.encoder.shutdown(cancel=True)
            raise
        # after the jobs that later metrics asked this encoder for
        self.encoder.shutdown()
        return super().evaluate(size)

    # --------------------------------------------------- compute_metrics

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """The metric's numbers from the records of all ranks.

        The cyclic garbage collector is paused meanwhile: the engines'
        inputs are tens of thousands of small dicts, whose creation would
        otherwise trigger full collections scanning every record (a third
        of the time); none of them forms a reference cycle.

        Args:
            results (list): The records of :meth:`process` from all ranks.

        Returns:
            dict[str, float]: See :meth:`score`.
        """
        with gc_paused():
            self.finish_jobs(results)  # called directly, without evaluate()
            repeated = [i for i, n in Counter(
                r['image_id'] for r in results).items() if n > 1]
            if repeated:
                raise ValueError(f'images {repeated[:10]} were evaluated '
                                 'more than once')
            return self.score(results, MMLogger.get_current_instance())

    @abstractmethod
    def score(self, results: list, logger: MMLogger) -> Dict[str, float]:
        """The metric's numbers from the finished records."""
