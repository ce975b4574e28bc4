"""COCO panoptic quality (PQ, SQ, RQ) of an evaluation run, or the
test-server files of its predictions (``format_only``)."""
from typing import Dict, List, Optional

from mmengine.logging import MMLogger

from mmpfcn.registry import METRICS

from ..functional.pq import ENGINES as PQ_ENGINES
from ..functional.pq import evaluate_panoptic, print_panoptic_table
from .base_panoptic_metric import BasePanopticMetric
from .class_maps import ClassMaps
from .submission import write_prediction_png, write_submission_json


@METRICS.register_module()
class PanopticQualityMetric(BasePanopticMetric):
    """PQ, SQ and RQ of all, thing and stuff categories, in percent.

    Reads ``pred_panoptic_seg.sem_seg`` ((1, H, W), ``label + instance_id
    * INSTANCE_OFFSET``, void = number of classes or the map's
    ``ignore_index``) at the original image size; scores its RLE segments
    against the GT's with the PQ engine in :meth:`compute_metrics`.

    Args:
        ann_file (str): COCO panoptic JSON. With ``format_only`` an image
            info file (``images`` and ``categories``) is enough.
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
        classwise (bool): Log per-class PQ/SQ/RQ and add ``{class}_PQ`` to
            the returned metrics. Defaults to False.
        **kwargs: ``seg_prefix``, ``cache_gt``, ``threads``,
            ``backend_args``, ``collect_device``, ``prefix`` of
            :class:`~.base_panoptic_metric.BasePanopticMetric`.
    """
    parts = ('gt', 'pred_segments')
    inputs = ('pred_panoptic_seg', )

    def __init__(self,
                 ann_file: str,
                 format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 nproc: int = 1,
                 engine: str = 'hotcoco',
                 classwise: bool = False,
                 **kwargs) -> None:
        if engine not in PQ_ENGINES:
            raise ValueError(f'PanopticQualityMetric: engine must be one of '
                             f'{PQ_ENGINES}, got {engine!r}')
        if format_only and not outfile_prefix:
            raise ValueError('PanopticQualityMetric: format_only=True needs '
                             'an outfile_prefix to write the results to')
        super().__init__(ann_file, classwise=classwise,
                         need_annotations=not format_only, **kwargs)
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self.nproc = nproc
        self.engine = engine

    @property
    def class_maps(self) -> ClassMaps:
        """Label -> category id lookups (built on first use)."""
        try:
            return super().class_maps
        except KeyError as err:
            if not self.format_only:
                raise
            # COCO's image_info_test-dev2017.json lists the 80 detection
            # categories only.
            raise KeyError(
                f'{err.args[0]}; with format_only the ann_file needs the '
                'panoptic categories, e.g. image_info_test-dev2017.json '
                'with the `categories` of panoptic_val2017.json') from err

    def pending_record(self, sample: dict) -> dict:
        """See the base class; with ``format_only`` the image's PNG is
        written here and its record is its annotation."""
        if self.format_only:
            return write_prediction_png(self.encoder, sample,
                                        self.outfile_prefix)
        return super().pending_record(sample)

    def keep(self, parts: dict) -> dict:
        """The GT's file name and segments, the predicted segments."""
        gt = parts['gt']
        return dict(file_name=gt['file_name'], gt_segments=gt['segments'],
                    pred_segments=parts['pred_segments'])

    def score(self, results: list, logger: MMLogger) -> Dict[str, float]:
        """``PQ SQ RQ PQ_th SQ_th RQ_th PQ_st SQ_st RQ_st`` in percent, and
        ``{class}_PQ`` with ``classwise``; ``{}`` with ``format_only``
        (the submission JSON written)."""
        if self.format_only:
            write_submission_json(results, self.outfile_prefix, logger)
            return {}

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
