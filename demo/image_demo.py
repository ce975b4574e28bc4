"""Panoptic FCN on images: overlay pictures and COCO-panoptic results.

``python demo/image_demo.py INPUTS CONFIG --weights CKPT [--out-dir DIR]
[--device cpu] [--batch-size 1] [--categories panoptic_categories.json]``

INPUTS is one or more images, folders or glob patterns (quote the pattern
to let the demo expand it). For every image the demo writes into
``--out-dir``:

- ``<stem>_panoptic.jpg``: things in distinct colours labelled with class
  name and score, stuff in its palette colour, segment outlines;
- ``<stem>.png`` and ``<stem>.json``: the COCO-panoptic result (segment id
  ``R + 256 G + 256^2 B``; ``segments_info`` with category ids, areas,
  boxes and thing scores; the file's ``categories``).

An unreadable image is named, skipped with a warning, and the others are
processed; an output folder that cannot be written stops the demo before
the model is built.
"""
import argparse
import sys
import time
from typing import List, Optional

import torch
from mmengine.utils import ProgressBar

from mmpfcn.apis import (
    CheckpointMismatchError,
    init_model,
    list_images,
    read_image,
)
from mmpfcn.apis.inference import iter_batches, output_stem
from mmpfcn.apis.outputs import (
    category_ids_from_file,
    check_writable_dir,
    write_panoptic_outputs,
)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Panoptic FCN image demo: panoptic overlays and '
        'COCO-panoptic PNG + JSON per image')
    parser.add_argument('inputs', nargs='+',
                        help='images, folders or glob patterns')
    parser.add_argument('config', help='model config file')
    parser.add_argument('--weights', required=True, help='checkpoint file')
    parser.add_argument('--out-dir', default='outputs',
                        help='output folder (default: outputs)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--categories',
                        help='COCO categories JSON giving the category ids '
                        'of the class names (default: label + 1)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        check_writable_dir(args.out_dir)
        paths = list_images(args.inputs)
    except (PermissionError, FileNotFoundError) as err:
        print(f'image_demo: error: {err}', file=sys.stderr)
        return 1
    try:
        model = init_model(args.config, args.weights, device=args.device)
        meta = model.dataset_meta
        category_ids = None
        if args.categories:
            category_ids = category_ids_from_file(args.categories,
                                                  meta['classes'])
    except (CheckpointMismatchError, FileNotFoundError, ValueError) as err:
        print(f'image_demo: error: {err}', file=sys.stderr)
        return 1

    start = time.perf_counter()
    written, skipped = 0, []
    progress = ProgressBar(len(paths))

    def skip(index: int, message: str) -> None:
        print(f'\nimage_demo: warning: {message}; skipped', file=sys.stderr)
        skipped.append(index)
        progress.update()

    with torch.no_grad():
        for data in iter_batches(model, paths, args.batch_size,
                                 on_skip=skip):
            for sample in model.test_step(data):
                image = read_image(sample.metainfo['img_path'])
                write_panoptic_outputs(args.out_dir, output_stem(sample),
                                       image, sample, meta, category_ids)
                written += 1
                progress.update()
    seconds = time.perf_counter() - start
    print(f'\n{written} image(s) written to {args.out_dir} in '
          f'{seconds:.1f} s' +
          (f'; {len(skipped)} unreadable skipped' if skipped else ''))
    return 0 if written else 1


if __name__ == '__main__':
    sys.exit(main())
