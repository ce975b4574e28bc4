"""PQ and test time of one checkpoint without and with test-time
augmentation, in one process:

``python tools/analysis_tools/benchmark_tta.py CONFIG CKPT [--out T.md]``

Three runs of the config's test loop (``Runner.test``, data loading and
metric included): ``plain`` (the test pipeline), ``flip`` (the
``tta_pipeline`` with its first scale only: unflipped + flipped) and
``flip+ms`` (the whole ``tta_pipeline``: every scale, unflipped +
flipped), the last two as ``tools/test.py --tta`` runs them. Prints a
markdown table of PQ / PQ_th / PQ_st and seconds per image, the time
relative to ``plain``.
"""
import argparse
import copy
import os.path as osp
import tempfile
import time
from typing import Dict, List

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmpfcn.utils import enable_tta, register_all_modules

METRIC_PREFIX = 'coco_panoptic'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='PQ and time without TTA, with flip TTA and with flip '
        '+ multi-scale TTA')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--work-dir', help='logs of the three runs '
                        '(default: a temporary folder)')
    parser.add_argument('--out', help='also write the table to this file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings (applied before the TTA switch)')
    return parser.parse_args()


def first_scale_only(cfg: Config) -> Config:
    """``cfg`` whose ``tta_pipeline`` keeps the first alternative of its
    first ``TestTimeAug`` step (the test scale): flip TTA only."""
    cfg = copy.deepcopy(cfg)
    views = [t for t in cfg.tta_pipeline if t['type'] == 'TestTimeAug']
    if len(views) != 1:
        raise ValueError('benchmark_tta: tta_pipeline needs one TestTimeAug '
                         f'step, found {len(views)}')
    views[0]['transforms'][0] = views[0]['transforms'][0][:1]
    return cfg


def num_views(cfg: Config) -> int:
    """Views per image of ``cfg.tta_pipeline`` (product of the steps)."""
    count = 1
    for transform in cfg.tta_pipeline:
        if transform['type'] == 'TestTimeAug':
            for step in transform['transforms']:
                count *= len(step)
    return count


def run_test(cfg: Config, checkpoint: str, work_dir: str) -> Dict:
    """One test run; returns its metrics, seconds and image count."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.load_from = checkpoint
    # a visualizer instance of its own (mmengine reuses one by name)
    cfg.visualizer.name = f'benchmark-tta-{time.time_ns()}'
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    metrics = runner.test()
    seconds = time.perf_counter() - start
    return dict(metrics=metrics, seconds=seconds,
                images=len(runner.test_dataloader.dataset))


def table(rows: List[Dict]) -> str:
    """Markdown table of the runs, times relative to the first."""
    lines = [
        '| test | views | PQ | PQ_th | PQ_st | s / image | time |',
        '|---|---:|---:|---:|---:|---:|---:|'
    ]
    base = rows[0]['seconds']
    for row in rows:
        m = row['metrics']
        lines.append(
            f"| {row['name']} | {row['views']} | "
            f"{m[f'{METRIC_PREFIX}/PQ']:.1f} | "
            f"{m[f'{METRIC_PREFIX}/PQ_th']:.1f} | "
            f"{m[f'{METRIC_PREFIX}/PQ_st']:.1f} | "
            f"{row['seconds'] / row['images']:.2f} | "
            f"{row['seconds'] / base:.1f}x |")
    return '\n'.join(lines)


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='benchmark_tta_')
    flip = first_scale_only(cfg)
    runs = [('plain', cfg, 1), ('flip', enable_tta(flip), num_views(flip)),
            ('flip+ms', enable_tta(copy.deepcopy(cfg)), num_views(cfg))]
    rows = []
    for name, run_cfg, views in runs:
        result = run_test(run_cfg, args.checkpoint, osp.join(work_dir, name))
        rows.append(dict(result, name=name, views=views))
    text = table(rows)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
