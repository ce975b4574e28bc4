"""A tiny mmengine training (a 2 -> 1 linear model, 8 samples, one
checkpoint per iteration) for the checkpoint-saving tests, in process or as
a script; ``python -m mmpfcn.testing.toy_training WORK_DIR ITERS BLOCK_AT
HOOK`` blocks in the middle of writing the checkpoint of iteration BLOCK_AT
(half of it written, then ``WORK_DIR/writing`` created and a long sleep) so
that a test can kill it there."""
import os
import os.path as osp
import sys
import time
import uuid
from typing import Optional

import torch
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from mmpfcn.engine import AtomicCheckpointHook

HOOKS = dict(atomic=AtomicCheckpointHook, mmengine=CheckpointHook)


class ToyModel(BaseModel):
    """``loss = sum(linear(x))`` over a (B, 2) batch."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        return dict(loss=out.sum()) if mode == 'loss' else out


class ToyData(Dataset):
    """8 samples ``(2,)`` of ones."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=torch.ones(2))


def toy_runner(work_dir: str, iters: int, hook: str = 'atomic',
               max_keep_ckpts: int = 1,
               resume_from: Optional[str] = None,
               interval: int = 1,
               resume: Optional[bool] = None,
               **runner_args) -> Runner:
    """A runner of ``iters`` iterations saving every ``interval`` with
    ``hook`` (``atomic``: mmpfcn's, ``mmengine``: mmengine's
    CheckpointHook), resuming from ``resume_from`` if given (``resume``:
    mmengine's flag, by default whether ``resume_from`` is given);
    ``runner_args`` go to :class:`Runner` as they are."""
    return Runner(
        model=ToyModel(),
        work_dir=work_dir,
        experiment_name=f'toy_{uuid.uuid4().hex}',
        train_dataloader=dict(
            dataset=ToyData(), batch_size=2, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=iters),
        default_hooks=dict(checkpoint=HOOKS[hook](
            interval=interval, by_epoch=False,
            max_keep_ckpts=max_keep_ckpts)),
        load_from=resume_from,
        resume=resume_from is not None if resume is None else resume,
        log_level='WARNING',
        **runner_args)


def block_while_writing(work_dir: str, block_at: int) -> None:
    """Make the local file backend stop forever half-way through writing
    the checkpoint of iteration ``block_at``."""
    put = LocalBackend.put

    def half_then_block(self, obj: bytes, filepath) -> None:
        if osp.basename(str(filepath)).startswith(f'iter_{block_at}.pth'):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
            open(osp.join(work_dir, 'writing'), 'w').close()
            time.sleep(600)
        put(self, obj, filepath)

    LocalBackend.put = half_then_block


if __name__ == '__main__':
    work, iters, block, hook_name = sys.argv[1:5]
    block_while_writing(work, int(block))
    toy_runner(work, int(iters), hook_name).train()
