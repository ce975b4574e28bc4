"""Cityscapes: converter (against cityscapesscripts' createPanopticImgs),
CityscapesPanopticDataset and the config pipelines on a fake gtFine tree,
and the converter's errors on broken trees."""
import contextlib
import io
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from cityscapesscripts.helpers.labels import labels as cs_labels
from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmpfcn.datasets.cityscapes_panoptic import CityscapesPanopticDataset
from mmpfcn.evaluation.functional import read_panoptic_png
from mmpfcn.testing.street_scenes import (
    CS_CARAVAN,
    CS_GUARD_RAIL,
    write_cityscapes_tree,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def converter(load_tool):
    return load_tool('dataset_converters/cityscapes_panoptic.py')


@pytest.fixture(scope='module')
def tree(tmp_path_factory, converter):
    """The fake tree, converted by ours (nproc 2) and by the official
    createPanopticImgs (into official/)."""
    root = str(tmp_path_factory.mktemp('cityscapes'))
    write_cityscapes_tree(root)
    assert converter.main([root, '--nproc', '2']) == 0
    os.makedirs(osp.join(root, 'official'))
    with contextlib.redirect_stdout(io.StringIO()):
        convert2panoptic(osp.join(root, 'gtFine'),
                         osp.join(root, 'official'),
                         setNames=['train', 'val'])
    return root


@pytest.mark.parametrize('split', ['train', 'val'])
def test_converter_matches_create_panoptic_imgs(tree, split):
    with open(osp.join(tree, f'annotations/cityscapes_panoptic_{split}.json')
              ) as f:
        ours = json.load(f)
    with open(osp.join(tree, f'official/cityscapes_panoptic_{split}.json')
              ) as f:
        official = json.load(f)
    # things first, then stuff; the official label ids and names
    cats = ours['categories']
    assert [c['isthing'] for c in cats] == [1] * 8 + [0] * 11
    assert sorted(cats, key=lambda c: c['id']) == sorted(
        official['categories'], key=lambda c: c['id'])
    # integer ids; image names under leftImg8bit/{split}/
    assert [img['id'] for img in ours['images']] == list(
        range(len(official['images'])))
    official_anns = {a['image_id']: a for a in official['annotations']}
    for img, ann in zip(ours['images'], ours['annotations']):
        assert ann['image_id'] == img['id']
        assert osp.isfile(osp.join(tree, 'leftImg8bit', split,
                                   img['file_name']))
        cs_id = osp.basename(img['file_name'])[:-len('_leftImg8bit.png')]
        ref = official_anns[cs_id]
        assert ann['file_name'] == ref['file_name']
        assert ann['segments_info'] == ref['segments_info']
        np.testing.assert_array_equal(
            read_panoptic_png(osp.join(
                tree, f'annotations/cityscapes_panoptic_{split}',
                ann['file_name'])),
            read_panoptic_png(osp.join(
                tree, f'official/cityscapes_panoptic_{split}',
                ref['file_name'])))
    segments = [s for a in ours['annotations'] for s in a['segments_info']]
    # crowd regions of thing classes; classes Cityscapes ignores are void
    assert any(s['iscrowd'] for s in segments)
    assert not {CS_CARAVAN, CS_GUARD_RAIL} & {
        s['category_id'] for s in segments}
    # no temporary files left behind
    assert not [n for n in os.listdir(osp.join(tree, 'annotations'))
                if n.startswith('.')]


def test_metainfo_is_the_official_label_table():
    meta = CityscapesPanopticDataset.METAINFO
    evaluated = {lb.name: lb for lb in cs_labels if not lb.ignoreInEval}
    assert set(meta['classes']) == set(evaluated)
    assert meta['classes'] == meta['thing_classes'] + meta['stuff_classes']
    assert all(evaluated[n].hasInstances for n in meta['thing_classes'])
    assert not any(evaluated[n].hasInstances for n in meta['stuff_classes'])
    assert meta['palette'] == [evaluated[n].color for n in meta['classes']]


def _dataset(tree, split, pipeline_key):
    init_default_scope('mmpfcn')
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/datasets/cityscapes_panoptic.py'))
    loader = cfg.train_dataloader if split == 'train' else cfg.val_dataloader
    dataset_cfg = loader.dataset
    dataset_cfg.data_root = tree + '/'
    dataset_cfg.pipeline = cfg[pipeline_key]
    if split == 'train':  # crops of the fake 64x128 images
        dataset_cfg.pipeline[2].scale = (128, 64)
        dataset_cfg.pipeline[3].crop_size = (32, 64)
    dataset_cfg.pop('type')
    return CityscapesPanopticDataset(**dataset_cfg)


def test_dataset_and_pipelines(tree):
    val = _dataset(tree, 'val', 'test_pipeline')
    assert len(val) == 2
    assert val.metainfo['thing_classes'][0] == 'person'
    info = val.get_data_info(0)
    assert info['img_path'].endswith(
        'leftImg8bit/val/frankfurt/frankfurt_000000_000019_leftImg8bit.png')
    assert info['seg_map_path'].endswith(
        'annotations/cityscapes_panoptic_val/'
        'frankfurt_000000_000019_gtFine_panoptic.png')
    assert any(inst['ignore_flag'] for i in range(len(val))
               for inst in val.get_data_info(i)['instances'])
    sample = val[0]['data_samples']
    assert sample.gt_sem_seg.sem_seg.shape == (1, 64, 128)
    assert sample.gt_sem_seg.sem_seg.max() <= 255
    assert 'gt_panoptic_rle' in sample.metainfo

    train = _dataset(tree, 'train', 'train_pipeline')
    assert len(train) == 4
    for i in range(len(train)):
        out = train[i]
        assert tuple(out['inputs'].shape[1:]) == (32, 64)
        data = out['data_samples']
        stuff = data.gt_sem_seg.sem_seg
        assert stuff.shape == (1, 32, 64)
        # labels: 0 = things, 1..11 = stuff, 255 = void
        assert set(stuff.unique().tolist()) <= set(range(12)) | {255}
        masks = data.gt_instances.masks
        assert masks.masks.shape[1:] == (32, 64)
        assert (data.gt_instances.labels < 8).all()


# ------------------------------------------------------------- bad input

@pytest.fixture
def fresh_tree(tmp_path):
    return write_cityscapes_tree(str(tmp_path / 'cs'), images_per_city=1,
                                 height=16, width=32)


def _fails(converter, root, message, capsys):
    assert converter.main([root]) == 1
    err = capsys.readouterr().err
    assert message in err, err
    assert not osp.exists(osp.join(root, 'annotations',
                                   'cityscapes_panoptic_val.json'))


def test_wrong_data_root(converter, tmp_path, capsys):
    _fails(converter, str(tmp_path), f'{tmp_path}/gtFine does not exist',
           capsys)


def test_missing_split(converter, fresh_tree, capsys):
    shutil.rmtree(osp.join(fresh_tree, 'leftImg8bit', 'val'))
    _fails(converter, fresh_tree,
           "leftImg8bit/val does not exist: expected split 'val'", capsys)


def test_missing_city(converter, fresh_tree, capsys):
    shutil.rmtree(osp.join(fresh_tree, 'leftImg8bit', 'train', 'bochum'))
    _fails(converter, fresh_tree,
           'city folder ' + osp.join(fresh_tree, 'leftImg8bit', 'train',
                                     'bochum') + ' does not exist', capsys)


def test_instance_ids_without_label_ids(converter, fresh_tree, capsys):
    gt = osp.join(fresh_tree, 'gtFine', 'val', 'frankfurt')
    os.remove(osp.join(gt, 'frankfurt_000000_000019_gtFine_labelIds.png'))
    _fails(converter, fresh_tree,
           'frankfurt_000000_000019_gtFine_instanceIds.png has no labelIds '
           'partner: expected ' +
           osp.join(gt, 'frankfurt_000000_000019_gtFine_labelIds.png'),
           capsys)


def test_interrupted_conversion_leaves_old_output(converter, fresh_tree,
                                                  capsys):
    assert converter.main([fresh_tree, '--splits', 'val']) == 0
    out = osp.join(fresh_tree, 'annotations')
    before = sorted(os.listdir(osp.join(out, 'cityscapes_panoptic_val')))
    with open(osp.join(out, 'cityscapes_panoptic_val.json')) as f:
        old_json = f.read()
    # an RGB file where the 16-bit instance ids should be
    bad = osp.join(fresh_tree, 'gtFine', 'val', 'frankfurt',
                   'frankfurt_000000_000019_gtFine_instanceIds.png')
    from PIL import Image
    Image.new('RGB', (32, 16)).save(bad)
    assert converter.main([fresh_tree, '--splits', 'val']) == 1
    assert "has PIL mode 'RGB'" in capsys.readouterr().err
    # the previous output is untouched, no temporary file remains
    assert sorted(os.listdir(out)) == ['cityscapes_panoptic_val',
                                       'cityscapes_panoptic_val.json']
    assert sorted(os.listdir(osp.join(out, 'cityscapes_panoptic_val'))) == \
        before
    with open(osp.join(out, 'cityscapes_panoptic_val.json')) as f:
        assert f.read() == old_json
