"""MapillaryVistasPanopticDataset on fake v1.2 / v2.0 trees in the
dataset's own layout: labels things first, the config pipelines, PQ 100 of
the ground truth against itself, a perturbed prediction scored as the
official (cityscapesscripts) panoptic evaluation scores it, and the errors
on wrong roots, files and versions."""
import contextlib
import io
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import (
    evaluatePanoptic,
)
from mmengine.config import Config

from mmpfcn.datasets.mapillary_panoptic import (
    MAPILLARY_V12_CATEGORIES,
    MapillaryVistasPanopticDataset,
)
from mmpfcn.evaluation import PanopticMaskAPMetric, PanopticQualityMetric
from mmpfcn.registry import DATASETS
from mmpfcn.testing.street_scenes import predicted_sample, write_mapillary_tree
from mmpfcn.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FILES = {'v1.2': 'panoptic_2018.json', 'v2.0': 'panoptic_2020.json'}


@pytest.fixture(scope='module')
def tree(tmp_path_factory):
    return write_mapillary_tree(str(tmp_path_factory.mktemp('mapillary')))


def build(tree, version='v1.2', split='validation', pipeline_key=None,
          **overrides):
    """The dataset of the base config, on the fake tree."""
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/datasets/mapillary_panoptic.py'))
    loader = cfg.train_dataloader if split == 'training' else \
        cfg.val_dataloader
    dataset = loader.dataset
    dataset.update(
        data_root=tree + '/', version=version,
        ann_file=f'{split}/{version}/panoptic/{FILES[version]}',
        data_prefix=dict(img=f'{split}/images/',
                         seg=f'{split}/{version}/panoptic/'),
        pipeline=cfg[pipeline_key] if pipeline_key else [])
    if split == 'training' and pipeline_key:
        dataset.pipeline[2].scale = [(256, 32), (256, 48)]
        dataset.pipeline[3].crop_size = (32, 32)
    dataset.update(overrides)
    return DATASETS.build(dataset)


def test_v12_classes_are_the_papers_things_first():
    meta = MapillaryVistasPanopticDataset.METAINFO
    assert (len(meta['thing_classes']), len(meta['stuff_classes'])) == (37,
                                                                        28)
    isthing = {name: t for _, name, _, t, _ in MAPILLARY_V12_CATEGORIES}
    assert meta['classes'] == meta['thing_classes'] + meta['stuff_classes']
    assert all(isthing[n] for n in meta['thing_classes'])
    assert not any(isthing[n] for n in meta['stuff_classes'])
    assert meta['classes'][:3] == ('Bird', 'Ground Animal',
                                   'Crosswalk - Plain')


@pytest.mark.parametrize('version', ['v1.2', 'v2.0'])
def test_reads_the_datasets_own_files(tree, version):
    dataset = build(tree, version, pipeline_key='test_pipeline')
    with open(osp.join(tree, 'validation', version, 'panoptic',
                       FILES[version])) as f:
        categories = json.load(f)['categories']
    things = [c['name'] for c in categories if c['isthing']]
    assert list(dataset.metainfo['thing_classes']) == things
    assert len(dataset.metainfo['classes']) == len(categories)
    info = dataset.get_data_info(0)
    assert isinstance(info['img_id'], str)  # the dataset's image keys
    assert info['img_path'].endswith(f'validation/images/{info["img_id"]}'
                                     '.jpg')
    assert info['seg_map_path'].endswith(
        f'validation/{version}/panoptic/{info["img_id"]}.png')
    # the person group is a crowd region of a thing class in v1.2
    crowd = [inst for i in range(len(dataset))
             for inst in dataset.get_data_info(i)['instances']
             if inst['ignore_flag']]
    assert bool(crowd) == (version == 'v1.2')
    sample = dataset[0]['data_samples']
    assert sample.gt_sem_seg.sem_seg.shape == (1, 48, 64)
    assert 'gt_panoptic_rle' in sample.metainfo


def test_training_pipeline_crops(tree):
    dataset = build(tree, split='training', pipeline_key='train_pipeline')
    for i in range(len(dataset)):
        out = dataset[i]
        assert tuple(out['inputs'].shape[1:]) == (32, 32)
        stuff = out['data_samples'].gt_sem_seg.sem_seg
        assert set(stuff.unique().tolist()) <= set(range(29)) | {255}


def _metric(dataset, metric_type=PanopticQualityMetric, **kwargs):
    metric = metric_type(ann_file=dataset.ann_file,
                         seg_prefix=dataset.data_prefix['seg'], **kwargs)
    metric.dataset_meta = dataset.metainfo
    return metric


def _run(metrics, samples):
    """The metrics of an evaluator listing ``metrics`` (one or a list)."""
    from mmengine.evaluator import Evaluator
    evaluator = Evaluator(metrics)
    evaluator.process(samples)
    with contextlib.redirect_stdout(io.StringIO()):
        return evaluator.evaluate(len(samples))


def test_ground_truth_against_itself(tree):
    dataset = build(tree, pipeline_key='test_pipeline')
    results = _run([_metric(dataset),
                    _metric(dataset, PanopticMaskAPMetric)], [
        predicted_sample(dataset, i, with_instances=True)
        for i in range(len(dataset))
    ])
    for key in ('PQ', 'PQ_th', 'PQ_st', 'AP'):
        assert results[f'coco_panoptic/{key}'] == pytest.approx(100.0)


def test_perturbed_prediction_matches_the_official_script(tree, tmp_path):
    dataset = build(tree, pipeline_key='test_pipeline')
    samples = [
        predicted_sample(dataset, i, np.random.default_rng(i),
                         cut_class='Road', false_class='Car')
        for i in range(len(dataset))
    ]
    ours = _run(_metric(dataset), samples)
    assert 20 < ours['coco_panoptic/PQ'] < 95
    prefix = str(tmp_path / 'mv')
    assert _run(_metric(dataset, format_only=True, outfile_prefix=prefix),
                samples) == {}
    with contextlib.redirect_stdout(io.StringIO()):
        official = evaluatePanoptic(dataset.ann_file,
                                    dataset.data_prefix['seg'],
                                    f'{prefix}.panoptic.json',
                                    f'{prefix}.panoptic',
                                    str(tmp_path / 'official.json'))
    for group, suffix in (('All', ''), ('Things', '_th'), ('Stuff', '_st')):
        for key in ('pq', 'sq', 'rq'):
            assert ours[f'coco_panoptic/{key.upper()}{suffix}'] / 100 == \
                pytest.approx(official[group][key], abs=1e-9), (group, key)


# ------------------------------------------------------------- bad input

def test_unknown_version(tree):
    with pytest.raises(ValueError, match=r"version must be one of \['v1.2', "
                       r"'v2.0'\], got 'v3'"):
        MapillaryVistasPanopticDataset(data_root=tree, ann_file='x.json',
                                       version='v3')


def test_annotation_file_of_the_other_version(tree):
    with pytest.raises(ValueError, match='panoptic_2020.json is the v2.0 '
                       "annotation file but the dataset has version='v1.2'"):
        build(tree, 'v1.2',
              ann_file='validation/v2.0/panoptic/panoptic_2020.json')


def test_label_files_of_another_version(tree, tmp_path):
    """v1.2 annotations where the v2.0 ones belong: their categories are
    not labels of config_v2.0.json."""
    root = str(tmp_path / 'mixed')
    shutil.copytree(tree, root)
    panoptic = osp.join(root, 'validation', 'v2.0', 'panoptic')
    shutil.copy(osp.join(root, 'validation', 'v1.2', 'panoptic',
                         'panoptic_2018.json'),
                osp.join(panoptic, 'panoptic_2020.json'))
    with pytest.raises(ValueError, match=r"labels \['human--person', "
                       r".*\] are not in config_v2.0.json: the annotations "
                       'are not Mapillary Vistas v2.0'):
        build(root, 'v2.0')


def test_wrong_data_root(tree, tmp_path):
    with pytest.raises(FileNotFoundError,
                       match='panoptic_2018.json does not exist; Mapillary '
                       r'Vistas v1.2 panoptic annotations are '
                       r'\{training,validation\}/v1.2/panoptic/'):
        build(str(tmp_path))
    # the annotations without the dataset's label config next to them
    root = str(tmp_path / 'no_config')
    shutil.copytree(tree, root)
    os.remove(osp.join(root, 'config_v1.2.json'))
    with pytest.raises(FileNotFoundError, match='config_v1.2.json does not '
                       'exist: the label config of Mapillary Vistas v1.2 is '
                       'expected at data_root'):
        build(root)
