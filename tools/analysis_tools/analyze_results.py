"""The best and worst images of a prediction dump by PQ, drawn with their
ground truth: ``python tools/analysis_tools/analyze_results.py CONFIG
RESULTS --show-dir DIR [--topk 20] [--score-thr 0] [--cfg-options ...]``.

RESULTS is the file of ``tools/test.py CONFIG CKPT --out results.pkl``.
Every image is scored alone (PQ of its segments, by the engine of the
config's ``test_evaluator``); the ``--topk`` highest go to ``DIR/good/``,
the ``--topk`` lowest to ``DIR/bad/``, as
``<stem>_<PQ>.jpg``: the ground truth (left) beside the prediction
(right), drawn by the config's visualizer (mmdet's ``analyze_results.py``
in its panoptic mode writes the same folders). The ranking is printed.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Tuple

import mmcv
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.structures import InstanceData, PixelData
from mmengine.utils import ProgressBar, mkdir_or_exist

from mmpfcn.evaluation.functional import evaluate_panoptic
from mmpfcn.evaluation.metrics import PanopticQualityMetric, load_predictions
from mmpfcn.registry import DATASETS, METRICS, VISUALIZERS
from mmpfcn.utils import register_all_modules


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Best and worst images of a dump by PQ, with their '
        'ground truth')
    parser.add_argument('config', help='config file')
    parser.add_argument('results', help='dump of tools/test.py --out')
    parser.add_argument('--show-dir', required=True,
                        help='folder of the good/ and bad/ pictures')
    parser.add_argument('--topk', type=int, default=20,
                        help='images per folder (default: 20)')
    parser.add_argument('--score-thr', type=float, default=0.0,
                        help='predicted things scoring below it are not '
                        'drawn (default: 0, all)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings')
    args = parser.parse_args(argv)
    if args.topk < 1:
        parser.error(f'--topk must be >= 1, got {args.topk}')
    return args


def _panoptic_metric(cfg: Config,
                     dataset_meta: dict) -> PanopticQualityMetric:
    """The config's ``PanopticQualityMetric`` (the first of a list),
    encoding in the calling thread."""
    evaluators = cfg.test_evaluator
    if not isinstance(evaluators, (list, tuple)):
        evaluators = [evaluators]
    for metric_cfg in evaluators:
        if 'PanopticQualityMetric' in str(metric_cfg.get('type')):
            metric = METRICS.build(dict(metric_cfg, threads=0))
            metric.dataset_meta = dataset_meta
            return metric
    raise ValueError('test_evaluator: no PanopticQualityMetric to score the '
                     'images with')


def per_image_pq(metric: PanopticQualityMetric,
                 samples: List[dict]) -> List[float]:
    """PQ (in percent) of every sample scored alone.

    Args:
        metric (PanopticQualityMetric): Gives the ground truth, the classes
            and the PQ engine.
        samples (list[dict]): Decoded predictions (see
            :func:`~mmpfcn.evaluation.metrics.load_predictions`).

    Returns:
        list[float]: PQ per sample, in order.
    """
    scores = []
    progress = ProgressBar(len(samples))
    for sample in samples:
        metric.process({}, [dict(sample)])  # the encoding not kept in it
        record = metric.results.pop()
        metric.finish_jobs([record])

        def annotation(key: str) -> dict:
            return dict(image_id=record['image_id'],
                        file_name=record['file_name'],
                        segments_info=record[key])

        pq = evaluate_panoptic(
            [annotation('gt_segments')], [annotation('pred_segments')],
            metric.class_maps.categories, engine=metric.engine,
            trusted=True)
        scores.append(100 * pq['All']['pq'])
        progress.update()
    return scores


def rank(scores: List[float], topk: int) -> Tuple[List[int], List[int]]:
    """Indices of the ``topk`` best (highest first) and worst (lowest
    first) scores; ties keep the input order."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    worst = order[:topk]
    best = sorted(range(len(scores)), key=lambda i: -scores[i])[:topk]
    return best, worst


def _with_prediction(data_sample, sample: dict):
    """The dataset's data sample (ground truth) with the dumped
    prediction."""
    data_sample.pred_panoptic_seg = PixelData(sem_seg=torch.from_numpy(
        np.asarray(sample['pred_panoptic_seg']['sem_seg'])))
    if 'pred_instances' in sample:
        pred = sample['pred_instances']
        data_sample.pred_instances = InstanceData(
            **{k: torch.as_tensor(np.asarray(pred[k]))
               for k in ('labels', 'scores', 'masks') if k in pred})
    return data_sample


def draw(cfg: Config, dataset, samples: List[dict], picks: Dict[str, list],
         scores: List[float], show_dir: str, score_thr: float) -> List[str]:
    """Write ``show_dir/<group>/<stem>_<PQ>.jpg`` for the picked samples.

    Returns:
        list[str]: The written files.
    """
    visualizer = VISUALIZERS.build(dict(cfg.visualizer,
                                        name='analyze_results'))
    visualizer.dataset_meta = dataset.metainfo
    index_of = {dataset.get_data_info(i)['img_id']: i
                for i in range(len(dataset))}
    written = []
    for group, indices in picks.items():
        folder = osp.join(show_dir, group)
        mkdir_or_exist(folder)
        for i in indices:
            sample = samples[i]
            if sample['img_id'] not in index_of:
                raise ValueError(f"image {sample['img_id']} of the dump is "
                                 'not in the test dataset of the config')
            item = dataset[index_of[sample['img_id']]]
            data_sample = _with_prediction(item['data_samples'], sample)
            image = mmcv.imread(sample['img_path'], channel_order='rgb')
            stem = osp.splitext(osp.basename(sample['img_path']))[0]
            out_file = osp.join(folder, f'{stem}_{scores[i]:.3f}.jpg')
            visualizer.add_datasample(
                stem, image, data_sample, draw_gt=True, draw_pred=True,
                pred_score_thr=score_thr, out_file=out_file)
            written.append(out_file)
    return written


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    try:
        samples = load_predictions(args.results)
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
        metric = _panoptic_metric(cfg, dataset.metainfo)
        scores = per_image_pq(metric, samples)
        best, worst = rank(scores, args.topk)
        written = draw(cfg, dataset, samples, dict(good=best, bad=worst),
                       scores, args.show_dir, args.score_thr)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f'analyze_results: error: {err}', file=sys.stderr)
        return 1
    for title, indices in (('best', best), ('worst', worst)):
        print(f'\n{title} {len(indices)} by PQ:')
        for i in indices:
            print(f"  {scores[i]:7.3f}  {samples[i]['img_path']}")
    print(f'\n{len(written)} picture(s) written to {args.show_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
