"""Opt-in CPU inference speed-ups that change results only by float
rounding: frozen BN folded into the preceding convolutions, and
channels-last (NHWC) weights so oneDNN takes its NHWC kernels.

Outputs move by float rounding (on the recorded COCO-sample outputs:
scores and soft masks by up to 2.4e-5, a few mask pixels at the
threshold); ``tools/analysis_tools/benchmark.py --with-optimized`` times it
beside the exact path (measurements in docs/benchmarks.md).
"""
import torch
from mmcv.cnn import fuse_conv_bn
from torch import nn


def optimize_for_inference(model: nn.Module,
                           fuse_bn: bool = True,
                           channels_last: bool = True) -> nn.Module:
    """Fold BN into convs and/or switch to channels-last, in place.

    Args:
        model (nn.Module): A model in eval mode (BN then uses its running
            statistics, which is what the folding bakes in).
        fuse_bn (bool): Fold every BN that directly follows a conv among
            a module's children (mmcv's ``fuse_conv_bn``; the ResNet
            backbone's BNs). Defaults to True.
        channels_last (bool): Convert 4-D weights to channels-last.
            Defaults to True.

    Returns:
        nn.Module: ``model``.

    Raises:
        ValueError: If the model is in training mode.
    """
    if model.training:
        raise ValueError('optimize_for_inference: call model.eval() first '
                         '(folding bakes in the BN running statistics)')
    if fuse_bn:
        fuse_conv_bn(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model
