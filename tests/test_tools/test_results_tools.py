"""``tools/test.py --out`` on the COCO sample (a tiny initialised model
with the 133 COCO classes): the compact dump, its size, re-scoring it with
``eval_metric.py`` (the metrics of tools/test.py), and the best / worst
pictures of ``analyze_results.py``."""
import glob
import importlib.util
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import load
from mmengine.registry import DefaultScope

from mmpfcn.evaluation.metrics import decode_prediction, encode_prediction
from mmpfcn.registry import MODELS
from mmpfcn.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(ROOT, 'configs/panoptic_fcn/'
                'panoptic-fcn_r18_fpn_synthetic-panoptic.py')
COCO = osp.join(ROOT, 'configs/panoptic_fcn/'
                'panoptic-fcn_r50_fpn_3x_coco-panoptic.py')
# two 640x427 / 640x360 images: a dump of PNG maps and RLE masks stays
# far below this (the raw int64 maps alone are 4.0 MB)
DUMP_BOUND = 400 * 1024


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ROOT, 'tools', 'analysis_tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def run(tmp_path_factory, coco_sample_dir):
    """Config, checkpoint, dump and the metrics tools/test.py logged."""
    root = tmp_path_factory.mktemp('results')
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(COCO)
    tiny = Config.fromfile(TINY)
    cfg.model = tiny.model
    cfg.model.panoptic_head.update(num_things_classes=80,
                                   num_stuff_classes=53)
    # keep every segment of the untrained model, at a small test scale
    cfg.model.test_cfg.update(merge_thing_thr=0.0, stuff_area_limit=64)
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.test_dataloader.dataset.update(
        data_root=coco_sample_dir + '/', ann_file='panoptic_examples.json',
        data_prefix=dict(img='images/', seg='panoptic/'))
    cfg.test_dataloader.dataset.pipeline[1].scale = (667, 400)
    for metric in cfg.test_evaluator:
        metric.update(
            ann_file=osp.join(coco_sample_dir, 'panoptic_examples.json'),
            seg_prefix=osp.join(coco_sample_dir, 'panoptic'))
    config = str(root / 'config.py')
    cfg.dump(config)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    checkpoint = str(root / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    dump = str(root / 'results.pkl')
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'test.py'), config,
         checkpoint, '--work-dir', str(root / 'work'), '--out', dump],
        cwd=str(root), capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = glob.glob(str(root / 'work' / '*' / '*.json'))
    assert len(logs) == 1, logs
    metrics = json.loads(open(logs[0]).read().splitlines()[-1])
    return dict(config=config, dump=dump, metrics=metrics, root=root)


def test_dump_is_compact_and_complete(run):
    size = os.path.getsize(run['dump'])
    assert size < DUMP_BOUND, f'{size} bytes'
    records = load(run['dump'])
    assert len(records) == 2
    for record in records:
        assert 'gt_panoptic_rle' not in record
        assert isinstance(record['pred_panoptic_seg']['png'], bytes)
        masks = record['pred_instances']['masks']
        assert masks and all('counts' in m for m in masks)
        info = record['pred_panoptic_seg']['segments_info']
        height, width = record['ori_shape']
        assert sum(s['area'] for s in info) == height * width


def test_decoding_gives_the_maps_back_bit_for_bit():
    rng = np.random.default_rng(0)
    pan = rng.choice([3, 1002, 2002, 133, 57 + 9000 * 1000],
                     size=(1, 9, 7)).astype(np.int64)
    sem = rng.integers(0, 54, size=(1, 9, 7)).astype(np.int64)
    masks = torch.from_numpy(rng.random((3, 9, 7)) > 0.5)
    sample = dict(img_id=1, img_path='x.jpg', gt_panoptic_rle=['big'],
                  pred_panoptic_seg=dict(sem_seg=torch.from_numpy(pan)),
                  pred_sem_seg=dict(sem_seg=torch.from_numpy(sem)),
                  pred_instances=dict(masks=masks,
                                      labels=torch.tensor([0, 1, 2]),
                                      scores=torch.tensor([.9, .5, .1])))
    record = encode_prediction(sample)
    decoded = decode_prediction(record)
    assert 'gt_panoptic_rle' not in decoded
    for key, original in (('pred_panoptic_seg', pan), ('pred_sem_seg', sem)):
        out = decoded[key]['sem_seg']
        assert out.dtype == original.dtype
        np.testing.assert_array_equal(out, original)
    np.testing.assert_array_equal(decoded['pred_instances']['masks'],
                                  masks.numpy())
    # masks already RLE pass through
    sample['pred_instances']['masks'] = record['pred_instances']['masks']
    assert encode_prediction(sample)['pred_instances']['masks'] == \
        record['pred_instances']['masks']
    many = np.arange(70000, dtype=np.int64).reshape(1, 1, -1)
    with pytest.raises(ValueError, match='70000 distinct values'):
        encode_prediction(dict(pred_panoptic_seg=dict(sem_seg=many)))


def test_eval_metric_gives_the_metrics_of_test_py(run, capsys):
    metrics = load_tool('eval_metric').evaluate_dump(
        Config.fromfile(run['config']), run['dump'])
    logged = {k: v for k, v in run['metrics'].items()
              if k.startswith('coco_panoptic/')}
    assert {'coco_panoptic/PQ', 'coco_panoptic/AP',
            'coco_panoptic/mIoU'} <= set(logged)
    assert {k: metrics[k] for k in logged} == pytest.approx(logged,
                                                            rel=1e-12)


def test_eval_metric_names_a_file_of_another_format(run, tmp_path, capsys):
    raw = tmp_path / 'raw.pkl'
    records = load(run['dump'])
    # mmdet's DumpDetResults keeps the raw map
    records[0]['pred_panoptic_seg'] = dict(sem_seg=np.zeros((1, 2, 2)))
    raw.write_bytes(pickle.dumps(records))
    code = load_tool('eval_metric').main([run['config'], str(raw)])
    assert code == 1
    err = capsys.readouterr().err
    assert str(raw) in err and 'DumpPanopticResults' in err


def gt_dump(coco_sample_dir, path):
    """A dump whose predictions are the ground truth, of 439180 as it is
    (PQ 100) and of 142238 without its things (stuff only)."""
    from mmpfcn.datasets import PanopticFCNCocoDataset
    from mmpfcn.evaluation.functional import read_panoptic_png
    content = json.load(open(osp.join(coco_sample_dir,
                                      'panoptic_examples.json')))
    classes = PanopticFCNCocoDataset.METAINFO['classes']
    names = {c['id']: c['name'] for c in content['categories']}
    samples = []
    for ann in content['annotations']:
        ids = read_panoptic_png(osp.join(coco_sample_dir, 'panoptic',
                                         ann['file_name']))
        pan = np.full(ids.shape, len(classes), dtype=np.int64)
        for k, seg in enumerate(ann['segments_info'], 1):
            label = classes.index(names[seg['category_id']])
            isthing = label < 80
            if isthing and ann['image_id'] == 142238:
                continue
            pan[ids == seg['id']] = label + k * 1000 * isthing
        stem = osp.splitext(ann['file_name'])[0]
        samples.append(dict(
            img_id=ann['image_id'], ori_shape=ids.shape,
            img_path=osp.join(coco_sample_dir, 'images', stem + '.jpg'),
            pred_panoptic_seg=dict(sem_seg=torch.from_numpy(pan[None]))))
    with open(path, 'wb') as f:
        pickle.dump([encode_prediction(s) for s in samples], f)
    return samples


def test_eval_metric_of_a_dump_equals_the_metric_of_its_samples(
        run, coco_sample_dir, tmp_path):
    from mmengine.evaluator import Evaluator

    from mmpfcn.datasets import PanopticFCNCocoDataset
    samples = gt_dump(coco_sample_dir, tmp_path / 'gt.pkl')
    cfg = Config.fromfile(run['config'])
    # the dump has panoptic maps only: the PQ metric of the list
    cfg.test_evaluator = cfg.test_evaluator[:1]
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = PanopticFCNCocoDataset.METAINFO
    direct = evaluator.offline_evaluate(samples, chunk_size=1)
    rescored = load_tool('eval_metric').evaluate_dump(cfg,
                                                      str(tmp_path / 'gt.pkl'))
    assert 50 < direct['coco_panoptic/PQ'] < 100
    assert rescored == direct


def test_analyze_results_writes_best_and_worst_pictures(
        run, coco_sample_dir, capsys):
    show_dir = run['root'] / 'analysis'
    dump = run['root'] / 'gt.pkl'
    gt_dump(coco_sample_dir, dump)
    code = load_tool('analyze_results').main(
        [run['config'], str(dump), '--show-dir', str(show_dir),
         '--topk', '1'])
    assert code == 0
    out = capsys.readouterr().out
    files = {group: os.listdir(show_dir / group) for group in ('good', 'bad')}
    # the exact prediction is the best, the one without things the worst
    assert files['good'] == ['000000439180_100.000.jpg']
    assert len(files['bad']) == 1 and \
        files['bad'][0].startswith('000000142238_')
    for group, (name, ) in files.items():
        picture = mmcv.imread(str(show_dir / group / name))
        height = {'000000142238': 427, '000000439180': 360}[name[:12]]
        # ground truth | prediction, each the size of the image
        assert picture.shape == (height, 2 * 640, 3)
    def sides_differ(group):
        left, right = np.split(mmcv.imread(
            str(show_dir / group / files[group][0])).astype(int), 2, axis=1)
        return np.abs(left - right).mean()

    # the exact prediction is drawn as its ground truth but for the
    # colours of the things; the one without things differs more
    assert sides_differ('good') < sides_differ('bad')
    assert 'best 1 by PQ' in out and 'worst 1 by PQ' in out
