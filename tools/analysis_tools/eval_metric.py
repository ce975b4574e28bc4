"""Re-score a prediction dump: ``python tools/analysis_tools/eval_metric.py
CONFIG RESULTS [--cfg-options KEY=VALUE ...]``.

RESULTS is the file of ``tools/test.py CONFIG CKPT --out results.pkl``;
its PNG-encoded maps and RLE masks are decoded bit for bit and given to
the config's ``test_evaluator`` (ground truth from its ``ann_file`` and
``seg_prefix``), so that the metrics are those ``tools/test.py`` printed.
The metrics are printed as a dict, as mmdet's ``eval_metric.py`` does.
"""
import argparse
import sys
from typing import Dict, List, Optional

from mmengine.config import Config, DictAction
from mmengine.evaluator import Evaluator

from mmpfcn.evaluation.metrics import load_predictions
from mmpfcn.registry import DATASETS
from mmpfcn.utils import register_all_modules


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Evaluate a prediction dump of tools/test.py --out')
    parser.add_argument('config', help='config file')
    parser.add_argument('results', help='dump of tools/test.py --out')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. '
        'test_evaluator.0.classwise=True')
    return parser.parse_args(argv)


def evaluate_dump(cfg: Config, results: str) -> Dict[str, float]:
    """The metrics of the config's ``test_evaluator`` on a dump.

    Raises:
        ValueError: A file that is not a dump of ``tools/test.py --out``.
    """
    register_all_modules(init_default_scope=True)
    samples = load_predictions(results)
    dataset_cfg = cfg.test_dataloader.dataset.copy()
    dataset_cfg['lazy_init'] = True  # the meta info only
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = DATASETS.build(dataset_cfg).metainfo
    return evaluator.offline_evaluate(samples, chunk_size=1)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    try:
        metrics = evaluate_dump(cfg, args.results)
    except (FileNotFoundError, ValueError) as err:
        print(f'eval_metric: error: {err}', file=sys.stderr)
        return 1
    print(metrics)
    return 0


if __name__ == '__main__':
    sys.exit(main())
