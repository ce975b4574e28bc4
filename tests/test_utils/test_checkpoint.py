"""mmengine 0.10.7 checkpoints load on torch >= 2.6 (weights-only default):
``load_from`` and ``resume`` through a real Runner."""
import numpy as np
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from torch.utils.data import Dataset

import mmpfcn  # noqa: F401  (registers the trusted loaders)
from mmpfcn.utils import load_checkpoint_file


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        # default_collate stacks: inputs (B, 2), labels (B, 1)
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out - labels)**2).mean())
        return out


class ToyDataset(Dataset):
    metainfo = dict()

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        x = torch.tensor([float(idx), 1.0])
        return dict(inputs=x, labels=x.sum(0, keepdim=True))


def _runner(work_dir, max_iters, **kwargs):
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            num_workers=0,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(
                type='CheckpointHook', interval=2, by_epoch=False)),
        default_scope='mmengine',
        **kwargs)


def test_checkpoint_holds_non_tensor_objects_and_loads(tmp_path):
    runner = _runner(tmp_path / 'a', max_iters=2)
    runner.train()
    ckpt_file = tmp_path / 'a' / 'iter_2.pth'
    # the message hub and numpy RNG state are why weights_only=True fails
    with np.testing.assert_raises(Exception):
        torch.load(ckpt_file, weights_only=True)
    ckpt = load_checkpoint_file(str(ckpt_file))
    assert ckpt['meta']['iter'] == 2
    model = ToyModel()
    load_checkpoint(model, str(ckpt_file))
    torch.testing.assert_close(model.linear.weight,
                               runner.model.linear.weight)


def test_resume_continues_from_the_saved_iteration(tmp_path):
    _runner(tmp_path / 'b', max_iters=2).train()
    runner = _runner(tmp_path / 'b', max_iters=4, resume=True)
    runner.train()
    assert runner.iter == 4
    assert (tmp_path / 'b' / 'iter_4.pth').is_file()
