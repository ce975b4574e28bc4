"""Benchmark the PQ engines (a benchmark, not a test).

Part (a), ``bench_files``: PQ of COCO-panoptic folders (500 generated image
pairs of 640x480 with ~30 segments each, fixed seed) through
``pq_eval.py``'s path -- input checks + hotcoco -- against panopticapi's
``pq_compute`` with the same number of processes. Part (b),
``bench_runner_metric``: the runner metric (see that function). Part (c),
``bench_processes``: ``python pq_eval.py`` against ``python -m
panopticapi.evaluation`` as whole processes, start-up included.

``python tools/analysis_tools/benchmark_pq.py [--part a|b|c|all]
[--nproc 2]``
prints one table per part with the time of each method and its speed-up
over panopticapi. The generator of the image pairs is the test-suite's
(:mod:`mmpfcn.testing.panoptic_cases`).
"""
import argparse
import contextlib
import io
import json
import multiprocessing
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time
from typing import Callable
from unittest import mock

from mmpfcn.evaluation.functional import write_panoptic_png
from mmpfcn.testing.panoptic_cases import (
    CASE_CATEGORIES,
    annotations,
    make_case,
)
from mmpfcn.utils.script_modules import import_script

PROJECT_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PQ_EVAL = osp.join(osp.dirname(osp.abspath(__file__)), 'pq_eval.py')
# the script part (a) times, beside this one
pq_eval = import_script(PQ_EVAL, 'pq_eval')

# (method name, seconds) rows of one table.
Rows = list[tuple[str, float]]


def _generate_chunk(root: str, seeds: list[int], height: int, width: int,
                    num_segments: int) -> tuple[list, list]:
    """Write the PNGs of cases ``seeds``; return their annotations."""
    pairs = [make_case(seed, height, width, num_segments) for seed in seeds]
    for pair in pairs:
        for side in ('gt', 'pred'):
            write_panoptic_png(osp.join(root, side, pair.file_name),
                               getattr(pair, f'{side}_map'))
    return annotations(pairs, 'gt'), annotations(pairs, 'pred')


def generate_pairs(root: str, num_images: int, height: int, width: int,
                   num_segments: int, seed: int, nproc: int) -> list[str]:
    """Write ``num_images`` generated GT/prediction pairs under ``root``
    (reused when already there); returns ``[gt_json, gt_dir, pred_json,
    pred_dir]``."""
    paths = [osp.join(root, name)
             for name in ('gt.json', 'gt', 'pred.json', 'pred')]
    manifest = osp.join(root, 'manifest.json')
    spec = dict(num_images=num_images, height=height, width=width,
                num_segments=num_segments, seed=seed)
    if osp.isfile(manifest):
        with open(manifest) as f:
            if json.load(f) == spec:
                return paths
    for side in ('gt', 'pred'):
        os.makedirs(osp.join(root, side), exist_ok=True)
    seeds = [seed * 100003 + k for k in range(num_images)]
    chunks = [seeds[k::nproc] for k in range(nproc)]
    with multiprocessing.Pool(nproc) as pool:
        parts = pool.starmap(
            _generate_chunk,
            [(root, chunk, height, width, num_segments) for chunk in chunks])
    for index, side in enumerate(('gt', 'pred')):
        anns = sorted((ann for part in parts for ann in part[index]),
                      key=lambda ann: ann['image_id'])
        with open(paths[2 * index], 'w') as f:
            json.dump(dict(annotations=anns, categories=CASE_CATEGORIES), f)
    with open(manifest, 'w') as f:
        json.dump(spec, f)
    return paths


def best_time(func: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` wall-clock runs of ``func()``, seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def panopticapi_pq_compute(paths: list[str], nproc: int) -> dict:
    """panopticapi's own ``pq_compute``, on ``nproc`` processes (it uses
    one per CPU, read through ``multiprocessing.cpu_count``)."""
    from panopticapi import evaluation

    gt_json, gt_dir, pred_json, pred_dir = paths
    with mock.patch.object(evaluation.multiprocessing, 'cpu_count',
                           return_value=nproc), \
            contextlib.redirect_stdout(io.StringIO()):
        return evaluation.pq_compute(gt_json, pred_json, gt_dir, pred_dir)


def bench_files(args: argparse.Namespace) -> Rows:
    """Part (a): PQ from PNG folders, ``pq_eval.py``'s path vs panopticapi.

    Returns:
        Rows: ``(method, seconds)``, the reference first.
    """
    with contextlib.ExitStack() as stack:
        root = args.work_dir or stack.enter_context(
            tempfile.TemporaryDirectory(prefix='bench_pq_'))
        start = time.perf_counter()
        paths = generate_pairs(root, args.num_images, 480, 640, 30, args.seed,
                               args.nproc)
        print(f'{args.num_images} image pairs ready in {root} '
              f'({time.perf_counter() - start:.1f} s)')

        def ours(engine, check_pixels=False):
            return pq_eval.evaluate_files(*paths, engine=engine,
                                          nproc=args.nproc,
                                          check_pixels=check_pixels)[0]

        reference = panopticapi_pq_compute(paths, args.nproc)
        gap = abs(ours('hotcoco')['All']['pq'] - reference['All']['pq'])
        print(f'|PQ(pq_eval, hotcoco) - PQ(panopticapi)| = {gap:.2e}')
        return [
            ('panopticapi pq_compute', best_time(
                lambda: panopticapi_pq_compute(paths, args.nproc),
                args.repeat)),
            ('pq_eval --engine hotcoco', best_time(
                lambda: ours('hotcoco'), args.repeat)),
            ('pq_eval --engine hotcoco --check-pixels', best_time(
                lambda: ours('hotcoco', True), args.repeat)),
            ('pq_eval --engine panopticapi', best_time(
                lambda: ours('panopticapi'), args.repeat)),
        ]


def _process_seconds(command: list[str], repeat: int) -> float:
    """Fastest wall time of ``command`` as a fresh process (start-up,
    imports and all), which must succeed."""
    def run():
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=PROJECT_ROOT)
    return best_time(run, repeat)


def bench_processes(args: argparse.Namespace) -> Rows:
    """Part (c): whole-process time of the two commands a user runs,
    ``pq_eval.py`` against panopticapi's ``python -m
    panopticapi.evaluation`` (one process per CPU), and of their imports
    alone.

    Returns:
        Rows: ``(method, seconds)``, the reference first.
    """
    with contextlib.ExitStack() as stack:
        root = args.work_dir or stack.enter_context(
            tempfile.TemporaryDirectory(prefix='bench_pq_'))
        gt_json, gt_dir, pred_json, pred_dir = generate_pairs(
            root, args.num_images, 480, 640, 30, args.seed, args.nproc)
        python = sys.executable
        tool = PQ_EVAL
        reference = [
            python, '-m', 'panopticapi.evaluation', '--gt_json_file',
            gt_json, '--pred_json_file', pred_json, '--gt_folder', gt_dir,
            '--pred_folder', pred_dir
        ]
        ours = [python, tool, gt_json, gt_dir, pred_json, pred_dir,
                '--nproc', str(args.nproc)]
        return [
            ('python -m panopticapi.evaluation',
             _process_seconds(reference, args.repeat)),
            ('python pq_eval.py', _process_seconds(ours, args.repeat)),
            ('  of which start-up (python pq_eval.py --help)',
             _process_seconds([python, tool, '--help'], args.repeat)),
        ]


def _runner_inputs(paths: list[str], root: str) -> tuple[str, dict, list]:
    """What a runner hands its metric for the generated pairs.

    Returns:
        tuple: a full COCO panoptic GT file (``images`` added, written next
        to ``gt.json``), the ``dataset_meta`` and one data-sample dict per
        image (``DetDataSample.to_dict()``, as mmengine's ``Evaluator``
        passes them) with an int32 ``pred_panoptic_seg`` like mmdet's
        fusion heads and ``seg_map_path``.
    """
    import numpy as np
    import torch
    from mmdet.evaluation.functional import INSTANCE_OFFSET
    from mmdet.structures import DetDataSample
    from mmengine.structures import PixelData

    from mmpfcn.evaluation.functional import read_panoptic_png

    gt_json, _, pred_json, pred_dir = paths
    with open(gt_json) as f:
        gt = json.load(f)
    with open(pred_json) as f:
        preds = json.load(f)['annotations']
    things = [c for c in CASE_CATEGORIES if c['isthing']]
    stuff = [c for c in CASE_CATEGORIES if not c['isthing']]
    label = {c['id']: i for i, c in enumerate(things + stuff)}
    meta = dict(classes=[c['name'] for c in things + stuff],
                thing_classes=[c['name'] for c in things],
                stuff_classes=[c['name'] for c in stuff])

    images, samples = [], []
    for pred in preds:
        id_map = read_panoptic_png(osp.join(pred_dir, pred['file_name']))
        # Segment id -> mmdet value (label + k * offset), void -> C.
        seg_ids = np.array([0] + [s['id'] for s in pred['segments_info']])
        values = np.array([len(label)] + [
            label[s['category_id']] + k * INSTANCE_OFFSET
            for k, s in enumerate(pred['segments_info'], start=1)
        ])
        order = np.argsort(seg_ids)
        pan = values[order][np.searchsorted(seg_ids[order], id_map)]
        img_path = pred['file_name'].replace('.png', '.jpg')
        images.append(dict(id=pred['image_id'], file_name=img_path,
                           height=pan.shape[0], width=pan.shape[1]))
        sample = DetDataSample(metainfo=dict(
            img_id=pred['image_id'], img_path=img_path,
            seg_map_path=osp.join(paths[1], pred['file_name']),
            ori_shape=pan.shape))
        sample.pred_panoptic_seg = PixelData(
            sem_seg=torch.from_numpy(pan.astype(np.int32))[None])
        samples.append(sample.to_dict())
    ann_file = osp.join(root, 'gt_with_images.json')
    with open(ann_file, 'w') as f:
        json.dump(dict(gt, images=images), f)
    return ann_file, meta, samples


def _with_pipeline_gt(samples: list,
                      gt_json: str) -> tuple[list, dict[str, float]]:
    """The samples as our test pipelines give them: with the GT PNG's RLEs
    of ``LoadPanopticFCNAnnotations(with_eval_rle=True)`` in their metainfo
    (``PackDetInputs(meta_keys=(..., 'gt_panoptic_rle'))``).

    Returns:
        tuple: the new sample dicts and the seconds per image of the GT
        loading in the dataloader workers (in parallel with the model):
        ours as the test pipelines configure it (instance masks, semantic
        map and RLEs) and mmdet's ``LoadPanopticAnnotations`` (masks and
        semantic map), on the same inputs.
    """
    from mmdet.datasets.transforms import LoadPanopticAnnotations

    from mmpfcn.datasets.transforms import LoadPanopticFCNAnnotations

    with open(gt_json) as f:
        anns = {ann['image_id']: ann for ann in json.load(f)['annotations']}
    things = [c for c in CASE_CATEGORIES if c['isthing']]
    label = {c['id']: i for i, c in enumerate(
        things + [c for c in CASE_CATEGORIES if not c['isthing']])}
    thing_ids = {c['id'] for c in things}

    def data_info(sample):
        """The loader's input, as PanopticFCNCocoDataset gives it."""
        segments = [
            dict(id=seg['id'], category=label[seg['category_id']],
                 iscrowd=seg['iscrowd'],
                 is_thing=seg['category_id'] in thing_ids
                 and not seg['iscrowd'])
            for seg in anns[sample['img_id']]['segments_info']
        ]
        return dict(seg_map_path=sample['seg_map_path'],
                    ori_shape=sample['ori_shape'], segments_info=segments,
                    instances=[dict(bbox=[0, 0, 1, 1],
                                    bbox_label=seg['category'],
                                    ignore_flag=0, segment_id=seg['id'])
                               for seg in segments if seg['is_thing']])

    loaders = dict(
        ours=LoadPanopticFCNAnnotations(with_bbox=False, with_label=False,
                                        with_eval_rle=True),
        mmdet=LoadPanopticAnnotations(with_bbox=False, with_label=False))
    seconds, rles = {}, []
    for name, loader in loaders.items():
        infos = [data_info(sample) for sample in samples]
        start = time.perf_counter()
        for info in infos:
            loader(info)  # adds its outputs to `info`
            info.pop('gt_masks')  # one (N, H, W) stack per image
        seconds[name] = (time.perf_counter() - start) / len(samples)
        if name == 'ours':
            rles = [info['gt_panoptic_rle'] for info in infos]
    return [dict(sample, gt_panoptic_rle=rle)
            for sample, rle in zip(samples, rles)], seconds


def _time_metric(build: Callable[[], object],
                 samples: list,
                 repeat: int,
                 forward_ms: float = 0.0) -> tuple[float, float, dict]:
    """Best of ``repeat`` runs of ``process`` (one image per call, as in a
    test loop) + ``compute_metrics`` of a freshly built metric.

    Args:
        forward_ms (float): Before each ``process`` call, sleep this long,
            as a validation loop waits for a GPU forward (the CPU is free
            for the metric's background GT threads); the sleeps are not
            counted. Defaults to 0: calls back to back.

    Returns:
        tuple: seconds in ``process`` (without the sleeps) and in
        ``compute_metrics`` of the fastest run, and the metrics it
        returned.
    """
    best = None
    for _ in range(repeat):
        metric = build()
        # mmdet's metric overwrites void labels in the map it is given.
        batch = [dict(s, pred_panoptic_seg=dict(
            sem_seg=s['pred_panoptic_seg']['sem_seg'].clone()))
                 for s in samples]
        with contextlib.redirect_stdout(io.StringIO()):
            start = time.perf_counter()
            for sample in batch:
                if forward_ms:
                    time.sleep(forward_ms / 1000)
                metric.process({}, [sample])
            middle = time.perf_counter()
            metrics = metric.compute_metrics(metric.results)
            end = time.perf_counter()
        process = middle - start - forward_ms / 1000 * len(batch)
        if best is None or process + end - middle < sum(best[:2]):
            best = (process, end - middle, metrics)
    return best


def bench_runner_metric(args: argparse.Namespace) -> Rows:
    """Part (b): the runner metric vs mmdet's ``CocoPanopticMetric``.

    Both get the same data-sample dicts held in memory (the ``pred``
    side of part (a)'s pairs), as the test pipeline of our configs makes
    them: with the GT PNG's RLEs (``gt_panoptic_rle``), encoded in the
    dataloader workers, which decode that PNG anyway (mmdet's panoptic
    test pipeline too). mmdet's metric ignores them and reads the GT PNGs
    itself, in its default validation mode (no ``outfile_prefix``: a
    prediction PNG written and PQ stats computed per image). Ours encodes
    the predictions in ``--nproc`` background threads (``threads``; in a
    real run they overlap the model's forward) and calls the PQ engine
    once in ``compute_metrics``. The "GT PNGs" rows are a pipeline without
    ``with_eval_rle``, where our metric decodes the PNGs too: on a first
    validation, and on a later one that reuses the GT RLEs it cached. The
    "forward" rows wait ``--forward-ms`` before every ``process`` call, as
    a GPU validation loop waits for the model, and count only the metric's
    own time: what the metric adds to a validation.

    Returns:
        Rows: ``(method, seconds)``, mmdet's first.
    """
    from mmdet.evaluation import CocoPanopticMetric
    from mmengine.logging import MMLogger

    from mmpfcn.evaluation import PanopticQualityMetric

    # Keep the metrics' result tables out of the benchmark's output.
    MMLogger.get_instance('benchmark_pq', log_level='WARNING')
    with contextlib.ExitStack() as stack:
        root = args.work_dir or stack.enter_context(
            tempfile.TemporaryDirectory(prefix='bench_pq_'))
        paths = generate_pairs(root, args.num_images, 480, 640, 30, args.seed,
                               args.nproc)
        ann_file, meta, png_samples = _runner_inputs(paths, root)
        samples, loading = _with_pipeline_gt(png_samples, paths[0])
        print('GT loading in the dataloader workers, per image (not '
              'counted below): ours (LoadPanopticFCNAnnotations, masks + '
              f'semantic map + RLEs) {1000 * loading["ours"]:.1f} ms, '
              'mmdet (LoadPanopticAnnotations, masks + semantic map) '
              f'{1000 * loading["mmdet"]:.1f} ms')
        gt_dir, nproc = paths[1], args.nproc

        def build(metric_type, warm=False, **kwargs):
            def make():
                with contextlib.redirect_stdout(io.StringIO()):
                    metric = metric_type(ann_file=ann_file, seg_prefix=gt_dir,
                                         nproc=args.nproc, **kwargs)
                metric.dataset_meta = meta
                if warm:  # a previous validation pass has cached the GT
                    metric.process({}, png_samples)
                    metric.finish_jobs(metric.results)
                    metric.results.clear()
                return metric
            return make

        ours = PanopticQualityMetric
        forward = (f'{args.forward_ms:g} ms forward per image, not '
                   'counted')
        methods = [
            ('mmdet CocoPanopticMetric', build(CocoPanopticMetric), samples),
            (f'PanopticQualityMetric (hotcoco, threads={nproc})',
             build(ours, threads=nproc), samples),
            ('PanopticQualityMetric (hotcoco, threads=0)',
             build(ours, threads=0), samples),
            ('PanopticQualityMetric (hotcoco, GT PNGs, 1st pass)',
             build(ours, threads=nproc), png_samples),
            ('PanopticQualityMetric (hotcoco, GT PNGs, 2nd pass: cached)',
             build(ours, warm=True, threads=nproc), png_samples),
            ('PanopticQualityMetric (engine panopticapi)',
             build(ours, engine='panopticapi', threads=nproc), samples),
        ]
        if args.forward_ms:
            methods += [
                (f'mmdet CocoPanopticMetric ({forward})',
                 build(CocoPanopticMetric), samples, args.forward_ms),
                (f'PanopticQualityMetric (hotcoco, {forward})',
                 build(ours, threads=nproc), samples, args.forward_ms),
            ]
        rows, pqs = [], []
        for name, make, inputs, *forward_ms in methods:
            process, compute, metrics = _time_metric(make, inputs,
                                                     args.repeat,
                                                     *forward_ms)
            print(f'{name}: process {process:.2f} s + compute_metrics '
                  f'{compute:.2f} s; PQ {metrics["PQ"]:.6f}')
            rows.append((name, process + compute))
            pqs.append(metrics['PQ'])
        print(f'max |PQ - PQ(mmdet)| = '
              f'{max(abs(pq - pqs[0]) for pq in pqs):.2e}')
        return rows


def print_table(title: str, rows: Rows, num_images: int) -> None:
    """Methods side by side with their speed-up over the first row."""
    reference = rows[0][1]
    width = max(len(name) for name, _ in rows)
    print(f'\n{title}')
    header = (f"{'method':{width}s} | {'seconds':>8s} | {'images/s':>8s} | "
              f"{'speed-up':>8s}")
    print(header)
    print('-' * len(header))
    for name, seconds in rows:
        print(f'{name:{width}s} | {seconds:8.2f} | '
              f'{num_images / seconds:8.0f} | {reference / seconds:7.1f}x')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark the PQ engines')
    parser.add_argument('--part', choices=('a', 'b', 'c', 'all'),
                        default='all',
                        help='a: PNG folders; b: runner metric; c: whole '
                        'processes (pq_eval.py vs panopticapi)')
    parser.add_argument('--nproc', type=int, default=2,
                        help='processes / threads for every method')
    parser.add_argument('--num-images', type=int, default=500)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--repeat', type=int, default=3,
                        help='runs per method; the fastest is reported')
    parser.add_argument('--forward-ms', type=float, default=50.0,
                        help='part (b): simulated model time before each '
                        'process call in the "forward" rows; 0 leaves them '
                        'out')
    parser.add_argument('--work-dir',
                        help='keep the generated pairs here (reused by the '
                        'next run); default: a temporary folder')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # hotcoco sizes its thread pool once, at its first use.
    os.environ['RAYON_NUM_THREADS'] = str(args.nproc)
    parts = dict(a=('(a) PQ from COCO-panoptic folders', bench_files),
                 b=('(b) runner metric', bench_runner_metric),
                 c=('(c) whole processes', bench_processes))
    for part in ('a', 'b', 'c') if args.part == 'all' else (args.part, ):
        title, bench = parts[part]
        rows = bench(args)
        print_table(f'{title}: {args.num_images} images, nproc '
                    f'{args.nproc}, best of {args.repeat}', rows,
                    args.num_images)


if __name__ == '__main__':
    main()
