"""FLOPs and parameters of a config's network, with mmengine's complexity
analysis (one fused multiply-add = one FLOP, as detectron2 and fvcore).

``python tools/analysis_tools/get_flops.py CONFIG [--shape H W]
[--max-depth 2] [--cfg-options KEY=VALUE ...]``

The network counted is the fully convolutional part (``mode='tensor'``):
image -> backbone + FPN -> semantic FPN + feature encoder, kernel generator
(position maps, kernel maps, encoded feature). The kernel selection, mask
prediction and panoptic merge depend on the image content and are not
counted. mmcv's modulated deformable convolutions are counted as regular
convolutions of the same shape (their bilinear sampling is not), their
offset convolutions as regular convolutions. H and W are rounded up to a
multiple of 32, as the data preprocessor pads them.
"""
import argparse
import sys
from typing import Any, Dict, List, Optional

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from mmengine.analysis.print_helper import complexity_stats_table
from mmengine.config import DictAction

from mmpfcn.apis import init_model
from mmpfcn.apis.onnx_export import TensorForward

DCN_OPS = ('prim::PythonOp.ModulatedDeformConv2dFunction',
           'prim::PythonOp.DeformConv2dFunction')
# (module name, row name) of the summary
PARTS = (('backbone', 'backbone'), ('neck', 'FPN'),
         ('semantic_fpn', 'semantic FPN'),
         ('panoptic_head.feature_encoder', 'feature encoder'),
         ('panoptic_head.kernel_generator', 'kernel generator'))


def deform_conv_flops(inputs: List[Any], outputs: List[Any]) -> int:
    """Multiply-adds of a (modulated) deformable conv as a regular conv:
    N * C_out * H_out * W_out * C_in / groups * k_h * k_w."""
    out_shape = get_shape(outputs[0])  # (N, C_out, H_out, W_out)
    weight = next(shape for shape in map(get_shape, inputs)
                  if shape is not None and len(shape) == 4
                  and shape[0] == out_shape[1])
    per_output = weight[1] * weight[2] * weight[3]
    return int(out_shape[0] * out_shape[1] * out_shape[2] * out_shape[3] *
               per_output)


def padded_shape(shape: List[int], divisor: int = 32) -> List[int]:
    """(H, W), each rounded up to a multiple of ``divisor``."""
    return [-(-size // divisor) * divisor for size in shape]


def count_flops(config: str,
                shape: List[int],
                cfg_options: Optional[dict] = None) -> Dict[str, Any]:
    """Count the FLOPs and parameters of a config's network.

    Args:
        config (str): Config file.
        shape (list[int]): Input (H, W), padded to a multiple of 32.
        cfg_options (dict, optional): Config overrides.

    Returns:
        dict: ``flops`` (total), ``params``, ``parts`` (row name -> FLOPs),
        ``shape`` (the padded (H, W)), ``table`` (per-module text table).
    """
    model = init_model(config, None, cfg_options=cfg_options)
    shape = padded_shape(shape)
    inputs = torch.zeros(1, 3, *shape)
    wrapper = TensorForward(model).eval()
    analyzer = FlopAnalyzer(wrapper, (inputs, ))
    for op in DCN_OPS:
        analyzer.set_op_handle(op, deform_conv_flops)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    with torch.no_grad():
        by_module = analyzer.by_module()
    parts = {name: by_module.get(f'model.{key}', 0) for key, name in PARTS}
    return dict(
        flops=analyzer.total(),
        params=sum(p.numel() for p in model.parameters()),
        parts=parts,
        shape=shape,
        table=complexity_stats_table(analyzer, max_depth=3,
                                     show_param_shapes=False))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='FLOPs and parameters of a Panoptic FCN config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1216],
                        metavar=('H', 'W'),
                        help='input size (default: 800 1216, an 800 x 1199 '
                        'image padded to 32)')
    parser.add_argument('--table', action='store_true',
                        help='also print the per-module table')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if min(args.shape) < 32:
        print(f'get_flops: error: --shape must be at least 32 x 32, got '
              f'{args.shape}', file=sys.stderr)
        return 1
    result = count_flops(args.config, args.shape, args.cfg_options)
    height, width = result['shape']
    lines = [f'Input shape: (1, 3, {height}, {width})']
    for name, flops in result['parts'].items():
        lines.append(f'  {name:<17} {flops / 1e9:8.2f} GFLOPs')
    lines += [
        f'Total:              {result["flops"] / 1e9:8.2f} GFLOPs '
        '(fully convolutional part; 1 multiply-add = 1 FLOP)',
        f'Params:             {result["params"] / 1e6:8.2f} M'
    ]
    print('\n'.join(lines))
    if args.table:
        print(result['table'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
