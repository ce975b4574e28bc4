"""Tests of ``PanopticQualityMetric``: PQ against panopticapi, its
per-class table, the test-server files and the errors on bad input."""
import contextlib
import io
import json

import numpy as np
import pytest

from mmpfcn.evaluation import PanopticQualityMetric
from mmpfcn.evaluation.functional import PanopticFormatError
from mmpfcn.evaluation.functional.panoptic_io import (
    write_panoptic_png,
)
from mmpfcn.evaluation.functional.pq import evaluate_panoptic
from mmpfcn.testing.metric_cases import (
    OFFSET,
    evaluate,
    logged,
    shifted_prediction,
)
from mmpfcn.testing.panoptic_cases import (
    CASE_CATEGORIES,
)

# --------------------------------------------- perturbed vs references


def _reference_pq(gt, pred, categories):
    gt_json, gt_dir = gt
    pred_json, pred_dir = pred
    with open(gt_json) as f:
        gt_anns = json.load(f)['annotations']
    with open(pred_json) as f:
        pred_anns = json.load(f)['annotations']
    return evaluate_panoptic(gt_anns, pred_anns, categories, gt_folder=gt_dir,
                             pred_folder=pred_dir, engine='panopticapi')


def _assert_pq_equal(metrics, ref, names=None):
    for group, suffix in (('All', ''), ('Things', '_th'), ('Stuff', '_st')):
        for key in ('pq', 'sq', 'rq'):
            assert metrics[key.upper() + suffix] == pytest.approx(
                100 * ref[group][key], abs=1e-9, rel=0)
    for cat_id, values in (ref['per_class'].items() if names else ()):
        # categories in neither GT nor predictions are not reported
        assert metrics.get(f'{names[cat_id]}_PQ', 0.0) == pytest.approx(
            100 * values['pq'], abs=1e-9, rel=0)


def test_perturbed_cases_match_panopticapi_on_pngs(case_dir):
    split = case_dir['split']
    samples = [split.sample(img, pair.pred_map, pair.pred_segments)
               for img, pair in zip(split.images, case_dir['pairs'])]
    metrics = evaluate(split.metric(classwise=True), samples)
    ref = _reference_pq(case_dir['gt'], case_dir['pred'], CASE_CATEGORIES)
    assert 0 < metrics['PQ'] < 100
    _assert_pq_equal(metrics, ref,
                     {c['id']: c['name'] for c in CASE_CATEGORIES})


def test_perturbed_coco_sample_matches_panopticapi_on_pngs(
        coco_split, tmp_path):
    rng = np.random.default_rng(1)
    samples, pred_anns = [], []
    for img in coco_split.images:
        ann = coco_split.anns[img['id']]
        pred_map, segments = shifted_prediction(
            coco_split.gt_map(img), ann['segments_info'], rng)
        write_panoptic_png(str(tmp_path / ann['file_name']), pred_map)
        pred_anns.append(dict(ann, segments_info=segments))
        samples.append(coco_split.sample(img, pred_map, segments))
    with open(tmp_path / 'pred.json', 'w') as f:
        json.dump(dict(annotations=pred_anns), f)
    metrics = evaluate(coco_split.metric(), samples)
    ref = _reference_pq((coco_split.ann_file, coco_split.seg_prefix),
                        (str(tmp_path / 'pred.json'), str(tmp_path)),
                        coco_split.categories)
    assert 0 < metrics['PQ'] < 100
    _assert_pq_equal(metrics, ref)


def test_classwise_reports_only_occurring_categories(coco_split):
    # The COCO sample has 8 of the 133 categories; the others have neither
    # GT nor predictions and get no row and no `{class}_PQ` metric.
    metrics, log = logged(coco_split.metric(classwise=True),
                           coco_split.perfect_samples())
    names = {c['id']: c['name'] for c in coco_split.categories}
    occurring = {names[s['category_id']]
                 for ann in coco_split.anns.values()
                 for s in ann['segments_info']}
    assert len(occurring) == 8
    assert {k[:-3] for k in metrics if k.endswith('_PQ')} == occurring
    assert all(metrics[f'{name}_PQ'] == pytest.approx(100)
               for name in occurring)
    table = log.split('PQ     SQ     RQ')[1]
    rows = [line.split('|')[0].strip() for line in table.splitlines()
            if '|' in line]
    assert rows[:3] == ['All', 'Things', 'Stuff']
    assert set(rows[3:]) == {name[:14] for name in occurring}


# ---------------------------------------------------------- format-only


def test_format_only_files_read_back_to_pq_100(coco_split, tmp_path):
    from panopticapi.evaluation import pq_compute
    prefix = str(tmp_path / 'results')
    metric = coco_split.metric(format_only=True, outfile_prefix=prefix)
    assert evaluate(metric, coco_split.perfect_samples()) == {}
    with open(f'{prefix}.panoptic.json') as f:
        written = json.load(f)['annotations']
    assert {a['file_name'] for a in written} == {
        a['file_name'] for a in coco_split.anns.values()}
    gt_cats = {s['category_id'] for a in coco_split.anns.values()
               for s in a['segments_info']}
    assert {s['category_id'] for a in written
            for s in a['segments_info']} == gt_cats
    with contextlib.redirect_stdout(io.StringIO()):
        ref = pq_compute(coco_split.ann_file, f'{prefix}.panoptic.json',
                         gt_folder=coco_split.seg_prefix,
                         pred_folder=f'{prefix}.panoptic')
    for group in ('All', 'Things', 'Stuff'):
        assert ref[group]['pq'] == pytest.approx(1.0, abs=1e-12)


def test_format_only_needs_the_panoptic_categories(coco_split, tmp_path):
    """COCO's raw image_info_test-dev2017.json lists detection categories
    only; the error says what the file must contain."""
    with open(coco_split.ann_file) as f:
        coco = json.load(f)
    info = tmp_path / 'image_info.json'
    info.write_text(json.dumps(dict(
        images=coco['images'],
        categories=[c for c in coco['categories'] if c['isthing']])))
    metric = PanopticQualityMetric(ann_file=str(info), format_only=True,
                                   outfile_prefix=str(tmp_path / 'test'))
    metric.dataset_meta = coco_split.meta
    with pytest.raises(KeyError, match='with format_only the ann_file needs '
                       'the panoptic categories'):
        metric.process({}, coco_split.perfect_samples()[:1])


# ------------------------------------------------------------ bad input


def test_unknown_image_id_is_named(coco_split):
    sample = coco_split.perfect_samples()[0]
    sample['img_id'] = 123456789
    with pytest.raises(KeyError, match='image 123456789'):
        coco_split.metric().process({}, [sample])


def test_wrong_size_prediction_is_named(coco_split):
    sample = coco_split.perfect_samples()[0]
    pan = sample['pred_panoptic_seg']['sem_seg']
    sample['pred_panoptic_seg']['sem_seg'] = pan[:, :-1]
    with pytest.raises(ValueError,
                       match=rf"image {sample['img_id']} .*426x640.*427x640"):
        coco_split.metric().process({}, [sample])


def test_out_of_range_labels_are_named(coco_split):
    sample = coco_split.perfect_samples()[0]
    sample['pred_panoptic_seg']['sem_seg'][0, 0, 0] = 140 + 3 * OFFSET
    match = r'image 142238 .*\[140\]'
    # found while encoding: by process() itself without threads ...
    with pytest.raises(ValueError, match=match):
        coco_split.metric(threads=0).process({}, [sample])
    # ... else by evaluate(), which drops the records of the failed pass
    metric = coco_split.metric()
    metric.process({}, [dict(sample)])  # as a new pass: a new sample dict
    with pytest.raises(ValueError, match=match):
        metric.evaluate(1)
    assert metric.results == []


def test_bad_configuration_is_named(coco_split):
    with pytest.raises(ValueError, match='PanopticQualityMetric: engine '
                       'must be one of'):
        coco_split.metric(engine='detectron2')
    with pytest.raises(ValueError, match='needs an outfile_prefix'):
        coco_split.metric(format_only=True)
    with pytest.raises(ValueError, match='PanopticQualityMetric: threads '
                       'must be >= 0'):
        coco_split.metric(threads=-1)


def test_a_prediction_without_a_panoptic_map_is_named(coco_split):
    sample = coco_split.perfect_samples()[1]
    del sample['pred_panoptic_seg']
    with pytest.raises(ValueError, match=r'image \d+ .*PanopticQualityMetric '
                       'needs pred_panoptic_seg in the prediction'):
        coco_split.metric().process({}, [sample])


def _drop_gt_segment(ann):
    ann['segments_info'].pop(0)


def _add_gt_segment(ann):
    ann['segments_info'].append(dict(ann['segments_info'][0], id=77))


def _wrong_gt_area(ann):
    ann['segments_info'][1]['area'] += 1


def _duplicate_gt_segment(ann):
    ann['segments_info'].append(dict(ann['segments_info'][0]))


@pytest.mark.parametrize('corrupt,message', [
    (_drop_gt_segment, r'GT segment ids \[\d+\] are in the PNG but not in '
     r'segments_info'),
    (_add_gt_segment, r'GT segment ids \[77\] are in segments_info but not '
     r'in the PNG'),
    (_wrong_gt_area, r'`area` of GT segments \[\d+\] .* differs from their '
     r'pixel count'),
    (_duplicate_gt_segment, r'duplicate GT segment ids \[\d+\]'),
])
def test_inconsistent_ground_truth_is_named(case_dir, tmp_path, corrupt,
                                            message):
    split = case_dir['split']
    with open(split.ann_file) as f:
        coco = json.load(f)
    corrupt(coco['annotations'][2])
    ann_file = tmp_path / 'gt.json'
    ann_file.write_text(json.dumps(coco))
    samples = split.perfect_samples()
    match = r'image 2 \(000002.jpg\): ' + message
    # In the background (default), evaluate() raises the error; the
    # records of the failed pass are dropped.
    metric = PanopticQualityMetric(ann_file=str(ann_file),
                                   seg_prefix=split.seg_prefix)
    metric.dataset_meta = split.meta
    metric.process({}, samples)
    with pytest.raises(PanopticFormatError, match=match):
        metric.evaluate(len(samples))
    assert metric.results == []
    # Without threads, process() raises it for the image itself.
    inline = PanopticQualityMetric(ann_file=str(ann_file),
                                   seg_prefix=split.seg_prefix, threads=0)
    inline.dataset_meta = split.meta
    inline.process({}, samples[:2])  # the other images are fine
    with pytest.raises(PanopticFormatError, match=match):
        inline.process({}, samples[2:3])


def test_image_evaluated_twice_is_named(case_dir):
    split = case_dir['split']
    samples = split.perfect_samples()
    metric = split.metric()
    metric.process({}, samples + samples[3:4])
    with pytest.raises(ValueError,
                       match=r'images \[3\] were evaluated more than once'):
        metric.compute_metrics(metric.results)
