"""Panoptic FCN on a video: an overlay video and, optionally, the overlay
JPG and COCO-panoptic PNG + JSON of every frame
(``frame_<index>_panoptic.jpg``, ``.png``, ``.json``), each overlay drawn
once for both.

``python demo/video_demo.py VIDEO CONFIG --weights CKPT --out out.mp4
[--out-dir frames/] [--device cpu] [--batch-size 1] [--categories JSON]``

Frames are read with mmcv's ``VideoReader`` and written with OpenCV's
``VideoWriter`` (codec ``--fourcc``, default ``mp4v``) at the input's frame
rate; the overlay is the one of ``demo/image_demo.py``. ``--out`` may not
be the input video, and no frame file replaces the input or ``--out``.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import cv2
import mmcv
from mmengine.utils import ProgressBar

from mmpfcn.apis import demo_cli
from mmpfcn.apis.demo_cli import DemoError
from mmpfcn.apis.output_names import OutputNamer, check_not_input
from mmpfcn.apis.outputs import (
    PANOPTIC_OUTPUT_SUFFIXES,
    render_panoptic,
    write_panoptic_outputs,
)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Panoptic FCN video demo: panoptic overlay video')
    parser.add_argument('video', help='input video file')
    demo_cli.add_model_args(parser)
    parser.add_argument('--out', required=True, help='output video file')
    parser.add_argument('--out-dir',
                        help='also write the overlay JPG and the '
                        'COCO-panoptic PNG + JSON of every frame into this '
                        'folder')
    parser.add_argument('--fourcc', default='mp4v',
                        help='four-character codec code (default: mp4v)')
    return parser.parse_args(argv)


def open_video(args: argparse.Namespace) -> mmcv.VideoReader:
    """Check the outputs can be written and open the input video.

    Raises:
        DemoError: An unwritable output folder, a video that is missing or
            has no readable frame, ``--out`` naming the input video, or a
            ``--fourcc`` not of 4 characters.
    """
    demo_cli.check_output_dirs(osp.dirname(osp.abspath(args.out)),
                               args.out_dir)
    if not osp.isfile(args.video):
        raise DemoError(f'video {args.video!r} does not exist')
    with demo_cli.reported(ValueError):
        check_not_input(args.out, [args.video], '--out')
    with demo_cli.reported(OSError, ValueError):
        reader = mmcv.VideoReader(args.video)
    if len(reader) == 0 or reader.width == 0:
        raise DemoError(f'no frame can be read from {args.video!r}')
    if len(args.fourcc) != 4:
        raise DemoError(
            f'--fourcc needs 4 characters, got {args.fourcc!r}')
    return reader


def run(args: argparse.Namespace) -> int:
    """Write the overlay video (and the per-frame files); 1 if no frame
    was written."""
    reader = open_video(args)
    model, category_ids = demo_cli.load_model(args)
    meta = model.dataset_meta
    writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*args.fourcc),
                             reader.fps, (reader.width, reader.height))
    if not writer.isOpened():
        raise DemoError(f'cannot open {args.out!r} for writing with codec '
                        f'{args.fourcc!r}')
    frames = []  # the frames of the batch being processed
    progress = ProgressBar(len(reader))

    def frame_source():
        for frame in reader:
            if frame is None:
                break
            frames.append(frame)
            yield frame

    namer = OutputNamer(args.out_dir or '', PANOPTIC_OUTPUT_SUFFIXES,
                        [args.video, args.out])
    count = 0
    try:
        for sample in demo_cli.predict(model, frame_source(),
                                       args.batch_size):
            picture = render_panoptic(frames.pop(0), sample, meta)
            if args.out_dir:
                write_panoptic_outputs(args.out_dir,
                                       namer(f'frame_{count:06d}'), picture,
                                       meta, category_ids)
            writer.write(picture.overlay)
            count += 1
            progress.update()
    finally:
        writer.release()
    print(f'\n{count} frame(s) written to {args.out}')
    return 0 if count else 1


def main(argv: Optional[List[str]] = None) -> int:
    return demo_cli.run_cli('video_demo', run, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
