"""The runner metric of Panoptic FCN: PQ, mask AP and mIoU in one pass.

Per image, :meth:`PanopticFCNMetric.process` hands the sample to its
:class:`~.encoding.PanopticEncoder`, which checks the prediction and, in
background threads while the model runs on the next batch, turns it into
RLE segments (one pass over the map, no PNG written or re-read), takes the
GT's RLE segments (encoded by the test pipeline in the dataloader workers,
or decoded from its PNG and cached for later validations) and counts three
pixel numbers per semantic class. :meth:`evaluate` waits for them; only
these small, picklable records are gathered from the ranks.
:meth:`compute_metrics` then hands the RLE segments to the PQ engine and to
COCOeval.
"""
from collections import Counter
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement

from mmpfcn.registry import METRICS

from ..functional.pq import ENGINES as PQ_ENGINES
from ..functional.pq import evaluate_panoptic, print_panoptic_table
from .class_maps import ClassMaps, build_class_maps
from .encoding import PanopticEncoder, gc_paused
from .ground_truth import PanopticGroundTruth
from .mask_ap import AP_ENGINES, AP_KEYS, evaluate_mask_ap
from .semantic_iou import mean_iou
from .submission import write_prediction_png, write_submission_json


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
            At most ``encoding.BACKLOG_PER_THREAD * threads`` (4 per
            thread) images wait for them (``process`` blocks beyond); an
            error in one (naming the image) is raised by the next
            :meth:`process` call that waits, or by :meth:`evaluate`. 0
            does it inside :meth:`process`. Defaults to 1.
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
        self.engine = engine
        self.ap_engine = ap_engine
        self.gt = PanopticGroundTruth(
            ann_file, seg_prefix, backend_args,
            need_annotations=not format_only, cache=cache_gt)
        self._class_maps: Optional[ClassMaps] = None
        self.encoder = PanopticEncoder(self.gt, lambda: self.class_maps,
                                       threads)

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
                self.results.append(write_prediction_png(
                    self.encoder, sample, self.outfile_prefix))
            else:
                self.results.append(self._process_one(sample))

    def _process_one(self, sample: dict) -> dict:
        """The compact record of one image (see :mod:`.encoding`)."""
        return self.encoder.submit(sample)

    def finish_jobs(self, results: list) -> None:
        """Wait for the background jobs of ``results`` and put their
        outputs into the records, in order (the first failed job raises
        its error, which names the image)."""
        self.encoder.finish(results)

    def evaluate(self, size: int) -> dict:
        """Finish this rank's background jobs, then gather and compute as
        :meth:`mmengine.evaluator.BaseMetric.evaluate` does."""
        try:
            self.finish_jobs(self.results)
        except Exception:
            self.results.clear()  # a failed pass leaves nothing behind
            raise
        finally:
            self.encoder.shutdown()
        return super().evaluate(size)

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
        with gc_paused():
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
            write_submission_json(results, self.outfile_prefix, logger)
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
