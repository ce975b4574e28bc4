"""The dataset configs' evaluators: the three panoptic metrics on the split
the val dataloader reads, and the COCO test-dev config's format-only
run."""
import contextlib
import io
import json
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope

from mmpfcn.evaluation.functional import evaluate_panoptic
from mmpfcn.registry import DATASETS
from mmpfcn.testing.metric_cases import Split

PROJECT_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(PROJECT_ROOT, 'configs', '_base_', 'datasets')


def load_config(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIG_DIR, name))


METRIC_TYPES = ['PanopticQualityMetric', 'PanopticMaskAPMetric',
                'SemanticIoUMetric']


def relocate(cfg: Config, root: str) -> None:
    """Point the config's val split (dataloader and evaluator) at ``root``
    instead of its ``data_root``."""
    dataset = cfg.val_dataloader.dataset
    old_root = dataset.data_root
    dataset.data_root = root
    for metric in cfg.val_evaluator:
        for key in ('ann_file', 'seg_prefix'):
            assert metric[key].startswith(old_root)
            metric[key] = osp.join(root, metric[key][len(old_root):])


def with_gt(evaluator: list, **gt) -> list:
    """The evaluator's metrics with other ground-truth settings."""
    return [dict(metric, **gt) for metric in evaluator]


def run_evaluator(cfg_evaluator: dict, dataset_meta: dict,
                  samples: list) -> dict:
    """Build the evaluator the way the runner does and score ``samples``."""
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        evaluator = Evaluator(cfg_evaluator)
    evaluator.dataset_meta = dataset_meta
    evaluator.process(samples)
    with contextlib.redirect_stdout(io.StringIO()):
        return evaluator.evaluate(len(samples))


def build_dataset(dataset_cfg: dict):
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        return DATASETS.build(dataset_cfg)


@pytest.mark.parametrize('name', [
    'coco_panoptic.py', 'synthetic_panoptic.py', 'cityscapes_panoptic.py',
    'mapillary_panoptic.py'
])
def test_evaluators_score_the_val_split(name):
    cfg = load_config(name)
    dataset = cfg.val_dataloader.dataset
    assert cfg.test_evaluator == cfg.val_evaluator
    assert [metric.type for metric in cfg.val_evaluator] == METRIC_TYPES
    for metric in cfg.val_evaluator:
        assert metric.ann_file == dataset.data_root + dataset.ann_file
        assert metric.seg_prefix == (dataset.data_root +
                                     dataset.data_prefix.seg)


def test_coco_config_builds_the_metric(coco_sample_dir):
    """The COCO config on the real sample (two val2017 images): its
    dataset's classes, its metric, GT fed back -> 100 everywhere."""
    cfg = load_config('coco_panoptic.py')
    relocate(cfg, coco_sample_dir)
    # The sample's file names, not val2017's.
    cfg.val_dataloader.dataset.ann_file = 'panoptic_examples.json'
    cfg.val_dataloader.dataset.data_prefix = dict(img='images/',
                                                  seg='panoptic/')
    ann_file = osp.join(coco_sample_dir, 'panoptic_examples.json')
    seg_prefix = osp.join(coco_sample_dir, 'panoptic')
    dataset = build_dataset(cfg.val_dataloader.dataset)
    with open(osp.join(coco_sample_dir, 'panoptic_coco_categories.json')) as f:
        split = Split(ann_file, seg_prefix, json.load(f))
    assert list(dataset.metainfo['classes']) == split.meta['classes']
    metrics = run_evaluator(
        with_gt(cfg.val_evaluator, ann_file=ann_file, seg_prefix=seg_prefix),
        dataset.metainfo, split.perfect_samples())
    for key in ('PQ', 'PQ_th', 'PQ_st', 'AP', 'mIoU'):
        assert metrics[f'coco_panoptic/{key}'] == pytest.approx(100), key


@pytest.mark.parametrize('threads', [0, 1])
def test_val_pipeline_hands_the_gt_to_the_metric(coco_sample_dir, threads):
    """The COCO config's val pipeline puts the GT PNG's RLEs into each data
    sample; its metric scores them without reading any PNG."""
    cfg = load_config('coco_panoptic.py')
    relocate(cfg, coco_sample_dir)
    cfg.val_dataloader.dataset.ann_file = 'panoptic_examples.json'
    cfg.val_dataloader.dataset.data_prefix = dict(img='images/',
                                                  seg='panoptic/')
    ann_file = osp.join(coco_sample_dir, 'panoptic_examples.json')
    dataset = build_dataset(cfg.val_dataloader.dataset)
    with open(osp.join(coco_sample_dir, 'panoptic_coco_categories.json')) as f:
        split = Split(ann_file, osp.join(coco_sample_dir, 'panoptic'),
                      json.load(f))
    perfect = {s['img_id']: s for s in split.perfect_samples()}
    samples = []
    for i in range(len(dataset)):
        data_sample = dataset[i]['data_samples']
        assert 'gt_panoptic_rle' in data_sample.metainfo
        samples.append(dict(perfect[data_sample.img_id],
                            **data_sample.metainfo))
    evaluator = with_gt(cfg.val_evaluator, ann_file=ann_file,
                        seg_prefix='/nonexistent', threads=threads)
    metrics = run_evaluator(evaluator, dataset.metainfo, samples)
    for key in ('PQ', 'PQ_th', 'PQ_st', 'AP', 'mIoU'):
        assert metrics[f'coco_panoptic/{key}'] == pytest.approx(100), key


def test_synthetic_config_builds_the_metric(synthetic_dataset_dir):
    cfg = load_config('synthetic_panoptic.py')
    relocate(cfg, synthetic_dataset_dir)
    dataset = build_dataset(cfg.val_dataloader.dataset)
    gt = cfg.val_evaluator[0]
    with open(gt.ann_file) as f:
        categories = json.load(f)['categories']
    split = Split(gt.ann_file, gt.seg_prefix, categories)
    assert list(dataset.metainfo['classes']) == split.meta['classes']
    samples = split.perfect_samples()
    metrics = run_evaluator(cfg.val_evaluator, dataset.metainfo, samples)
    assert len(samples) == len(dataset) == 4
    for key in ('PQ', 'SQ', 'RQ', 'AP', 'mIoU'):
        assert metrics[f'coco_panoptic/{key}'] == pytest.approx(100), key


def test_test_dev_config_writes_a_submission(synthetic_dataset_dir,
                                             tmp_path):
    """The test-dev config on an image info file (images and categories,
    no annotations): its dataset loads the images without ground truth and
    its metric writes the COCO panoptic JSON + PNGs that score 100 against
    the (here known) ground truth."""
    cfg = load_config('coco_panoptic_test_dev.py')
    assert cfg.test_evaluator == dict(
        type='PanopticQualityMetric', format_only=True,
        ann_file='data/coco/annotations/'
        'panoptic_image_info_test-dev2017.json',
        outfile_prefix='./work_dirs/coco_panoptic/test')
    dataset_cfg = cfg.test_dataloader.dataset
    assert dataset_cfg.ann_file == \
        'annotations/panoptic_image_info_test-dev2017.json'
    assert dataset_cfg.data_prefix == dict(img='test2017/')
    # Validation is untouched.
    assert [metric.type for metric in cfg.val_evaluator] == METRIC_TYPES
    assert not any(m.get('format_only', False) for m in cfg.val_evaluator)
    assert cfg.val_dataloader.dataset.ann_file == \
        'annotations/panoptic_val2017.json'

    gt_file = osp.join(synthetic_dataset_dir, 'annotations',
                       'panoptic_val.json')
    with open(gt_file) as f:
        gt = json.load(f)
    info_file = tmp_path / 'image_info.json'
    info_file.write_text(json.dumps(dict(images=gt['images'],
                                         categories=gt['categories'])))
    synthetic = load_config('synthetic_panoptic.py')
    dataset_cfg.update(data_root=synthetic_dataset_dir,
                       ann_file=str(info_file), data_prefix=dict(img='val/'),
                       metainfo=synthetic.metainfo)
    dataset = build_dataset(dataset_cfg)
    assert len(dataset) == len(gt['images'])
    item = dataset[0]
    assert item['data_samples'].img_id == gt['images'][0]['id']
    assert 'gt_sem_seg' not in item['data_samples']

    prefix = str(tmp_path / 'test')
    evaluator_cfg = dict(cfg.test_evaluator, ann_file=str(info_file),
                         outfile_prefix=prefix)
    split = Split(gt_file, osp.join(synthetic_dataset_dir, 'annotations',
                                    'panoptic_val'), gt['categories'])
    assert run_evaluator(evaluator_cfg, dataset.metainfo,
                         split.perfect_samples()) == {}
    with open(f'{prefix}.panoptic.json') as f:
        submission = json.load(f)['annotations']
    assert sorted(a['image_id'] for a in submission) == sorted(
        img['id'] for img in gt['images'])
    results = evaluate_panoptic(gt['annotations'], submission,
                                gt['categories'], split.seg_prefix,
                                f'{prefix}.panoptic', check_pixels=True)
    assert results['All']['pq'] == pytest.approx(1.0)
