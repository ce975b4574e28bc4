"""Panoptic FCN on a video: an overlay video and, optionally, the
COCO-panoptic PNG + JSON of every frame.

``python demo/video_demo.py VIDEO CONFIG --weights CKPT --out out.mp4
[--out-dir frames/] [--device cpu] [--batch-size 1] [--categories JSON]``

Frames are read with mmcv's ``VideoReader`` and written with OpenCV's
``VideoWriter`` (codec ``--fourcc``, default ``mp4v``) at the input's frame
rate; the overlay is the one of ``demo/image_demo.py``.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import cv2
import mmcv
import torch
from mmengine.utils import ProgressBar

from mmpfcn.apis import CheckpointMismatchError, init_model
from mmpfcn.apis.inference import iter_batches
from mmpfcn.apis.outputs import (
    category_ids_from_file,
    check_writable_dir,
    sample_segments,
    write_panoptic_outputs,
)
from mmpfcn.visualization.panoptic_overlay import draw_panoptic_overlay


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Panoptic FCN video demo: panoptic overlay video')
    parser.add_argument('video', help='input video file')
    parser.add_argument('config', help='model config file')
    parser.add_argument('--weights', required=True, help='checkpoint file')
    parser.add_argument('--out', required=True, help='output video file')
    parser.add_argument('--out-dir',
                        help='also write the COCO-panoptic PNG + JSON of '
                        'every frame into this folder')
    parser.add_argument('--fourcc', default='mp4v',
                        help='four-character codec code (default: mp4v)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--categories',
                        help='COCO categories JSON giving the category ids '
                        'of the class names (default: label + 1)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        check_writable_dir(osp.dirname(osp.abspath(args.out)))
        if args.out_dir:
            check_writable_dir(args.out_dir)
        if not osp.isfile(args.video):
            raise FileNotFoundError(f'video {args.video!r} does not exist')
        reader = mmcv.VideoReader(args.video)
    except (OSError, ValueError) as err:
        print(f'video_demo: error: {err}', file=sys.stderr)
        return 1
    if len(reader) == 0 or reader.width == 0:
        print(f'video_demo: error: no frame can be read from '
              f'{args.video!r}', file=sys.stderr)
        return 1
    if len(args.fourcc) != 4:
        print(f'video_demo: error: --fourcc needs 4 characters, got '
              f'{args.fourcc!r}', file=sys.stderr)
        return 1

    try:
        model = init_model(args.config, args.weights, device=args.device)
        meta = model.dataset_meta
        category_ids = None
        if args.categories:
            category_ids = category_ids_from_file(args.categories,
                                                  meta['classes'])
    except (CheckpointMismatchError, FileNotFoundError, ValueError) as err:
        print(f'video_demo: error: {err}', file=sys.stderr)
        return 1
    writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*args.fourcc),
                             reader.fps, (reader.width, reader.height))
    if not writer.isOpened():
        print(f'video_demo: error: cannot open {args.out!r} for writing '
              f'with codec {args.fourcc!r}', file=sys.stderr)
        return 1
    frames = []  # the frames of the batch being processed
    progress = ProgressBar(len(reader))

    def frame_source():
        for frame in reader:
            if frame is None:
                break
            frames.append(frame)
            yield frame

    count = 0
    try:
        with torch.no_grad():
            for data in iter_batches(model, frame_source(), args.batch_size):
                for sample in model.test_step(data):
                    frame = frames.pop(0)
                    if args.out_dir:
                        write_panoptic_outputs(
                            args.out_dir, f'frame_{count:06d}', frame,
                            sample, meta, category_ids)
                    id_map, segments = sample_segments(sample, meta)
                    writer.write(
                        draw_panoptic_overlay(frame, id_map, segments,
                                              meta['classes'],
                                              meta['palette']))
                    count += 1
                    progress.update()
    finally:
        writer.release()
    print(f'\n{count} frame(s) written to {args.out}')
    return 0 if count else 1


if __name__ == '__main__':
    sys.exit(main())
