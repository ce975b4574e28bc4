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

No output replaces an input or another output: when ``<stem>`` is taken
(an input such as ``photo.png`` in ``--out-dir`` itself, or two inputs
``a.jpg`` and ``a.png``) the outputs are named ``<stem>-1``, ``<stem>-2``, ...
and the demo says so.

An unreadable image is named, skipped with a warning, and the others are
processed; an output folder that cannot be written stops the demo before
the model is built.
"""
import argparse
import sys
import time
from typing import List, Optional

from mmengine.utils import ProgressBar

from mmpfcn.apis import demo_cli, list_images, read_image
from mmpfcn.apis.inference import output_stem
from mmpfcn.apis.output_names import OutputNamer
from mmpfcn.apis.outputs import (
    PANOPTIC_OUTPUT_SUFFIXES,
    render_panoptic,
    write_panoptic_outputs,
)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Panoptic FCN image demo: panoptic overlays and '
        'COCO-panoptic PNG + JSON per image')
    parser.add_argument('inputs', nargs='+',
                        help='images, folders or glob patterns')
    demo_cli.add_model_args(parser)
    parser.add_argument('--out-dir', default='outputs',
                        help='output folder (default: outputs)')
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    """Write the outputs of every readable image; 1 if none was."""
    demo_cli.check_output_dirs(args.out_dir)
    with demo_cli.reported(FileNotFoundError):
        paths = list_images(args.inputs)
    model, category_ids = demo_cli.load_model(args)
    meta = model.dataset_meta
    namer = OutputNamer(args.out_dir, PANOPTIC_OUTPUT_SUFFIXES, paths)

    start = time.perf_counter()
    written, skipped = 0, []
    progress = ProgressBar(len(paths))

    def skip(index: int, message: str) -> None:
        print(f'\nimage_demo: warning: {message}; skipped', file=sys.stderr)
        skipped.append(index)
        progress.update()

    for sample in demo_cli.predict(model, paths, args.batch_size,
                                   on_skip=skip):
        image = read_image(sample.metainfo['img_path'])
        stem = namer(output_stem(sample))
        if stem in namer.renamed:
            print(f'\nimage_demo: note: outputs of '
                  f"{sample.metainfo['img_path']} named {stem}* "
                  f'({namer.renamed[stem]}* is taken)', file=sys.stderr)
        write_panoptic_outputs(args.out_dir, stem,
                               render_panoptic(image, sample, meta), meta,
                               category_ids)
        written += 1
        progress.update()
    seconds = time.perf_counter() - start
    print(f'\n{written} image(s) written to {args.out_dir} in '
          f'{seconds:.1f} s' +
          (f'; {len(skipped)} unreadable skipped' if skipped else ''))
    return 0 if written else 1


def main(argv: Optional[List[str]] = None) -> int:
    return demo_cli.run_cli('image_demo', run, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
