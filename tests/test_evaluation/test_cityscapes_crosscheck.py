"""Our PQ against the official Cityscapes panoptic evaluation
(``cityscapesscripts.evaluation.evalPanopticSemanticLabeling``): on small
generated cases in the Cityscapes panoptic format, and end to end from a
fake gtFine tree through our converter, dataset, pipeline and metric."""
import contextlib
import io
import json
import os
import os.path as osp

import numpy as np
import pytest
from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import (
    evaluatePanoptic,
)
from cityscapesscripts.helpers.labels import labels as cs_labels
from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic
from mmengine.config import Config

from mmpfcn.evaluation import PanopticQualityMetric
from mmpfcn.evaluation.functional import evaluate_panoptic
from mmpfcn.registry import DATASETS
from mmpfcn.testing.panoptic_cases import annotations, make_case, write_split
from mmpfcn.testing.street_scenes import (
    predicted_sample,
    write_cityscapes_tree,
)
from mmpfcn.utils import register_all_modules

# The categories file createPanopticImgs.py writes: official label ids.
CS_CATEGORIES = [
    dict(id=label.id, name=label.name, color=list(label.color),
         supercategory=label.category, isthing=int(label.hasInstances))
    for label in cs_labels if not label.ignoreInEval
]
BICYCLE, MOTORCYCLE, TERRAIN = 33, 32, 22


def to_cityscapes_ids(id_map: np.ndarray, segments: list):
    """Renumber a ground truth the way Cityscapes numbers it: stuff and
    crowd regions take their label id (all crowd pixels of a label form one
    segment), instances ``label_id * 1000 + k``."""
    new_ids, merged = {}, {}
    for k, seg in enumerate(segments):
        cat = seg['category_id']
        crowd_or_stuff = seg['iscrowd'] or cat < 24
        new = cat if crowd_or_stuff else cat * 1000 + k
        new_ids[seg['id']] = new
        if new in merged:
            merged[new]['area'] += seg['area']
        else:
            merged[new] = dict(seg, id=new)
    old = np.array([0, *new_ids])
    new = np.array([0, *new_ids.values()])
    order = np.argsort(old)
    # Every pixel's id is in ``old``, so searchsorted finds it exactly.
    renumbered = new[order][np.searchsorted(old[order], id_map)]
    return renumbered, list(merged.values())


def test_matches_cityscapes_official_evaluation(tmp_path):
    assert len(CS_CATEGORIES) == 19
    pairs = []
    for k in range(5):
        pair = make_case(seed=300 + k, height=64, width=128, num_segments=14,
                         categories=CS_CATEGORIES, gt_only=BICYCLE,
                         pred_only=MOTORCYCLE, unused=TERRAIN)
        pair.gt_map, pair.gt_segments = to_cityscapes_ids(pair.gt_map,
                                                          pair.gt_segments)
        pair.image_id = f'frankfurt_000000_{k:06d}'
        pair.file_name = f'{pair.image_id}_gtFine_panoptic.png'
        pairs.append(pair)
    assert any(s['id'] < 1000 and s['iscrowd'] for p in pairs
               for s in p.gt_segments)  # a Cityscapes-style crowd region
    gt_json, gt_dir = write_split(str(tmp_path), 'gt', pairs, CS_CATEGORIES)
    pred_json, pred_dir = write_split(str(tmp_path), 'pred', pairs,
                                      CS_CATEGORIES)

    with contextlib.redirect_stdout(io.StringIO()):
        official = evaluatePanoptic(gt_json, gt_dir, pred_json, pred_dir,
                                    str(tmp_path / 'official.json'))
    # Its own JSON output; per-class keys become strings there.
    official = json.loads((tmp_path / 'official.json').read_text())
    assert 0.1 < official['All']['pq'] < 0.9
    # Scored: every category on either side, never the unused 'terrain'.
    present = {s['category_id'] for p in pairs
               for s in p.gt_segments + p.pred_segments}
    assert TERRAIN not in present and {BICYCLE, MOTORCYCLE} <= present
    assert official['All']['n'] == len(present)

    gt, pred = annotations(pairs, 'gt'), annotations(pairs, 'pred')
    for engine in ('hotcoco', 'panopticapi'):
        ours = evaluate_panoptic(gt, pred, CS_CATEGORIES, gt_dir, pred_dir,
                                 engine=engine, nproc=2)
        for group in ('All', 'Things', 'Stuff'):
            assert ours[group]['n'] == official[group]['n']
            for key in ('pq', 'sq', 'rq'):
                assert ours[group][key] == pytest.approx(
                    official[group][key], abs=1e-9), (engine, group, key)
        for cat_id, res in official['per_class'].items():
            for key in ('pq', 'sq', 'rq'):
                assert ours['per_class'][int(cat_id)][key] == pytest.approx(
                    res[key], abs=1e-9), (engine, cat_id, key)


# ------------------------------------------------ the whole Cityscapes path
# fake gtFine tree -> our converter -> CityscapesPanopticDataset -> the test
# pipeline of the config -> PanopticQualityMetric, against the official
# createPanopticImgs ground truth scored by the official evaluation.

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def cs_val(tmp_path_factory, load_tool):
    """The converted val split of a fake tree (3 images in 2 cities), its
    dataset with the config's test pipeline, and the official GT."""
    root = str(tmp_path_factory.mktemp('cityscapes'))
    write_cityscapes_tree(root, height=64, width=128, images_per_city=2,
                          seed=5, splits={'val': ('frankfurt', 'lindau')})
    converter = load_tool('dataset_converters/cityscapes_panoptic.py')
    converter.convert(root, splits=('val', ))
    os.makedirs(osp.join(root, 'official'))
    with contextlib.redirect_stdout(io.StringIO()):
        convert2panoptic(osp.join(root, 'gtFine'), osp.join(root,
                                                             'official'),
                         setNames=['val'])
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/datasets/cityscapes_panoptic.py'))
    dataset_cfg = cfg.val_dataloader.dataset
    dataset_cfg.data_root = root + '/'
    dataset = DATASETS.build(dataset_cfg)
    return root, dataset


def _run(metric, samples):
    metric.process({}, samples)
    with contextlib.redirect_stdout(io.StringIO()):
        return metric.evaluate(len(samples))


def test_ground_truth_against_itself_is_pq_100(cs_val):
    root, dataset = cs_val
    metric = PanopticQualityMetric(
        ann_file=osp.join(root, 'annotations/cityscapes_panoptic_val.json'),
        seg_prefix=osp.join(root, 'annotations/cityscapes_panoptic_val'))
    metric.dataset_meta = dataset.metainfo
    results = _run(metric,
                   [predicted_sample(dataset, i) for i in range(len(dataset))])
    for key in ('PQ', 'PQ_th', 'PQ_st'):
        assert results[f'coco_panoptic/{key}'] == pytest.approx(100.0)


def test_perturbed_predictions_match_the_official_script(
        cs_val, tmp_path, load_tool):
    root, dataset = cs_val
    rng = np.random.default_rng(3)
    samples = [
        predicted_sample(dataset, i, rng, cut_class='road',
                         false_class='bicycle')
        for i in range(len(dataset))
    ]
    ann_file = osp.join(root, 'annotations/cityscapes_panoptic_val.json')
    seg_prefix = osp.join(root, 'annotations/cityscapes_panoptic_val')
    metric = PanopticQualityMetric(ann_file=ann_file, seg_prefix=seg_prefix)
    metric.dataset_meta = dataset.metainfo
    ours = _run(metric, samples)
    assert 30 < ours['coco_panoptic/PQ'] < 95

    # the same predictions written as files (tools/test.py format_only)
    prefix = str(tmp_path / 'cs')
    writer = PanopticQualityMetric(ann_file=ann_file, seg_prefix=seg_prefix,
                                   format_only=True, outfile_prefix=prefix)
    writer.dataset_meta = dataset.metainfo
    assert _run(writer, samples) == {}
    # ... scored by the official script against the official GT, whose
    # image ids are the Cityscapes names
    with open(ann_file) as f:
        names = {img['id']: osp.basename(img['file_name'])[:-16]
                 for img in json.load(f)['images']}
    with open(f'{prefix}.panoptic.json') as f:
        predictions = json.load(f)
    for ann in predictions['annotations']:
        ann['image_id'] = names[ann['image_id']]
    official_pred = str(tmp_path / 'official_ids.json')
    with open(official_pred, 'w') as f:
        json.dump(predictions, f)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluatePanoptic(
            osp.join(root, 'official/cityscapes_panoptic_val.json'),
            osp.join(root, 'official/cityscapes_panoptic_val'),
            official_pred, f'{prefix}.panoptic',
            str(tmp_path / 'official.json'))
    official = json.loads((tmp_path / 'official.json').read_text())
    for group, suffix in (('All', ''), ('Things', '_th'), ('Stuff', '_st')):
        for key in ('pq', 'sq', 'rq'):
            assert ours[f'coco_panoptic/{key.upper()}{suffix}'] / 100 == \
                pytest.approx(official[group][key], abs=1e-9), (group, key)

    # and the tool that runs both on our converted GT says the same
    tool = load_tool('analysis_tools/cityscapes_eval.py')
    out = str(tmp_path / 'both.json')
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert tool.main([f'{prefix}.panoptic.json', f'{prefix}.panoptic',
                          '--gt-json', ann_file, '--out', out]) == 0
    assert 'official cityscapesscripts:' in printed.getvalue()
    with open(out) as f:
        both = json.load(f)
    assert both['max_difference'] <= 1e-9
    assert both['official']['All']['pq'] == pytest.approx(
        official['All']['pq'], abs=1e-12)


def test_eval_tool_reports_missing_files(load_tool, tmp_path, capsys):
    tool = load_tool('analysis_tools/cityscapes_eval.py')
    missing = str(tmp_path / 'none.json')
    assert tool.main([missing, str(tmp_path), '--gt-json', missing]) == 1
    assert f'{missing} does not exist' in capsys.readouterr().err
