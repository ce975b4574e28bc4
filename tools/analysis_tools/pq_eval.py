"""Panoptic quality of any COCO-panoptic prediction folder.

``python tools/analysis_tools/pq_eval.py GT_JSON GT_DIR PRED_JSON PRED_DIR``
prints the PQ table (All / Things / Stuff: PQ, SQ, RQ in percent and the
number of categories N); ``--out metrics.json`` also writes ``PQ SQ RQ
PQ_th SQ_th RQ_th PQ_st SQ_st RQ_st`` (percent) and ``per_class``.
hotcoco is the default engine, ``--engine panopticapi`` the reference.
"""
import argparse
import json
import os
import sys

from mmpfcn.evaluation.functional import (
    ENGINES,
    PanopticConsistencyError,
    PanopticFormatError,
    evaluate_panoptic,
    print_panoptic_table,
)

GROUP_SUFFIX = {'All': '', 'Things': '_th', 'Stuff': '_st'}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Panoptic quality (PQ/SQ/RQ) of COCO-panoptic '
        'predictions against ground truth')
    parser.add_argument('gt_json', help='ground-truth COCO panoptic JSON')
    parser.add_argument('gt_dir', help='folder of the ground-truth PNGs')
    parser.add_argument('pred_json', help='predicted COCO panoptic JSON')
    parser.add_argument('pred_dir', help='folder of the predicted PNGs')
    parser.add_argument('--engine', choices=ENGINES, default='hotcoco',
                        help='PQ engine (default: hotcoco)')
    parser.add_argument('--nproc', type=int, default=os.cpu_count() or 1,
                        help='threads (hotcoco) or processes (panopticapi); '
                        'default: all CPUs')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    parser.add_argument('--classwise', action='store_true',
                        help='also print PQ/SQ/RQ per category')
    parser.add_argument('--check-pixels', action='store_true',
                        help='also decode every PNG and check its segment '
                        'ids against the JSON (both sides) and the JSON '
                        'areas of the ground truth against its pixels '
                        '(PQ uses the pixel counts either way)')
    return parser.parse_args(argv)


def load_panoptic_json(path: str, need_categories: bool) -> dict:
    """A COCO panoptic JSON with its ``annotations`` (and ``categories``).

    Raises:
        PanopticFormatError: a file that is not JSON, or lacks the lists,
            naming the file and what was expected.
    """
    keys = ('annotations', 'categories')[:1 + need_categories]
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PanopticFormatError(
            f'{path}: not a JSON file ({err}); expected a COCO panoptic '
            'JSON with ' + ' and '.join(f'`{key}`' for key in keys) +
            ' lists') from err
    for key in keys:
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise PanopticFormatError(f'{path}: expected a COCO panoptic '
                                      f'JSON with a `{key}` list')
    return data


def evaluate_files(gt_json: str,
                   gt_dir: str,
                   pred_json: str,
                   pred_dir: str,
                   engine: str = 'hotcoco',
                   nproc: int = 1,
                   check_pixels: bool = False) -> tuple[dict, list]:
    """Load both JSON files and score them (the categories are the
    ground truth's, as in panopticapi).

    Returns:
        tuple[dict, list]: the results of
        :func:`~mmpfcn.evaluation.functional.evaluate_panoptic` and the
        categories.
    """
    for folder in (gt_dir, pred_dir):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f'PNG folder {folder} does not exist')
    gt = load_panoptic_json(gt_json, need_categories=True)
    pred = load_panoptic_json(pred_json, need_categories=False)
    images = gt.get('images')
    results = evaluate_panoptic(gt['annotations'], pred['annotations'],
                                gt['categories'], gt_dir, pred_dir,
                                engine=engine, nproc=nproc,
                                check_pixels=check_pixels,
                                images=images if isinstance(images, list)
                                else None)
    return results, gt['categories']


def to_metrics(results: dict, categories: list) -> dict:
    """The ``--out`` JSON: headline metrics and per category, in percent."""
    metrics = {
        f'{key.upper()}{suffix}': 100 * results[group][key]
        for group, suffix in GROUP_SUFFIX.items()
        for key in ('pq', 'sq', 'rq')
    }
    metrics['per_class'] = {
        str(cat['id']): dict(
            name=cat.get('name', str(cat['id'])),
            isthing=int(cat['isthing']),
            **{key.upper(): 100 * value
               for key, value in results['per_class'][cat['id']].items()})
        for cat in categories
    }
    return metrics


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results, categories = evaluate_files(
            args.gt_json, args.gt_dir, args.pred_json, args.pred_dir,
            args.engine, args.nproc, args.check_pixels)
        names = {cat['id']: cat.get('name', str(cat['id']))
                 for cat in categories}
        print(print_panoptic_table(results, classwise=args.classwise,
                                   category_names=names))
        if args.out:
            with open(args.out, 'w') as f:
                json.dump(to_metrics(results, categories), f, indent=2)
            print(f'metrics written to {args.out}')
    except (PanopticFormatError, PanopticConsistencyError, OSError) as err:
        # One line: what is wrong and with which file (no traceback).
        print(f'pq_eval: error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
