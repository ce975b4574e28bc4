"""Export the fully convolutional network of a config to ONNX.

``python tools/deployment/export_onnx.py CONFIG CKPT --out model.onnx
[--shape H W] [--cfg-options KEY=VALUE ...]``

The graph maps the normalised, padded image (``image``, (B, 3, H, W), H and
W multiples of 32; batch, height and width are dynamic) to the position
maps, kernel maps of every level and the encoded feature F_e. Kernel
selection, masks and the panoptic merge stay in Python:
``mmpfcn.apis.ONNXPanopticPredictor(model.onnx, CONFIG, CKPT)`` runs the
file with onnxruntime and the model's own pre- and post-processing.

After writing, the tool runs the file with onnxruntime (if installed) on a
random image of the export size and of a different size and prints the
largest difference to PyTorch; above ``--atol`` (1e-4) it exits with an
error. Deformable convs (DCNv2, ``dcn_impl='pytorch'``, the default) export
as standard GridSample + MatMul (opset >= 16); mmcv's compiled DCN
(``dcn_impl='mmcv'``) is refused before anything is written, as standard
ONNX has no such operator.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

import numpy as np
import torch
from mmengine.config import DictAction

from mmpfcn.apis import CheckpointMismatchError, init_model
from mmpfcn.apis.onnx_export import (
    INPUT_NAME,
    NotExportableError,
    TensorForward,
    export_onnx,
)


def max_difference(model, onnx_file: str, shape) -> float:
    """Largest |onnxruntime - PyTorch| over all outputs for a random
    (1, 3, H, W) input."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_file,
                                   providers=['CPUExecutionProvider'])
    inputs = torch.from_numpy(
        np.random.default_rng(0).normal(0, 50, size=(1, 3, *shape)).astype(
            np.float32))
    with torch.no_grad():
        expected = TensorForward(model)(inputs)
    found = session.run(None, {INPUT_NAME: inputs.numpy()})
    return max(
        float(np.abs(out - ref.numpy()).max())
        for out, ref in zip(found, expected))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export Panoptic FCN\'s network to ONNX')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1216],
                        metavar=('H', 'W'),
                        help='tracing input size, multiples of 32 (default '
                        '800 1216); the file accepts any multiple of 32')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest accepted difference to PyTorch')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        model = init_model(args.config, args.checkpoint,
                           cfg_options=args.cfg_options)
        out_dir = osp.dirname(osp.abspath(args.out))
        os.makedirs(out_dir, exist_ok=True)
        names = export_onnx(model, args.out, tuple(args.shape), args.opset)
    except (NotExportableError, CheckpointMismatchError, ValueError,
            OSError) as err:
        print(f'export_onnx: error: {err}', file=sys.stderr)
        return 1
    print(f'{args.out}: image (B, 3, H, W) -> {len(names)} outputs '
          f'({names[0]} ... {names[-1]})')
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        print('onnxruntime is not installed: the file was not checked')
        return 0
    height, width = args.shape
    for shape in ((height, width), (height + 64, width - 32)):
        if min(shape) < 32:
            continue
        diff = max_difference(model, args.out, shape)
        print(f'onnxruntime vs PyTorch at {shape[0]} x {shape[1]}: max abs '
              f'difference {diff:.2e}')
        if diff > args.atol:
            print(f'export_onnx: error: difference {diff:.2e} above --atol '
                  f'{args.atol}', file=sys.stderr)
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
