"""ONNX export of the fully convolutional part of Panoptic FCN: the
normalised, padded image -> position maps, kernel maps and encoded feature.
Deformable convs (pure-PyTorch DCNv2) export as GridSample + MatMul.

Kernel selection, mask prediction and the panoptic merge depend on the
image content (numbers of peaks and regions) and stay in Python
(:class:`~mmpfcn.apis.onnx_predictor.ONNXPanopticPredictor`).
"""
from typing import List, Sequence, Tuple

import torch
from torch import nn

INPUT_NAME = 'image'
# mmcv's deformable convs export as mmcv custom ops, which standard ONNX
# runtimes do not have
DEFORMABLE_TYPES = ('DeformConv2d', 'ModulatedDeformConv2d',
                    'DeformConv2dPack', 'ModulatedDeformConv2dPack')
# the pure-PyTorch DCNv2 exports as GridSample + MatMul; GridSample is in
# the standard opset from version 16
PURE_DEFORMABLE_TYPES = ('ModulatedDeformConv2dPT',
                         'ModulatedDeformConv2dPackPT')
GRID_SAMPLE_OPSET = 16


class NotExportableError(ValueError):
    """A model part that standard ONNX operators cannot express."""


class TensorForward(nn.Module):
    """The detector's ``mode='tensor'`` forward as one flat tuple.

    Outputs: thing logits of every level (B, N_th, h_l, w_l), stuff logits
    (B, N_st, h_l, w_l), kernel maps (B, C, h_l, w_l), then F_e
    (B, C_e, H/4, W/4).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> tuple:
        things, stuff, kernels, encoded = self.model._forward(inputs)
        return (*things, *stuff, *kernels, encoded)


def output_names(num_levels: int) -> List[str]:
    """Names of the exported outputs, in :class:`TensorForward` order."""
    return ([f'thing_logits_{i}' for i in range(num_levels)] +
            [f'stuff_logits_{i}' for i in range(num_levels)] +
            [f'kernel_maps_{i}' for i in range(num_levels)] + ['mask_feats'])


def split_outputs(flat: Sequence[torch.Tensor],
                  num_levels: int) -> Tuple[list, list, list, torch.Tensor]:
    """Regroup :class:`TensorForward`'s flat outputs as ``_forward``'s."""
    if len(flat) != 3 * num_levels + 1:
        raise ValueError(f'expected {3 * num_levels + 1} network outputs '
                         f'for {num_levels} levels, got {len(flat)}')
    things = list(flat[:num_levels])
    stuff = list(flat[num_levels:2 * num_levels])
    kernels = list(flat[2 * num_levels:3 * num_levels])
    return things, stuff, kernels, flat[-1]


def _named_of_types(model: nn.Module, types: Sequence[str]) -> List[str]:
    return [
        name for name, module in model.named_modules()
        if type(module).__name__ in types
    ]


def _shown(names: Sequence[str]) -> str:
    return ', '.join(names[:5]) + (f' and {len(names) - 5} more'
                                   if len(names) > 5 else '')


def check_exportable(model: nn.Module, opset_version: int = 17) -> None:
    """Refuse models with mmcv's deformable convolutions, and models with
    the pure-PyTorch DCNv2 below opset 16 (no GridSample there).

    Raises:
        NotExportableError: Naming the deformable conv modules.
    """
    deformable = _named_of_types(model, DEFORMABLE_TYPES)
    if deformable:
        raise NotExportableError(
            f'the model has {len(deformable)} mmcv deformable '
            f'convolution(s) ({_shown(deformable)}); standard ONNX has no '
            'deformable convolution (mmcv would export its own custom op, '
            'which onnxruntime cannot run), so no file was written. Build '
            'the DCNv2 convs with the pure-PyTorch implementation (same '
            'weights), e.g. --cfg-options model.panoptic_head.'
            "kernel_generator.dcn_impl=pytorch (and feature_encoder."
            "dcn_impl=pytorch; a dconv backbone's dcn=dict(type='DCNv2PT', "
            '...)).')
    pure = _named_of_types(model, PURE_DEFORMABLE_TYPES)
    if pure and opset_version < GRID_SAMPLE_OPSET:
        raise NotExportableError(
            f'the model has {len(pure)} deformable convolution(s) '
            f'({_shown(pure)}), exported with GridSample, which needs '
            f'--opset >= {GRID_SAMPLE_OPSET}; got {opset_version}, so no '
            'file was written.')


def export_onnx(model: nn.Module,
                out_file: str,
                shape: Tuple[int, int] = (800, 1216),
                opset_version: int = 17) -> List[str]:
    """Export the network with dynamic batch size, height and width.

    Args:
        model (nn.Module): A :class:`PanopticFCN` in eval mode.
        out_file (str): The ``.onnx`` file to write.
        shape (tuple[int, int]): (H, W) of the tracing input, multiples
            of 32 (any other multiple of 32 runs the exported model).
        opset_version (int): ONNX opset. Defaults to 17.

    Returns:
        list[str]: The output names.

    Raises:
        NotExportableError: See :func:`check_exportable`.
        ValueError: A shape that is not a multiple of 32.
    """
    import onnx

    check_exportable(model, opset_version)
    if any(size % 32 or size <= 0 for size in shape):
        raise ValueError(f'the export shape must be positive multiples of '
                         f'32 (the padding of the data preprocessor), got '
                         f'{tuple(shape)}')
    names = output_names(len(model.panoptic_head.strides))
    dynamic_axes = {INPUT_NAME: {0: 'batch', 2: 'height', 3: 'width'}}
    for name in names:
        dynamic_axes[name] = {0: 'batch', 2: f'{name}_h', 3: f'{name}_w'}
    wrapper = TensorForward(model).eval()
    dummy = torch.zeros(1, 3, *shape)
    with torch.no_grad():
        torch.onnx.export(
            wrapper, (dummy, ),
            out_file,
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=names,
            dynamic_axes=dynamic_axes,
            opset_version=opset_version,
            do_constant_folding=True)
    onnx.checker.check_model(out_file)
    return names
