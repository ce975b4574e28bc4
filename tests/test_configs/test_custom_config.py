"""The template for your own dataset (docs/datasets.md): a COCO-panoptic
dataset with other classes than COCO's builds from the config's metainfo
and trains and validates one step with the class counts it sets."""
import json
import os.path as osp
import shutil

from mmengine.config import Config
from mmengine.runner import Runner

from mmpfcn.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/panoptic_fcn/custom/'
                  'panoptic-fcn_r50_fpn_1x_custom-panoptic.py')
# synthetic category -> class of the template (two shapes become one class)
RENAME = dict(disc='person', square='bicycle', triangle='car', ring='car',
              sky='road', grass='sidewalk', bricks='building',
              water='vegetation')


def write_custom_dataset(synthetic_root: str, root: str, things, stuff):
    """The synthetic dataset in the template's layout, its categories
    renamed to the template's classes (things first, ids 1..N)."""
    names = list(things) + list(stuff)
    categories = [
        dict(id=i + 1, name=name, isthing=int(name in things),
             supercategory='custom') for i, name in enumerate(names)
    ]
    new_id = {name: i + 1 for i, name in enumerate(names)}
    for split in ('train', 'val'):
        shutil.copytree(osp.join(synthetic_root, split),
                        osp.join(root, split))
        shutil.copytree(
            osp.join(synthetic_root, 'annotations', f'panoptic_{split}'),
            osp.join(root, 'annotations', f'panoptic_{split}'))
        with open(osp.join(synthetic_root, 'annotations',
                           f'panoptic_{split}.json')) as f:
            data = json.load(f)
        old_name = {cat['id']: cat['name'] for cat in data['categories']}
        for ann in data['annotations']:
            for seg in ann['segments_info']:
                seg['category_id'] = new_id[RENAME[old_name[
                    seg['category_id']]]]
        data['categories'] = categories
        with open(osp.join(root, 'annotations', f'panoptic_{split}.json'),
                  'w') as f:
            json.dump(data, f)


def small_scales(pipeline):
    for step in pipeline:
        if step['type'] == 'RandomChoiceResize':
            step['scales'] = [(128, 96)]
        elif step['type'] == 'PanopticResize':
            step['scale'] = (128, 96)


def test_custom_dataset_config_trains_and_validates(synthetic_dataset_dir,
                                                    tmp_path):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(CONFIG)
    meta = cfg.train_dataloader.dataset.metainfo
    things, stuff = meta['thing_classes'], meta['stuff_classes']
    assert len(things) == cfg.model.panoptic_head.num_things_classes == 3
    assert len(stuff) == cfg.model.panoptic_head.num_stuff_classes == 4
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline):
        (stuff_map, ) = [s for s in pipeline
                         if s['type'] == 'GenerateStuffMap']
        assert (stuff_map['num_things_classes'],
                stuff_map['num_stuff_classes']) == (3, 4)

    data_root = str(tmp_path / 'my_dataset') + '/'
    write_custom_dataset(synthetic_dataset_dir, data_root, things, stuff)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.model.backbone.init_cfg = None  # no download
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1,
                         val_interval=1)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint.interval = 1000
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.update(num_workers=0, persistent_workers=False)
        loader.dataset.data_root = data_root
        small_scales(loader.dataset.pipeline)
    cfg.train_dataloader.batch_size = 2
    for metric in cfg.val_evaluator:
        metric.update(ann_file=data_root + cfg.val_ann_file,
                      seg_prefix=data_root + cfg.val_prefix['seg'])
    runner = Runner.from_cfg(cfg)
    runner.train()

    dataset = runner.train_dataloader.dataset
    assert dataset.metainfo['classes'] == tuple(things) + tuple(stuff)
    logs = runner.message_hub.log_scalars
    assert 'train/loss_seg_st' in logs
    metrics = {k: v for k, v in logs.items() if k.startswith('val/')}
    assert 'val/coco_panoptic/PQ' in metrics, sorted(logs)
