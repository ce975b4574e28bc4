"""optimize_for_inference: BN folded into the convs, channels-last
weights, the same network outputs up to float rounding."""
import copy
import os.path as osp

import pytest
import torch
from torch import nn

from mmpfcn.apis import init_model, optimize_for_inference
from mmpfcn.apis.onnx_export import TensorForward

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(ROOT, 'configs/panoptic_fcn/'
                       'panoptic-fcn_r18_fpn_synthetic-panoptic.py')


def test_folded_channels_last_network_matches():
    torch.manual_seed(0)
    model = init_model(DEMO_CONFIG)
    # non-trivial running statistics, as a trained frozen BN has
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    fast = optimize_for_inference(copy.deepcopy(model))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    conv = fast.backbone.conv1
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    inputs = torch.randn(1, 3, 96, 128) * 50
    with torch.no_grad():
        expected = TensorForward(model)(inputs)
        found = TensorForward(fast)(inputs)
    for out, ref in zip(found, expected):
        scale = ref.abs().max().item()
        assert (out - ref).abs().max().item() <= 1e-4 * max(scale, 1)


def test_refuses_training_mode():
    model = init_model(DEMO_CONFIG).train()
    with pytest.raises(ValueError, match='eval'):
        optimize_for_inference(model)


def test_hook_refuses_validation_and_folds_before_test():
    from mmpfcn.engine import OptimizeForInferenceHook

    class Runner:
        model = init_model(DEMO_CONFIG).train()

        class logger:
            messages = []

            @classmethod
            def info(cls, message):
                cls.messages.append(message)

    hook = OptimizeForInferenceHook(fuse_conv_bn=True, channels_last=False)
    with pytest.raises(RuntimeError, match='runner.test'):
        hook.before_val(Runner)
    hook.before_test(Runner)
    assert not Runner.model.training
    assert not any(
        isinstance(m, nn.BatchNorm2d) for m in Runner.model.modules())
    assert Runner.logger.messages == [
        'optimized for inference: fuse_conv_bn=True, channels_last=False']
