"""``tools/test.py --fuse-conv-bn / --channels-last``: the opt-in CPU
speed-ups of :func:`mmpfcn.apis.optimize_for_inference` applied by the
test runner after it has loaded the checkpoint."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmpfcn.apis.optimize import optimize_for_inference
from mmpfcn.registry import HOOKS


@HOOKS.register_module()
class OptimizeForInferenceHook(Hook):
    """Fold the frozen BNs into the convolutions and/or switch to
    channels-last weights before testing.

    Only for ``runner.test()``: folding bakes the BN statistics into the
    weights, which training must not do; a validation loop is refused.

    Args:
        fuse_conv_bn (bool): Fold BN into the preceding convs.
            Defaults to True.
        channels_last (bool): Channels-last weights. Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, fuse_conv_bn: bool = True,
                 channels_last: bool = True) -> None:
        self.fuse_conv_bn = fuse_conv_bn
        self.channels_last = channels_last

    def before_val(self, runner) -> None:
        raise RuntimeError(
            'OptimizeForInferenceHook changes the weights: use it with '
            'runner.test() (tools/test.py), not in a training run')

    def before_test(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        model.eval()
        optimize_for_inference(model, self.fuse_conv_bn, self.channels_last)
        runner.logger.info(
            'optimized for inference: '
            f'fuse_conv_bn={self.fuse_conv_bn}, '
            f'channels_last={self.channels_last}')
