"""Cityscapes panoptic quality by the official script and by our engine.

``python tools/analysis_tools/cityscapes_eval.py PRED_JSON PRED_DIR
[--gt-json GT_JSON] [--gt-dir GT_DIR]`` scores COCO-panoptic predictions
(e.g. those ``tools/test.py`` writes for the config's
``PanopticQualityMetric`` with ``--cfg-options
test_evaluator.0.format_only=True
test_evaluator.0.outfile_prefix=work_dirs/cs``:
``work_dirs/cs.panoptic.json`` and ``work_dirs/cs.panoptic/``) twice: with
cityscapesscripts' ``evalPanopticSemanticLabeling.evaluatePanoptic`` (the
official Cityscapes benchmark code) and with mmpfcn's PQ engine, on the same
files. It prints both tables and the largest difference of PQ/SQ/RQ over
All/Things/Stuff and the categories, and exits with 1 if that exceeds
``--tolerance`` (1e-9). The ground truth defaults to the val split written by
``tools/dataset_converters/cityscapes_panoptic.py`` (category ids = label
ids, as the official script expects).
"""
import argparse
import contextlib
import io
import json
import os
import os.path as osp
import sys
import tempfile

from mmpfcn.evaluation.functional import (
    PanopticFormatError,
    evaluate_panoptic,
    print_panoptic_table,
)

GROUPS = ('All', 'Things', 'Stuff')
KEYS = ('pq', 'sq', 'rq')


def official_evaluation(gt_json: str, gt_dir: str, pred_json: str,
                        pred_dir: str) -> dict:
    """cityscapesscripts' ``evaluatePanoptic`` (its prints captured), with
    the per-class keys turned back into category ids."""
    try:
        from cityscapesscripts.evaluation import (
            evalPanopticSemanticLabeling as official,
        )
    except ImportError as err:
        raise ImportError('the official evaluation needs cityscapesscripts '
                          f'(pip install cityscapesscripts): {err}') from err
    with tempfile.TemporaryDirectory(prefix='mmpfcn_cs_eval_') as tmp:
        out = osp.join(tmp, 'official.json')
        with contextlib.redirect_stdout(io.StringIO()):
            official.evaluatePanoptic(gt_json, gt_dir, pred_json, pred_dir,
                                      out)
        with open(out) as f:
            results = json.load(f)  # its own output, as it saves it
    results['per_class'] = {int(cat): res
                            for cat, res in results['per_class'].items()}
    return results


def our_evaluation(gt_json: str, gt_dir: str, pred_json: str,
                   pred_dir: str, nproc: int) -> tuple[dict, list]:
    """mmpfcn's engine on the same files; returns results and categories."""
    with open(gt_json) as f:
        gt = json.load(f)
    with open(pred_json) as f:
        pred = json.load(f)
    results = evaluate_panoptic(gt['annotations'], pred['annotations'],
                                gt['categories'], gt_dir, pred_dir,
                                nproc=nproc)
    return results, gt['categories']


def max_difference(ours: dict, official: dict) -> float:
    """Largest |ours - official| over the groups, categories and PQ/SQ/RQ
    (and a mismatch of the group sizes n counts as infinite)."""
    diff = 0.0
    for group in GROUPS:
        if ours[group]['n'] != official[group]['n']:
            return float('inf')
        diff = max([diff] + [abs(ours[group][k] - official[group][k])
                             for k in KEYS])
    for cat, res in official['per_class'].items():
        diff = max([diff] + [abs(ours['per_class'][cat][k] - res[k])
                             for k in KEYS])
    return diff


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description='Cityscapes panoptic quality: the official '
        'cityscapesscripts evaluation next to mmpfcn\'s')
    parser.add_argument('pred_json', help='predicted COCO panoptic JSON')
    parser.add_argument('pred_dir', help='folder of the predicted PNGs')
    parser.add_argument(
        '--gt-json',
        default='data/cityscapes/annotations/cityscapes_panoptic_val.json',
        help='ground-truth JSON (default: %(default)s)')
    parser.add_argument(
        '--gt-dir',
        help='ground-truth PNG folder (default: GT_JSON without .json)')
    parser.add_argument('--nproc', type=int, default=os.cpu_count() or 1,
                        help='threads of our engine')
    parser.add_argument('--tolerance', type=float, default=1e-9,
                        help='largest accepted difference (default 1e-9)')
    parser.add_argument('--out', help='write both results to this JSON')
    args = parser.parse_args(argv)
    gt_dir = args.gt_dir or osp.splitext(args.gt_json)[0]
    for path in (args.gt_json, args.pred_json):
        if not osp.isfile(path):
            print(f'cityscapes_eval: error: {path} does not exist',
                  file=sys.stderr)
            return 1
    for folder in (gt_dir, args.pred_dir):
        if not osp.isdir(folder):
            print(f'cityscapes_eval: error: folder {folder} does not exist',
                  file=sys.stderr)
            return 1
    try:
        ours, categories = our_evaluation(args.gt_json, gt_dir,
                                          args.pred_json, args.pred_dir,
                                          args.nproc)
        official = official_evaluation(args.gt_json, gt_dir, args.pred_json,
                                       args.pred_dir)
    except (PanopticFormatError, FileNotFoundError, KeyError) as err:
        print(f'cityscapes_eval: error: {err}', file=sys.stderr)
        return 1
    names = {cat['id']: cat['name'] for cat in categories}
    for title, results in (('official cityscapesscripts', official),
                           ('mmpfcn', ours)):
        print(f'{title}:')
        print(print_panoptic_table(results, category_names=names))
    diff = max_difference(ours, official)
    print(f'largest difference: {diff:.3g}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(official=official, mmpfcn=ours,
                           max_difference=diff), f, indent=2)
    if not diff <= args.tolerance:
        print(f'cityscapes_eval: error: the engines differ by {diff:.3g} '
              f'(> {args.tolerance:g})', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
