"""Panoptic FCN on a video: a video of the panoptic pictures and,
optionally, the picture and COCO-panoptic PNG + JSON of every frame.

``python demo/video_demo.py VIDEO MODEL [--weights CKPT] --out out.mp4
[--out-dir frames/] [--device cpu] [--batch-size 1] [--pred-score-thr 0.3]
[--palette none] [--categories JSON]``

Frames are read with mmcv's ``VideoReader``, predicted ``--batch-size`` at
a time by :class:`~mmpfcn.apis.PanopticFCNInferencer` (which draws each
picture once, for the video and ``--out-dir`` alike: ``vis/<n>.jpg``,
``preds/<n>_panoptic_seg.png``, ``preds/<n>.json``, ``<n>`` the frame's
zero-padded index) and written with OpenCV's ``VideoWriter`` (codec
``--fourcc``, default ``mp4v``) at the input's frame rate. ``--out`` may
not be the input video, and no frame file replaces the input or ``--out``.
"""
import argparse
import os.path as osp
import sys
from itertools import islice
from typing import List, Optional

import cv2
import mmcv
from mmengine.utils import ProgressBar

from mmpfcn.apis import demo_cli
from mmpfcn.apis.demo_cli import DemoError
from mmpfcn.apis.output_names import check_not_input


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Panoptic FCN video demo: panoptic picture video')
    parser.add_argument('video', help='input video file')
    demo_cli.add_model_args(parser)
    parser.add_argument('--out', required=True, help='output video file')
    parser.add_argument('--out-dir',
                        help='also write the picture and the COCO-panoptic '
                        'PNG + JSON of every frame into this folder')
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
    """Write the picture video (and the per-frame files); 1 if no frame
    was written."""
    reader = open_video(args)
    inferencer = demo_cli.build_inferencer(args, show_progress=False)
    inferencer.protected = [args.video, args.out]
    writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*args.fourcc),
                             reader.fps, (reader.width, reader.height))
    if not writer.isOpened():
        raise DemoError(f'cannot open {args.out!r} for writing with codec '
                        f'{args.fourcc!r}')
    frames = iter(frame for frame in reader if frame is not None)
    progress = ProgressBar(len(reader))
    count = 0
    try:
        while True:
            batch = list(islice(frames, args.batch_size))
            if not batch:
                break
            results = inferencer(
                batch, batch_size=len(batch), return_vis=True,
                out_dir=args.out_dir or '', no_save_vis=not args.out_dir,
                no_save_pred=not args.out_dir,
                pred_score_thr=args.pred_score_thr)
            for picture in results['visualization']:
                writer.write(picture[..., ::-1])  # RGB -> BGR
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
