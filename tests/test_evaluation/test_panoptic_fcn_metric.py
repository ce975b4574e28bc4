"""Tests of the runner metric ``PanopticFCNMetric`` and its helpers."""
import contextlib
import gc
import io
import json
import logging
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch

from mmpfcn.evaluation import PanopticFCNMetric
from mmpfcn.evaluation.functional import PanopticFormatError
from mmpfcn.evaluation.functional.panoptic_io import (
    write_panoptic_png,
)
from mmpfcn.evaluation.functional.pq import evaluate_panoptic
from mmpfcn.testing.metric_cases import (
    OFFSET,
    PQ_KEYS,
    evaluate,
    shifted_prediction,
)
from mmpfcn.testing.panoptic_cases import (
    CASE_CATEGORIES,
)


def test_gt_as_prediction_is_perfect_on_coco_sample(coco_split):
    metrics = evaluate(coco_split.metric(), coco_split.perfect_samples())
    for key in PQ_KEYS + ['AP', 'AP50', 'AP75', 'mIoU']:
        assert metrics[f'{key}'] == pytest.approx(100, abs=1e-9), key


def test_gt_as_prediction_is_perfect_on_generated_cases(case_dir):
    split = case_dir['split']
    metrics = evaluate(split.metric(), split.perfect_samples())
    for key in PQ_KEYS + ['AP', 'AP50', 'AP75', 'mIoU']:
        assert metrics[key] == pytest.approx(100, abs=1e-9), key


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


def _perturbed_samples(split, pairs, seed):
    """The generated predictions with a random semantic map each."""
    rng = np.random.default_rng(seed)
    num_sem = 1 + len(split.meta['stuff_classes'])
    return [split.sample(img, pair.pred_map, pair.pred_segments,
                         sem=rng.integers(0, num_sem, pair.gt_map.shape))
            for img, pair in zip(split.images, pairs)]


def _logged(metric, samples):
    """The metrics and everything ``compute_metrics`` logged."""
    from mmengine.logging import MMLogger
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        metrics = evaluate(metric, samples)
    finally:
        logger.removeHandler(handler)
    return metrics, stream.getvalue()


def test_classwise_logs_per_class_tables(case_dir):
    split = case_dir['split']
    samples = _perturbed_samples(split, case_dir['pairs'], seed=8)
    metrics, log = _logged(split.metric(classwise=True), samples)
    rows = {line.split()[0]: line.split()[2:] for line in log.splitlines()
            if len(line.split()) > 2 and line.split()[1] == '|'}
    for cat in CASE_CATEGORIES:
        if cat['name'] == 'unused':  # in neither GT nor predictions
            assert cat['name'] not in rows
            assert f"{cat['name']}_PQ" not in metrics
            continue
        # One PQ/SQ/RQ row per category, the PQ as returned.
        assert float(rows[cat['name']][0]) == pytest.approx(
            metrics[f"{cat['name']}_PQ"], abs=0.05)
    assert {'All', 'Things', 'Stuff'} <= set(rows)
    per_class_ap = log.split('Per-class mask AP:')[1].splitlines()[1:5]
    assert [line.split()[0] for line in per_class_ap] == [
        c['name'] for c in CASE_CATEGORIES if c['isthing']][:4]
    per_class_iou = log.split('Per-class IoU:')[1].splitlines()[1:]
    assert [line.split()[0] for line in per_class_iou] == ['things'] + list(
        split.meta['stuff_classes'])
    assert 0 < metrics['PQ'] < 100 and 'AP' in metrics and 'mIoU' in metrics

    plain, plain_log = _logged(split.metric(), samples)
    assert not any(key.endswith('_PQ') for key in plain)
    assert 'Per-class' not in plain_log and '\nsky ' not in plain_log
    assert all(plain[k] == metrics[k] for k in plain)


def test_classwise_reports_only_occurring_categories(coco_split):
    # The COCO sample has 8 of the 133 categories; the others have neither
    # GT nor predictions and get no row and no `{class}_PQ` metric.
    metrics, log = _logged(coco_split.metric(classwise=True),
                           coco_split.perfect_samples())
    names = {c['id']: c['name'] for c in coco_split.categories}
    occurring = {names[s['category_id']]
                 for ann in coco_split.anns.values()
                 for s in ann['segments_info']}
    assert len(occurring) == 8
    assert {k[:-3] for k in metrics if k.endswith('_PQ')} == occurring
    assert all(metrics[f'{name}_PQ'] == pytest.approx(100)
               for name in occurring)
    table = log.split('PQ     SQ     RQ')[1].split('Mask AP')[0]
    rows = [line.split('|')[0].strip() for line in table.splitlines()
            if '|' in line]
    assert rows[:3] == ['All', 'Things', 'Stuff']
    assert set(rows[3:]) == {name[:14] for name in occurring}


def test_built_by_registry_from_det_data_samples(coco_split):
    """Built from a config dict in scope mmpfcn; takes ``DetDataSample``
    with an int32 panoptic map (what mmdet's fusion heads return)."""
    from mmdet.structures import DetDataSample
    from mmengine.registry import DefaultScope
    from mmengine.structures import InstanceData, PixelData

    from mmpfcn.registry import METRICS
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        metric = METRICS.build(dict(
            type='PanopticFCNMetric', ann_file=coco_split.ann_file,
            seg_prefix=coco_split.seg_prefix))
    metric.dataset_meta = coco_split.meta
    samples = []
    for sample in coco_split.perfect_samples():
        data = DetDataSample(metainfo=dict(img_id=sample['img_id'],
                                           img_path=sample['img_path']))
        data.pred_panoptic_seg = PixelData(
            sem_seg=sample['pred_panoptic_seg']['sem_seg'].int())
        data.pred_instances = InstanceData(**sample['pred_instances'])
        samples.append(data)
    metrics = evaluate(metric, samples)
    assert metrics['PQ'] == pytest.approx(100, abs=1e-9)
    assert metrics['AP'] == pytest.approx(100, abs=1e-9)
    assert 'mIoU' not in metrics  # no pred_sem_seg given


# --------------------------------------------------- format-only, ranks


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
    metric = PanopticFCNMetric(ann_file=str(info), format_only=True,
                               outfile_prefix=str(tmp_path / 'test'))
    metric.dataset_meta = coco_split.meta
    with pytest.raises(KeyError, match='with format_only the ann_file needs '
                       'the panoptic categories'):
        metric.process({}, coco_split.perfect_samples()[:1])


def test_two_ranks_merged_equal_one_pass(case_dir):
    split = case_dir['split']
    samples = [split.sample(img, pair.pred_map, pair.pred_segments)
               for img, pair in zip(split.images, case_dir['pairs'])]
    rank0, rank1, single = split.metric(), split.metric(), split.metric()
    rank0.process({}, samples[::2])
    rank1.process({}, samples[1::2])
    # What evaluate() does on each rank before mmengine's collect_results
    # ships the records: wait for the background GT jobs.
    for rank in (rank0, rank1):
        rank.finish_jobs(rank.results)
    gathered = pickle.loads(pickle.dumps(rank0.results + rank1.results))
    single.process({}, samples)
    with contextlib.redirect_stdout(io.StringIO()):
        merged = rank0.compute_metrics(gathered)
        # BaseMetric.evaluate: collect_results, compute_metrics, prefix.
        one_pass = single.evaluate(len(samples))
    assert {'PQ', 'AP', 'mIoU'} <= set(merged)
    assert one_pass == {f'coco_panoptic/{k}': v for k, v in merged.items()}


def _rank_worker(rank, world_size, root, ann_file, seg_prefix, meta,
                 samples):
    """One rank of a gloo run: evaluate its share of ``samples`` with
    ``BaseMetric.evaluate`` and write what it returned."""
    import torch.distributed as torch_dist
    torch.set_num_threads(1)
    os.chdir(root)  # mmengine's collect_results writes .dist_test/ here
    torch_dist.init_process_group(
        'gloo', init_method=f'file://{root}/rendezvous', rank=rank,
        world_size=world_size)
    try:
        metric = PanopticFCNMetric(ann_file=ann_file, seg_prefix=seg_prefix)
        metric.dataset_meta = meta
        metric.process({}, samples[rank::world_size])
        local = len(metric.results)
        with contextlib.redirect_stdout(io.StringIO()):
            metrics = metric.evaluate(len(samples))
        with open(osp.join(root, f'rank{rank}.json'), 'w') as f:
            json.dump(dict(local=local, metrics=metrics), f)
    finally:
        torch_dist.destroy_process_group()


def test_distributed_run_gathers_records_to_rank_zero(case_dir, tmp_path):
    """Two gloo processes, each with half of the images: mmengine gathers
    the compact records to rank 0, which scores them once and broadcasts
    the metrics; every rank gets the single-process numbers."""
    split = case_dir['split']
    samples = _perturbed_samples(split, case_dir['pairs'], seed=10)
    single = split.metric()
    single.process({}, samples)
    with contextlib.redirect_stdout(io.StringIO()):
        expected = single.evaluate(len(samples))
    torch.multiprocessing.spawn(
        _rank_worker, nprocs=2, join=True,
        args=(2, str(tmp_path), split.ann_file, split.seg_prefix, split.meta,
              samples))
    for rank in range(2):
        with open(tmp_path / f'rank{rank}.json') as f:
            result = json.load(f)
        assert result['local'] == len(samples[rank::2])
        assert result['metrics'] == pytest.approx(expected, abs=1e-9)
    assert {'coco_panoptic/PQ', 'coco_panoptic/AP',
            'coco_panoptic/mIoU'} <= set(expected)


def test_second_pass_reuses_the_gt_without_reading_pngs(case_dir):
    split = case_dir['split']
    rng = np.random.default_rng(6)
    samples = [split.sample(img, pair.pred_map, pair.pred_segments,
                            sem=rng.integers(0, 5, pair.gt_map.shape))
               for img, pair in zip(split.images, case_dir['pairs'])]
    metric = split.metric()
    first = evaluate(metric, samples)
    metric.results.clear()  # what BaseMetric.evaluate does after a pass
    metric.gt.seg_prefix = '/nonexistent'  # a PNG read would now fail
    assert evaluate(metric, samples) == first
    assert 0 < first['mIoU'] < 100
    uncached = split.metric(cache_gt=False)
    evaluate(uncached, samples)
    uncached.results.clear()
    uncached.gt.seg_prefix = '/nonexistent'
    with pytest.raises(FileNotFoundError, match='image 0 .*not found'):
        evaluate(uncached, samples[:1])


@pytest.mark.parametrize('threads', [0, 3])
def test_background_threads_give_the_same_records(case_dir, threads):
    split = case_dir['split']
    samples = _perturbed_samples(split, case_dir['pairs'], seed=11)
    default = split.metric()  # one thread
    other = split.metric(threads=threads)
    for metric in (default, other):
        metric.process({}, samples)
        # a bounded backlog: process() waits beyond 4 jobs per thread
        assert len(metric.encoder._jobs) <= 4 * max(1, metric.threads)
        metric.finish_jobs(metric.results)
        assert not metric.encoder._jobs
    assert pickle.dumps(default.results) == pickle.dumps(other.results)
    assert all('job' not in r and r['sem_stats'] is not None
               for r in other.results)
    with pytest.raises(ValueError, match='threads must be >= 0'):
        split.metric(threads=-1)


def with_pipeline_gt(split, samples):
    """The samples with ``gt_panoptic_rle`` from the test pipeline's
    loader, as ``PackDetInputs(meta_keys=(..., 'gt_panoptic_rle'))``
    passes it on."""
    from mmpfcn.datasets.transforms import LoadPanopticFCNAnnotations
    loader = LoadPanopticFCNAnnotations(
        with_bbox=False, with_label=False, with_mask=False, with_seg=False,
        with_eval_rle=True)
    out = []
    for sample in samples:
        ann = split.anns[sample['img_id']]
        results = loader(dict(
            seg_map_path=osp.join(split.seg_prefix, ann['file_name']),
            segments_info=ann['segments_info'], instances=[],
            ori_shape=tuple(sample['ori_shape'])))
        assert set(results) >= {'gt_panoptic_rle'}
        assert 'gt_masks' not in results and 'gt_seg_map' not in results
        out.append(dict(sample, gt_panoptic_rle=results['gt_panoptic_rle']))
    return out


@pytest.mark.parametrize('threads', [0, 1])
def test_gt_from_the_pipeline_gives_the_same_records(case_dir, threads):
    split = case_dir['split']
    samples = _perturbed_samples(split, case_dir['pairs'], seed=12)
    from_png = split.metric(threads=threads)
    from_png.process({}, samples)
    from_png.finish_jobs(from_png.results)
    # no PNG read: the folder does not exist
    metric = split.metric(threads=threads, cache_gt=True)
    metric.gt.seg_prefix = '/nonexistent'
    metric.process({}, with_pipeline_gt(split, samples))
    metric.finish_jobs(metric.results)
    assert pickle.dumps(metric.results) == pickle.dumps(from_png.results)
    assert not metric.gt._cache  # the next pass brings them again
    with contextlib.redirect_stdout(io.StringIO()):
        metrics = metric.compute_metrics(metric.results)
        assert metrics == from_png.compute_metrics(from_png.results)
    assert 0 < metrics['PQ'] < 100 and 0 < metrics['mIoU'] < 100


def _swap_rle(samples):
    samples[1]['gt_panoptic_rle'] = samples[0]['gt_panoptic_rle']


def _drop_rle(samples):
    rle = samples[1]['gt_panoptic_rle']
    samples[1]['gt_panoptic_rle'] = dict(rle, rles=rle['rles'][1:])


def _not_a_dict(samples):
    samples[1]['gt_panoptic_rle'] = [1, 2]


@pytest.mark.parametrize('corrupt,message', [
    (_swap_rle, r'gt_panoptic_rle \(the GT PNG\) is 48x64 but the image '
     'is 56x64'),
    (_drop_rle, r'gt_panoptic_rle needs ascending unique ids with one RLE '
     r'and area each, got \d+ ids, \d+ RLEs'),
    (_not_a_dict, 'gt_panoptic_rle must be a dict of ids, rles and areas'),
])
def test_bad_pipeline_gt_is_named(case_dir, corrupt, message):
    split = case_dir['split']
    samples = with_pipeline_gt(split, split.perfect_samples())
    corrupt(samples)
    metric = split.metric(threads=0)
    with pytest.raises(ValueError, match=r'image 1 \(000001.jpg\): ' +
                       message):
        metric.process({}, samples)


def test_pipeline_gt_of_another_annotation_file_is_named(case_dir):
    """The annotation file stays the authority: a pipeline GT that lists
    other segments is an error, not silently scored."""
    split = case_dir['split']
    samples = with_pipeline_gt(split, split.perfect_samples()[:1])
    rle = samples[0]['gt_panoptic_rle']
    rle['ids'] = rle['ids'] + (rle['ids'] > 0) * 1000  # other segment ids
    with pytest.raises(PanopticFormatError,
                       match=r'image 0 .*are in the PNG but not in '
                       'segments_info'):
        split.metric(threads=0).process({}, samples)


def test_evaluate_leaves_no_threads_running(case_dir):
    # a training dataloader forks its workers between validations
    split = case_dir['split']
    metric = split.metric(threads=2)
    for _ in range(2):  # the threads come back for the next pass
        metric.process({}, split.perfect_samples())
        threads = list(metric.encoder._pool._threads)
        assert threads and all(t.name.startswith('panoptic_metric')
                               for t in threads)
        with contextlib.redirect_stdout(io.StringIO()):
            assert metric.evaluate(len(split.images))[
                'coco_panoptic/PQ'] == pytest.approx(100)
        assert metric.encoder._pool is None
        assert not any(t.is_alive() for t in threads)


def test_compute_metrics_pauses_and_restores_the_gc(coco_split,
                                                    monkeypatch):
    from mmpfcn.evaluation.metrics import panoptic_fcn_metric as module
    states = []
    engine = module.evaluate_panoptic

    def spy(*args, **kwargs):
        states.append(gc.isenabled())
        return engine(*args, **kwargs)

    monkeypatch.setattr(module, 'evaluate_panoptic', spy)
    metric = coco_split.metric()
    metric.process({}, coco_split.perfect_samples())
    assert evaluate(metric, [])['PQ'] == pytest.approx(100)
    assert states == [False] and gc.isenabled()
    gc.disable()  # a caller's choice is kept
    try:
        metric.compute_metrics(metric.results)
        assert not gc.isenabled()
    finally:
        gc.enable()
    # and restored when the computation fails
    with pytest.raises(ValueError, match='evaluated more than once'):
        metric.compute_metrics(metric.results + metric.results)
    assert gc.isenabled()


def test_records_are_compact(coco_split):
    """What a rank ships per image (segments, instances, pixel counts) is
    well under a byte per pixel."""
    metric = coco_split.metric()
    metric.process({}, coco_split.perfect_samples())
    metric.finish_jobs(metric.results)  # evaluate() does it before shipping
    for record in metric.results:
        size = len(pickle.dumps(record))
        assert size < record['height'] * record['width'] / 5, size


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
    metric.process({}, [sample])
    with pytest.raises(ValueError, match=match):
        metric.evaluate(1)
    assert metric.results == []


def test_background_error_is_raised_by_the_process_call_that_waits(
        case_dir):
    split = case_dir['split']
    samples = split.perfect_samples()
    samples[0]['pred_panoptic_seg']['sem_seg'][0, 0, 0] = 99
    metric = split.metric(threads=1)
    metric.process({}, samples[:4])  # the backlog holds 4 jobs
    with pytest.raises(ValueError, match=r'image 0 .*\[99\]'):
        metric.process({}, samples[4:6])


def test_bad_configuration_and_mixed_outputs(coco_split):
    with pytest.raises(ValueError, match='engine must be one of'):
        coco_split.metric(engine='detectron2')
    with pytest.raises(ValueError, match='needs an outfile_prefix'):
        coco_split.metric(format_only=True)
    first, second = coco_split.perfect_samples()
    del second['pred_instances']
    metric = coco_split.metric()
    metric.process({}, [first, second])
    with pytest.raises(ValueError, match='pred_instances is missing from '
                       'the predictions of 1 of 2 images'):
        metric.compute_metrics(metric.results)


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
    metric = PanopticFCNMetric(ann_file=str(ann_file),
                               seg_prefix=split.seg_prefix)
    metric.dataset_meta = split.meta
    metric.process({}, samples)
    with pytest.raises(PanopticFormatError, match=match):
        metric.evaluate(len(samples))
    assert metric.results == []
    # Without threads, process() raises it for the image itself.
    inline = PanopticFCNMetric(ann_file=str(ann_file),
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
