"""A hook for the training-tool tests, imported by the runs under test via
``custom_imports=dict(imports=['mmpfcn.testing.train_probe'])``: it
records what every rank trained on and its losses, and can poison a loss
term to test the NaN guard."""
import json
import os
import os.path as osp
from typing import Optional

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmpfcn.registry import HOOKS


@HOOKS.register_module()
class TrainProbeHook(Hook):
    """Append one JSON line per training iteration to
    ``WORK_DIR/probe_rank{rank}.jsonl``: the iteration (1-based), the
    process id, the images and their flips and shapes, a checksum of the
    batch, the losses and the learning rate.

    Args:
        nan_at_iter (int, optional): From this iteration (1-based) on,
            ``loss_seg_st`` is multiplied by NaN. Defaults to None.
    """

    priority = 'VERY_LOW'

    def __init__(self, nan_at_iter: Optional[int] = None) -> None:
        self.nan_at_iter = nan_at_iter

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self.nan_at_iter is None or runner.iter + 1 != self.nan_at_iter:
            return
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        head = model.panoptic_head
        original = head.loss_by_feat

        def poisoned(*args, **kwargs):
            losses = original(*args, **kwargs)
            losses['loss_seg_st'] = losses['loss_seg_st'] * float('nan')
            return losses

        head.loss_by_feat = poisoned

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        samples = data_batch['data_samples']
        record = dict(
            iter=runner.iter + 1,
            pid=os.getpid(),
            img_paths=[s.img_path for s in samples],
            flips=[bool(s.metainfo.get('flip', False)) for s in samples],
            img_shapes=[list(s.img_shape) for s in samples],
            checksum=float(
                sum(x.double().sum() for x in data_batch['inputs'])),
            losses={k: float(v.detach()) for k, v in outputs.items()},
            lr=runner.optim_wrapper.get_lr()['lr'][0])
        path = osp.join(runner.work_dir, f'probe_rank{get_rank()}.jsonl')
        with open(path, 'a') as f:
            f.write(json.dumps(record) + '\n')
