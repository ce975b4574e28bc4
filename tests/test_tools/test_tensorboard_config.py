"""The TensorBoard config: two training iterations on the synthetic
dataset write the losses both to scalars.json and to a TensorBoard event
file (tensorboard is in requirements/tests.txt; optional.txt for
users)."""
import glob
import json
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)

from mmpfcn.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/panoptic_fcn/logging/'
                  'panoptic-fcn_r18_fpn_synthetic-panoptic_tensorboard.py')


def test_losses_reach_tensorboard_and_scalars_json(synthetic_dataset_dir,
                                                   tmp_path):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(CONFIG)
    assert [b['type'] for b in cfg.visualizer.vis_backends] == [
        'LocalVisBackend', 'TensorboardVisBackend']
    cfg.work_dir = str(tmp_path)
    # a fresh visualizer: mmengine hands out the instance of a name taken
    # by an earlier test of the session, with that one's backends
    cfg.visualizer.name = 'tensorboard_config_test'
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2,
                         val_interval=1000)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.param_scheduler = []
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.train_dataloader.update(batch_size=2, num_workers=0,
                                persistent_workers=False)
    cfg.train_dataloader.dataset.data_root = synthetic_dataset_dir + '/'
    cfg.model.backbone.init_cfg = None
    Runner.from_cfg(cfg).train()

    events = glob.glob(str(tmp_path / '*' / 'vis_data' / 'events.out.*'))
    assert len(events) == 1, events
    board = EventAccumulator(events[0])
    board.Reload()
    tags = board.Tags()['scalars']
    assert 'loss' in tags and 'lr' in tags
    steps = [e.step for e in board.Scalars('loss')]
    assert steps == [1, 2]
    scalars = [json.loads(line) for line in open(glob.glob(
        str(tmp_path / '*' / 'vis_data' / 'scalars.json'))[0])]
    assert [round(s['loss'], 4) for s in scalars] == [
        round(e.value, 4) for e in board.Scalars('loss')]
