"""The runner metric of Panoptic FCN: PQ, mask AP and mIoU in one pass.

Per image, :meth:`PanopticFCNMetric.process` checks the prediction and
hands it to background threads, which, while the model runs on the next
batch, turn it into RLE segments (one pass over the map, no PNG written or
re-read), take the GT's RLE segments (encoded by the test pipeline in the
dataloader workers, or decoded from its PNG here and cached for later
validations) and count three pixel numbers per semantic class.
:meth:`evaluate` waits for them; only these small, picklable records are
gathered from the ranks. :meth:`compute_metrics` then hands the RLE
segments to the PQ engine and to COCOeval.
"""
import contextlib
import gc
import os
import os.path as osp
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Deque, Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmengine.evaluator import BaseMetric
from mmengine.fileio import dump
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement

from mmpfcn.registry import METRICS

from ..functional.panoptic_io import write_panoptic_png
from ..functional.pq import ENGINES as PQ_ENGINES
from ..functional.pq import evaluate_panoptic, print_panoptic_table
from ..functional.rle import encode_masks
from .class_maps import SEM_IGNORE, ClassMaps, build_class_maps
from .ground_truth import GT_RLE_KEY, PanopticGroundTruth, check_size
from .mask_ap import AP_ENGINES, AP_KEYS, evaluate_mask_ap
from .segments import encode_panoptic_prediction
from .semantic_iou import mean_iou, semantic_area_stats_rle

#: Images per encoding thread that may wait for it before process() blocks.
BACKLOG_PER_THREAD = 4


def _to_numpy(data: np.ndarray | torch.Tensor) -> np.ndarray:
    """A CPU numpy view of a tensor (arrays pass through)."""
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    return np.asarray(data)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Disable the cyclic garbage collector inside the block (restoring
    its previous state)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _label_map(data: np.ndarray | torch.Tensor, name: str,
               what: str) -> np.ndarray:
    """The (H, W) integer map of a (1, H, W) prediction, in its own dtype
    (no widening copy: int32 maps encode faster)."""
    data = _to_numpy(data)
    if data.ndim != 3 or data.shape[0] != 1 or not np.issubdtype(
            data.dtype, np.integer):
        raise ValueError(f'{name}: {what}.sem_seg must be a (1, H, W) '
                         f'integer map, got {data.dtype} of shape '
                         f'{data.shape}')
    return data[0]


@METRICS.register_module()
class PanopticFCNMetric(BaseMetric):
    """COCO panoptic quality, mask AP and stuff mIoU of one evaluation run.

    Reads from each data sample ``img_id``, ``img_path`` and the model's
    ``pred_panoptic_seg.sem_seg`` ((1, H, W), ``label + instance_id *
    INSTANCE_OFFSET``, void = number of classes or the map's
    ``ignore_index``) at the original image size. If present, also
    ``pred_instances`` (``masks`` (n, H, W) bool, ``labels`` indexing
    ``thing_classes``, ``scores``) for mask AP and ``pred_sem_seg.sem_seg``
    ((1, H, W), 0 = things, ``1 + i`` = i-th stuff class) for mIoU. Ground
    truth: ``ann_file`` plus the panoptic PNGs, taken as RLE from the
    sample's ``gt_panoptic_rle`` when the test pipeline provides it
    (``LoadPanopticFCNAnnotations(with_eval_rle=True)``, packed as a meta
    key: no PNG decoded here), else read from ``seg_prefix`` (or the
    sample's ``seg_map_path``); GT instances are the thing segments, crowd
    ones with ``iscrowd=1``; the GT semantic map merges all things into 0.

    Args:
        ann_file (str): COCO panoptic JSON. With ``format_only`` an image
            info file (``images`` and ``categories``) is enough.
        seg_prefix (str, optional): Folder of the GT panoptic PNGs.
            Defaults to None: use each sample's ``seg_map_path``.
        classwise (bool): Log per-class PQ/SQ/RQ, AP and IoU and add
            ``{class}_PQ`` to the returned metrics. Defaults to False.
        format_only (bool): Only write the COCO panoptic results
            (``{outfile_prefix}.panoptic.json`` and
            ``{outfile_prefix}.panoptic/*.png``, mmdet's layout, dataset
            category ids) for a test server and return ``{}``. Defaults to
            False.
        outfile_prefix (str, optional): Prefix of the written results;
            required with ``format_only``. Defaults to None.
        nproc (int): Processes of the PQ engine. Defaults to 1.
        engine (str): PQ engine, ``'hotcoco'`` or ``'panopticapi'``.
            Defaults to ``'hotcoco'``.
        ap_engine (str): COCOeval of ``'hotcoco'`` (same numbers, faster)
            or ``'pycocotools'``. Defaults to ``'hotcoco'``.
        cache_gt (bool): Keep each image's GT as RLE after its first
            evaluation from its PNG, so that later validations skip the
            decoding (the RLEs of its segments, kept on the rank that
            saw it). Defaults to True.
        threads (int): Threads encoding the predictions and the GT of the
            processed images in the background (numpy, OpenCV and the PNG
            decoding release the GIL), overlapping the model's forward.
            At most ``BACKLOG_PER_THREAD * threads`` (4 per thread) images
            wait for them (``process`` blocks beyond); an error in one
            (naming the image) is raised by the next :meth:`process` call
            that waits, or by :meth:`evaluate`. 0 does it inside
            :meth:`process`. Defaults to 1.
        backend_args (dict, optional): File backend of ``ann_file`` and the
            GT PNGs. Defaults to None.
        collect_device (str): ``'cpu'`` or ``'gpu'``, used to gather results
            across ranks. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to
            ``'coco_panoptic'``.
    """
    default_prefix: Optional[str] = 'coco_panoptic'

    def __init__(self,
                 ann_file: str,
                 seg_prefix: Optional[str] = None,
                 classwise: bool = False,
                 format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 nproc: int = 1,
                 engine: str = 'hotcoco',
                 ap_engine: str = 'hotcoco',
                 cache_gt: bool = True,
                 threads: int = 1,
                 backend_args: Optional[dict] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if engine not in PQ_ENGINES:
            raise ValueError(f'PanopticFCNMetric: engine must be one of '
                             f'{PQ_ENGINES}, got {engine!r}')
        if ap_engine not in AP_ENGINES:
            raise ValueError(f'PanopticFCNMetric: ap_engine must be one of '
                             f'{AP_ENGINES}, got {ap_engine!r}')
        if format_only and not outfile_prefix:
            raise ValueError('PanopticFCNMetric: format_only=True needs an '
                             'outfile_prefix to write the results to')
        self.classwise = classwise
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self.nproc = nproc
        if threads < 0:
            raise ValueError('PanopticFCNMetric: threads must be >= 0, '
                             f'got {threads}')
        self.threads = threads
        self._pool: Optional[ThreadPoolExecutor] = None
        self._jobs: Deque[Future] = deque()  # submitted, maybe running
        self.engine = engine
        self.ap_engine = ap_engine
        self.gt = PanopticGroundTruth(
            ann_file, seg_prefix, backend_args,
            need_annotations=not format_only, cache=cache_gt)
        self._class_maps: Optional[ClassMaps] = None

    @property
    def dataset_meta(self) -> Optional[dict]:
        """The dataset's meta info; setting it re-matches the classes."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        self._class_maps = None
        self.gt.clear_cache()  # its semantic labels follow the classes

    @property
    def class_maps(self) -> ClassMaps:
        """Label -> category id lookups (built on first use)."""
        if self._class_maps is None:
            try:
                self._class_maps = build_class_maps(
                    self.gt.categories, self.dataset_meta, self.gt.ann_file)
            except KeyError as err:
                if not self.format_only:
                    raise
                # COCO's image_info_test-dev2017.json lists the 80
                # detection categories only.
                raise KeyError(
                    f'{err.args[0]}; with format_only the ann_file needs the '
                    'panoptic categories, e.g. image_info_test-dev2017.json '
                    'with the `categories` of panoptic_val2017.json') from err
        return self._class_maps

    # ----------------------------------------------------------- process

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Encode the predictions and GT of a batch into compact records.

        Args:
            data_batch (dict): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): The model's outputs, as dicts or
                ``DetDataSample``.
        """
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            if self.format_only:
                self.results.append(self._format_one(sample))
            else:
                self.results.append(self._process_one(sample))

    def _panoptic_map(self, sample: dict, info: dict,
                      name: str) -> np.ndarray:
        """The checked (H, W) map of ``pred_panoptic_seg``, as a copy that
        outlives the sample (mmdet's panoptic metric, if it runs in the
        same evaluator, overwrites void labels in place)."""
        pan = _label_map(sample['pred_panoptic_seg']['sem_seg'], name,
                         'pred_panoptic_seg')
        check_size(pan.shape, info, name, 'pred_panoptic_seg',
                   self.gt.ann_file)
        return pan.copy()

    def _panoptic_segments(self, pan: np.ndarray, ignore_index: Optional[int],
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

    def _process_one(self, sample: dict) -> dict:
        """The compact record of one image (see the module docstring).

        The prediction is checked here, its encoding and the GT part left
        to a background thread under the key ``'job'`` (see
        :meth:`finish_jobs`) with ``threads``.
        """
        info, name = self.gt.image_info(sample)
        pan = self._panoptic_map(sample, info, name)
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
        pred_segments, _, _ = self._panoptic_segments(pan, ignore_index,
                                                      name)
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

    def finish_jobs(self, results: list) -> None:
        """Wait for the background jobs of ``results`` and put their
        outputs into the records, in order (the first failed job raises
        its error, which names the image)."""
        for record in results:
            job: Optional[Future] = record.pop('job', None)
            if job is not None:
                record.update(job.result())
        self._jobs = deque(job for job in self._jobs if not job.done())

    def evaluate(self, size: int) -> dict:
        """Finish this rank's background jobs, then gather and compute as
        :meth:`mmengine.evaluator.BaseMetric.evaluate` does."""
        try:
            self.finish_jobs(self.results)
        except Exception:
            self.results.clear()  # a failed pass leaves nothing behind
            raise
        finally:
            # No idle threads between passes, when the training
            # dataloader forks its workers.
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None
            self._jobs.clear()
        return super().evaluate(size)

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
        labels = _to_numpy(instances['labels']).astype(np.int64)
        num_things = self.class_maps.thing2cat.size
        if labels.size and (labels.min() < 0 or labels.max() >= num_things):
            raise ValueError(f'{name}: pred_instances.labels must index the '
                             f'{num_things} thing classes, got '
                             f'[{labels.min()}, {labels.max()}]')
        return dict(
            category_id=self.class_maps.thing2cat[labels],
            score=_to_numpy(instances['scores']).astype(np.float64),
            masks=_to_numpy(masks))

    def _semantic_map(self, sem_seg: dict, info: dict,
                      name: str) -> np.ndarray:
        """The checked (H, W) label map of ``pred_sem_seg``, as a copy
        that outlives the sample (for the background thread)."""
        pred = _label_map(sem_seg['sem_seg'], name, 'pred_sem_seg')
        check_size(pred.shape, info, name, 'pred_sem_seg',
                   self.gt.ann_file)
        num_sem = self.class_maps.num_sem_classes
        if pred.size and (pred.min() < 0 or pred.max() >= num_sem):
            raise ValueError(f'{name}: pred_sem_seg labels must lie in '
                             f'0..{num_sem - 1}, got [{pred.min()}, '
                             f'{pred.max()}]')
        return pred.astype(np.int16 if num_sem < 2**15 else np.int64)

    def _format_one(self, sample: dict) -> dict:
        """Write the prediction PNG of a test-server submission; keep its
        ``segments_info``."""
        info, name = self.gt.image_info(sample)
        pan = self._panoptic_map(sample, info, name)
        segments, ids, seg_ids = self._panoptic_segments(
            pan, sample['pred_panoptic_seg'].get('ignore_index'), name)
        file_name = osp.splitext(info['file_name'])[0] + '.png'
        # file names may have folders (Cityscapes: <city>/<name>.png)
        png_path = osp.join(f'{self.outfile_prefix}.panoptic', file_name)
        os.makedirs(osp.dirname(png_path), exist_ok=True)
        write_panoptic_png(png_path, seg_ids[np.searchsorted(ids, pan)])
        isthing = {c['id']: c['isthing'] for c in self.gt.categories}
        return dict(
            image_id=sample['img_id'],
            file_name=file_name,
            segments_info=[
                dict(id=s['id'], category_id=s['category_id'],
                     area=s['area'], iscrowd=0,
                     isthing=isthing[s['category_id']]) for s in segments
            ])

    # --------------------------------------------------- compute_metrics

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """PQ/SQ/RQ (all, things, stuff), mask AP and mIoU in percent.

        The cyclic garbage collector is paused meanwhile: the engines'
        inputs are tens of thousands of small dicts, whose creation would
        otherwise trigger full collections scanning every record (a third
        of the time); none of them forms a reference cycle.

        Args:
            results (list): The records of :meth:`process` from all ranks.

        Returns:
            dict[str, float]: ``PQ SQ RQ PQ_th SQ_th RQ_th PQ_st SQ_st
            RQ_st``, plus ``AP AP50 AP75 APs APm APl`` if the predictions
            have instances, ``mIoU`` if they have a semantic map, and
            ``{class}_PQ`` with ``classwise``; ``{}`` with ``format_only``.
        """
        with _gc_paused():
            return self._compute_metrics(results)

    def _compute_metrics(self, results: list) -> Dict[str, float]:
        """See :meth:`compute_metrics`."""
        logger: MMLogger = MMLogger.get_current_instance()
        self.finish_jobs(results)  # called directly, without evaluate()
        repeated = [i for i, n in Counter(r['image_id']
                                          for r in results).items() if n > 1]
        if repeated:
            raise ValueError(f'images {repeated[:10]} were evaluated more '
                             'than once')
        if self.format_only:
            json_path = f'{self.outfile_prefix}.panoptic.json'
            dump(dict(annotations=results), json_path)
            logger.info(f'panoptic results written to {json_path} and '
                        f'{self.outfile_prefix}.panoptic/')
            return {}

        has_instances = [r['instances'] is not None for r in results]
        has_sem = [r['sem_stats'] is not None for r in results]
        for what, flags in (('pred_instances', has_instances),
                            ('pred_sem_seg', has_sem)):
            if any(flags) and not all(flags):
                raise ValueError(f'{what} is missing from the predictions '
                                 f'of {flags.count(False)} of {len(flags)} '
                                 'images; give it for all or none')
        metrics = self._panoptic_quality(results, logger)
        if results and all(has_instances):
            metrics.update(self._mask_ap(results, logger))
        if results and all(has_sem):
            metrics.update(self._mean_iou(results, logger))
        return metrics

    def _panoptic_quality(self, results: list,
                          logger: MMLogger) -> Dict[str, float]:
        """PQ, SQ, RQ in percent from the RLE segments of all images."""
        def annotations(key: str) -> List[dict]:
            return [
                dict(image_id=r['image_id'], file_name=r['file_name'],
                     segments_info=r[key]) for r in results
            ]

        pq = evaluate_panoptic(
            annotations('gt_segments'),
            annotations('pred_segments'),
            self.class_maps.categories,
            gt_folder=None,
            pred_folder=None,
            engine=self.engine,
            nproc=self.nproc,
            # Each side's segments come from one id map per image: valid,
            # disjoint, with their pixel counts as areas.
            trusted=True)
        # Per-class rows and metrics for the categories that occur (in the
        # GT or the predictions), not 0s for every other one.
        occurring = {seg['category_id'] for r in results
                     for key in ('gt_segments', 'pred_segments')
                     for seg in r[key]}
        names = {c['id']: c['name'] for c in self.class_maps.categories
                 if c['id'] in occurring}
        print_panoptic_table(
            pq, logger=logger, classwise=self.classwise,
            category_names=names, category_ids=list(names))
        metrics = {}
        for group, suffix in (('All', ''), ('Things', '_th'),
                              ('Stuff', '_st')):
            for key in ('pq', 'sq', 'rq'):
                metrics[key.upper() + suffix] = 100 * pq[group][key]
        if self.classwise:
            for cat_id, name in names.items():
                metrics[f'{name}_PQ'] = 100 * pq['per_class'][cat_id]['pq']
        return metrics

    def _mask_ap(self, results: list, logger: MMLogger) -> Dict[str, float]:
        """COCO mask AP in percent (-1 where COCOeval has no GT)."""
        thing_ids = {c['id'] for c in self.class_maps.thing_categories}
        gt_instances, detections = [], []
        for r in results:
            gt_instances += [
                dict(image_id=r['image_id'], category_id=s['category_id'],
                     segmentation=s['segmentation'], area=float(s['area']),
                     iscrowd=s['iscrowd']) for s in r['gt_segments']
                if s['category_id'] in thing_ids
            ]
            inst = r['instances']
            detections += [
                dict(image_id=r['image_id'], category_id=int(c),
                     segmentation=m, score=float(s))
                for c, s, m in zip(inst['category_id'], inst['score'],
                                   inst['segmentation'])
            ]
        images = [dict(id=r['image_id'], height=r['height'],
                       width=r['width']) for r in results]
        stats, per_class, summary = evaluate_mask_ap(
            images, self.class_maps.thing_categories, gt_instances,
            detections, engine=self.ap_engine)
        print_log('Mask AP:\n' + summary, logger=logger)
        if self.classwise:
            names = {c['id']: c['name']
                     for c in self.class_maps.thing_categories}
            print_log('Per-class mask AP:\n' + '\n'.join(
                f'{names[c]:>24s} {100 * ap:7.3f}'
                for c, ap in per_class.items()), logger=logger)
        return {k: v if v < 0 else 100 * v for k, v in stats.items()
                if k in AP_KEYS}

    def _mean_iou(self, results: list, logger: MMLogger) -> Dict[str, float]:
        """mIoU in percent over 'things' + the stuff classes."""
        stats = np.sum([r['sem_stats'] for r in results], axis=0)
        miou, iou = mean_iou(stats)
        if self.classwise:
            names = ['things'] + self.class_maps.stuff_classes
            print_log('Per-class IoU:\n' + '\n'.join(
                f'{n:>24s} {100 * v:7.3f}' for n, v in zip(names, iou)),
                logger=logger)
        return {'mIoU': 100 * miou}
