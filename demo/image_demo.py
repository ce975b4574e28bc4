"""Panoptic FCN on images, with mmdet's image demo arguments.

``python demo/image_demo.py INPUTS MODEL [--weights CKPT] [--out-dir DIR]
[--device cpu] [--pred-score-thr 0.3] [--batch-size 1] [--show]
[--no-save-vis] [--no-save-pred] [--print-result] [--palette none]
[--categories panoptic_categories.json]``

INPUTS is one or more images, folders or glob patterns (quote the pattern
to let the demo expand it); MODEL a config file or a model name of
``model-index.yml``. Built on :class:`~mmpfcn.apis.PanopticFCNInferencer`,
the demo writes per image into ``--out-dir``:

- ``vis/<stem>.jpg``: things in distinct colours labelled with class name
  and score, stuff in its palette colour, segment outlines;
- ``preds/<stem>_panoptic_seg.png`` and ``preds/<stem>.json``: the
  COCO-panoptic result (segment id ``R + 256 G + 256^2 B``; the JSON's
  ``segments_info`` with category ids, areas, boxes and thing scores, its
  ``categories``, and the instances' labels, scores, boxes and RLE masks).

No output replaces an input or another output: when ``<stem>`` is taken
(an input such as ``vis/photo.jpg`` of ``--out-dir`` itself, or two inputs
``a.jpg`` and ``a.png``) the outputs are named ``<stem>-1``, ``<stem>-2``,
... and the demo says so. An unreadable image is named, skipped with a
warning, and the others are processed; an output folder that cannot be
written stops the demo before the model is built.
"""
import argparse
import sys
import time
from typing import List, Optional

from mmpfcn.apis import demo_cli, list_images


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Panoptic FCN image demo: panoptic pictures and '
        'COCO-panoptic PNG + JSON per image')
    parser.add_argument('inputs', nargs='+',
                        help='images, folders or glob patterns')
    demo_cli.add_model_args(parser)
    parser.add_argument('--out-dir', default='outputs',
                        help='output folder (default: outputs)')
    parser.add_argument('--show', action='store_true',
                        help='show each picture in a window')
    parser.add_argument('--no-save-vis', action='store_true',
                        help='do not write the pictures (vis/)')
    parser.add_argument('--no-save-pred', action='store_true',
                        help='do not write the PNG + JSON results (preds/)')
    parser.add_argument('--print-result', action='store_true',
                        help='print the predictions')
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    """Predict every readable image; 1 if none was."""
    saving = not (args.no_save_vis and args.no_save_pred)
    if saving:
        demo_cli.check_output_dirs(args.out_dir)
    with demo_cli.reported(FileNotFoundError):
        paths = list_images(args.inputs)
    inferencer = demo_cli.build_inferencer(args)
    inferencer.on_skip = lambda index, message: print(
        f'\nimage_demo: warning: {message}; skipped', file=sys.stderr)
    inferencer.on_rename = lambda message: print(
        f'\nimage_demo: note: {message}', file=sys.stderr)
    start = time.perf_counter()
    results = inferencer(
        paths,
        batch_size=args.batch_size,
        out_dir=args.out_dir if saving else '',
        show=args.show,
        no_save_vis=args.no_save_vis,
        no_save_pred=args.no_save_pred,
        print_result=args.print_result,
        pred_score_thr=args.pred_score_thr)
    done = len(results['predictions'])
    seconds = time.perf_counter() - start
    skipped = len(paths) - done
    where = f' written to {args.out_dir}' if saving else ''
    print(f'{done} image(s){where} in {seconds:.1f} s' +
          (f'; {skipped} unreadable skipped' if skipped else ''))
    return 0 if done else 1


def main(argv: Optional[List[str]] = None) -> int:
    return demo_cli.run_cli('image_demo', run, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
