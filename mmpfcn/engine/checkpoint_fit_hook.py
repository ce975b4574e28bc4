"""``tools/test.py CONFIG CKPT``: refuse a checkpoint of another config
(R50 weights into an R18 config, another number of classes) instead of
evaluating a partly loaded model, as :func:`~mmpfcn.apis.init_model`
does."""
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper

from mmpfcn.registry import HOOKS
from mmpfcn.utils.checkpoint_fit import check_checkpoint_fits, model_state_of


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Check the checkpoint the runner loads against its model, before the
    weights are copied (mmengine's ``load_from`` loads non-strictly and
    only warns).

    Args:
        checkpoint (str): The checkpoint's name in the error. Defaults to
            the runner's ``load_from``.

    Raises:
        CheckpointMismatchError: In ``after_load_checkpoint``, listing the
            missing and unexpected keys and the keys whose shapes differ.
    """

    # after the hooks that revise the checkpoint (e.g. EMA's)
    priority = 'LOWEST'

    def __init__(self, checkpoint: str = '') -> None:
        self.checkpoint = checkpoint

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model
        while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
            model = model.module
        check_checkpoint_fits(
            model, self.checkpoint or str(runner._load_from),
            model_state_of(checkpoint))
