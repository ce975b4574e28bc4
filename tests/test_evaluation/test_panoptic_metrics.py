"""The three panoptic metrics listed together, as the configs list them:
one encoding per sample, the numbers of each alone, what each rank ships."""
import contextlib
import io
import json
import os
import os.path as osp
import pickle

import pytest
import torch
from mmengine.evaluator import Evaluator

from mmpfcn.evaluation import (
    PanopticMaskAPMetric,
    PanopticQualityMetric,
    SemanticIoUMetric,
)
from mmpfcn.evaluation.metrics import encode_prediction
from mmpfcn.evaluation.metrics.encoding import PanopticEncoder
from mmpfcn.evaluation.metrics.shared_encoding import ENCODING_KEY
from mmpfcn.testing.metric_cases import (
    METRIC_TYPES,
    PQ_KEYS,
    evaluate,
    logged,
    perturbed_samples,
)
from mmpfcn.testing.panoptic_cases import CASE_CATEGORIES

#: What each metric's record holds once its jobs are done.
RECORD_KEYS = {
    PanopticQualityMetric: {'file_name', 'gt_segments', 'pred_segments'},
    PanopticMaskAPMetric: {'gt_instances', 'instances'},
    SemanticIoUMetric: {'sem_stats'},
}


def test_gt_as_prediction_is_perfect_on_coco_sample(coco_split):
    metrics = evaluate(coco_split.metrics(), coco_split.perfect_samples())
    for key in PQ_KEYS + ['AP', 'AP50', 'AP75', 'mIoU']:
        assert metrics[f'{key}'] == pytest.approx(100, abs=1e-9), key


def test_gt_as_prediction_is_perfect_on_generated_cases(case_dir):
    split = case_dir['split']
    metrics = evaluate(split.metrics(), split.perfect_samples())
    for key in PQ_KEYS + ['AP', 'AP50', 'AP75', 'mIoU']:
        assert metrics[key] == pytest.approx(100, abs=1e-9), key


def _count_jobs(monkeypatch):
    """Count the parts each encoder is asked for, per (image, part)."""
    asked = []
    job = PanopticEncoder.job

    def counted(self, part, sample, *args, **kwargs):
        asked.append((sample['img_id'], part))
        return job(self, part, sample, *args, **kwargs)

    monkeypatch.setattr(PanopticEncoder, 'job', counted)
    return asked


@pytest.mark.parametrize('threads', [0, 1])
def test_listed_together_they_encode_each_sample_once(case_dir, monkeypatch,
                                                      threads):
    split = case_dir['split']
    asked = _count_jobs(monkeypatch)
    metrics = split.metrics(threads=threads)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = Evaluator(metrics)
        evaluator.process(perturbed_samples(split, case_dir['pairs'], 8))
        assert evaluator.evaluate(len(split.images))['coco_panoptic/mIoU'] > 0
    parts = ('gt', 'pred_segments', 'instances', 'sem_stats')
    assert sorted(asked) == sorted(
        (img['id'], part) for img in split.images for part in parts)
    # the first metric's encoder did it all; the others started no thread
    assert all(m.encoder._pool is None for m in metrics)


def test_each_alone_gives_the_numbers_it_gives_in_the_list(case_dir):
    split = case_dir['split']
    samples = perturbed_samples(split, case_dir['pairs'], seed=9)
    together = evaluate(split.metrics(classwise=True), samples)
    alone = {}
    for metric_type in METRIC_TYPES:
        alone.update(evaluate(split.metric(metric_type, classwise=True),
                              samples))
    assert alone == together
    assert 0 < together['PQ'] < 100 and 0 < together['mIoU'] < 100
    # in another order, too: whichever comes first encodes for all
    assert evaluate(split.metrics()[::-1], samples) == {
        k: v for k, v in together.items() if not k.endswith('_PQ')}


def test_classwise_logs_per_class_tables(case_dir):
    split = case_dir['split']
    samples = perturbed_samples(split, case_dir['pairs'], seed=8)
    metrics, log = logged(split.metrics(classwise=True), samples)
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

    plain, plain_log = logged(split.metrics(), samples)
    assert not any(key.endswith('_PQ') for key in plain)
    assert 'Per-class' not in plain_log and '\nsky ' not in plain_log
    assert all(plain[k] == metrics[k] for k in plain)


def test_built_by_registry_from_det_data_samples(coco_split):
    """Built from config dicts in scope mmpfcn; the evaluator converts the
    ``DetDataSample`` (an int32 panoptic map, as mmdet's fusion heads
    return) once for both metrics."""
    from mmdet.structures import DetDataSample
    from mmengine.registry import DefaultScope
    from mmengine.structures import InstanceData, PixelData

    gt = dict(ann_file=coco_split.ann_file, seg_prefix=coco_split.seg_prefix)
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        evaluator = Evaluator([dict(type='PanopticQualityMetric', **gt),
                               dict(type='PanopticMaskAPMetric', **gt)])
    evaluator.dataset_meta = coco_split.meta
    samples = []
    for sample in coco_split.perfect_samples():
        data = DetDataSample(metainfo=dict(img_id=sample['img_id'],
                                           img_path=sample['img_path']))
        data.pred_panoptic_seg = PixelData(
            sem_seg=sample['pred_panoptic_seg']['sem_seg'].int())
        data.pred_instances = InstanceData(**sample['pred_instances'])
        samples.append(data)
    evaluator.process(samples)
    with contextlib.redirect_stdout(io.StringIO()):
        metrics = evaluator.evaluate(len(samples))
    assert metrics['coco_panoptic/PQ'] == pytest.approx(100, abs=1e-9)
    assert metrics['coco_panoptic/AP'] == pytest.approx(100, abs=1e-9)
    assert 'coco_panoptic/mIoU' not in metrics  # no SemanticIoUMetric


# ------------------------------------------------- what the ranks gather


def test_two_ranks_gather_only_each_metrics_part(case_dir):
    split = case_dir['split']
    samples = perturbed_samples(split, case_dir['pairs'], seed=7)
    rank0, rank1, single = split.metrics(), split.metrics(), split.metrics()
    for metrics, share in ((rank0, samples[::2]), (rank1, samples[1::2])):
        shared = [dict(s) for s in share]
        for metric in metrics:
            metric.process({}, shared)
        # What evaluate() does on each rank before mmengine's
        # collect_results ships the records: wait for the background jobs.
        for metric in metrics:
            metric.finish_jobs(metric.results)
    merged, one_pass = {}, {}
    single_samples = [dict(s) for s in samples]
    for metric in single:
        metric.process({}, single_samples)
    for metric0, metric1, alone in zip(rank0, rank1, single):
        gathered = pickle.loads(pickle.dumps(metric0.results +
                                             metric1.results))
        for record in gathered:
            assert set(record) == {'image_id', 'height', 'width'} | \
                RECORD_KEYS[type(metric0)]
        with contextlib.redirect_stdout(io.StringIO()):
            merged.update(metric0.compute_metrics(gathered))
            # BaseMetric.evaluate: collect_results, compute_metrics, prefix
            one_pass.update(alone.evaluate(len(samples)))
    assert {'PQ', 'AP', 'mIoU'} <= set(merged)
    assert one_pass == {f'coco_panoptic/{k}': v for k, v in merged.items()}


def test_the_mask_ap_record_keeps_only_the_thing_segments(coco_split):
    pq, ap = coco_split.metrics()[:2]
    samples = coco_split.perfect_samples()
    for metric in (pq, ap):
        metric.process({}, samples)
        metric.finish_jobs(metric.results)
    things = {c['id'] for c in ap.class_maps.thing_categories}
    for pq_record, ap_record in zip(pq.results, ap.results):
        thing_segments = [s for s in pq_record['gt_segments']
                          if s['category_id'] in things]
        assert 0 < len(thing_segments) < len(pq_record['gt_segments'])
        assert [s['segmentation'] for s in thing_segments] == [
            s['segmentation'] for s in ap_record['gt_instances']]
        # what a rank ships per image is well under a byte per pixel
        for record in (pq_record, ap_record):
            size = len(pickle.dumps(record))
            assert size < record['height'] * record['width'] / 5, size


def _rank_worker(rank, world_size, root, ann_file, seg_prefix, meta,
                 samples):
    """One rank of a gloo run: evaluate its share of ``samples`` with an
    evaluator of the three metrics and write what it returned."""
    import torch.distributed as torch_dist
    torch.set_num_threads(1)
    os.chdir(root)  # mmengine's collect_results writes .dist_test/ here
    torch_dist.init_process_group(
        'gloo', init_method=f'file://{root}/rendezvous', rank=rank,
        world_size=world_size)
    try:
        evaluator = Evaluator([
            metric_type(ann_file=ann_file, seg_prefix=seg_prefix)
            for metric_type in METRIC_TYPES])
        evaluator.dataset_meta = meta
        evaluator.process(samples[rank::world_size])
        local = [len(metric.results) for metric in evaluator.metrics]
        with contextlib.redirect_stdout(io.StringIO()):
            metrics = evaluator.evaluate(len(samples))
        with open(osp.join(root, f'rank{rank}.json'), 'w') as f:
            json.dump(dict(local=local, metrics=metrics), f)
    finally:
        torch_dist.destroy_process_group()


def test_distributed_run_gathers_records_to_rank_zero(case_dir, tmp_path):
    """Two gloo processes, each with half of the images: mmengine gathers
    each metric's compact records to rank 0, which scores them once and
    broadcasts the metrics; every rank gets the single-process numbers."""
    split = case_dir['split']
    samples = perturbed_samples(split, case_dir['pairs'], seed=10)
    evaluator = Evaluator(split.metrics())
    evaluator.process([dict(s) for s in samples])
    with contextlib.redirect_stdout(io.StringIO()):
        expected = evaluator.evaluate(len(samples))
    torch.multiprocessing.spawn(
        _rank_worker, nprocs=2, join=True,
        args=(2, str(tmp_path), split.ann_file, split.seg_prefix, split.meta,
              samples))
    for rank in range(2):
        with open(tmp_path / f'rank{rank}.json') as f:
            result = json.load(f)
        assert result['local'] == [len(samples[rank::2])] * 3
        assert result['metrics'] == pytest.approx(expected, abs=1e-9)
    assert {'coco_panoptic/PQ', 'coco_panoptic/AP',
            'coco_panoptic/mIoU'} <= set(expected)


# ------------------------------------------- the encoding left in a sample


def test_a_dump_listed_after_the_metrics_keeps_no_encoding(coco_split):
    samples = [dict(s) for s in coco_split.perfect_samples()]
    for metric in coco_split.metrics():
        metric.process({}, samples)
    assert all(ENCODING_KEY in s for s in samples)
    # mmdet's DumpDetResults pickles the sample dicts as they are ...
    assert pickle.loads(pickle.dumps(samples[0]))[ENCODING_KEY] is None
    # ... mmpfcn's compact dump leaves the key out
    assert ENCODING_KEY not in encode_prediction(samples[0])


def test_a_sample_is_shared_only_within_one_pass_and_one_dict(
        case_dir, monkeypatch):
    split = case_dir['split']
    samples = [dict(s) for s in split.perfect_samples()]
    asked = _count_jobs(monkeypatch)
    first = split.metric()
    first.process({}, samples)
    with contextlib.redirect_stdout(io.StringIO()):
        first.evaluate(len(samples))
    assert len(asked) == 2 * len(samples)
    # the same dicts in the next pass, and copies of them: encoded anew
    again = split.metric()
    again.process({}, samples)
    again.process({}, [dict(s) for s in samples])
    assert len(asked) == 6 * len(samples)


def test_metrics_of_another_annotation_file_do_not_share(case_dir, tmp_path,
                                                         monkeypatch):
    split = case_dir['split']
    other_file = tmp_path / 'copy.json'
    with open(split.ann_file) as f:
        other_file.write_text(f.read())
    other = PanopticMaskAPMetric(ann_file=str(other_file),
                                 seg_prefix=split.seg_prefix)
    other.dataset_meta = split.meta
    asked = _count_jobs(monkeypatch)
    metrics = [split.metric(), other, split.metric(SemanticIoUMetric)]
    results = evaluate(metrics, split.perfect_samples())
    assert results['AP'] == pytest.approx(100) and results['mIoU'] == 100
    gt_jobs = [part for _, part in asked if part == 'gt']
    assert len(gt_jobs) == 2 * len(split.images)
