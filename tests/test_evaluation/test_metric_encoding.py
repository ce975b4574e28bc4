"""The per-image encoding behind the panoptic metrics: background threads,
the GT from the test pipeline or cached across passes, the GC pause."""
import contextlib
import gc
import io
import os.path as osp
import pickle

import pytest

from mmpfcn.evaluation.functional import PanopticFormatError
from mmpfcn.testing.metric_cases import evaluate, perturbed_samples


def _forget_results_and_pngs(metrics):
    """What BaseMetric.evaluate does after a pass (clear the results), and
    a GT folder whose PNGs any read would miss."""
    for metric in metrics:
        metric.results.clear()
        metric.gt.seg_prefix = '/nonexistent'


def test_second_pass_reuses_the_gt_without_reading_pngs(case_dir):
    split = case_dir['split']
    samples = perturbed_samples(split, case_dir['pairs'], seed=6)
    metrics = split.metrics()
    first = evaluate(metrics, samples)
    _forget_results_and_pngs(metrics)
    assert evaluate(metrics, samples) == first  # new dicts: a new pass
    assert 0 < first['mIoU'] < 100
    uncached = split.metrics(cache_gt=False)
    evaluate(uncached, samples)
    _forget_results_and_pngs(uncached)
    with pytest.raises(FileNotFoundError, match='image 0 .*not found'):
        evaluate(uncached, samples[:1])


@pytest.mark.parametrize('threads', [0, 3])
def test_background_threads_give_the_same_records(case_dir, threads):
    split = case_dir['split']
    samples = perturbed_samples(split, case_dir['pairs'], seed=11)
    default = split.metrics()  # one thread
    other = split.metrics(threads=threads)
    for metrics in (default, other):
        shared = [dict(s) for s in samples]
        for metric in metrics:
            metric.process({}, shared)
        # a bounded backlog: process() waits beyond 4 images per thread
        encoder = metrics[0].encoder  # the first one listed encodes
        assert len(encoder._jobs) <= 4 * max(1, encoder.threads)
        for metric in metrics:
            metric.finish_jobs(metric.results)
        assert all(job.done() for jobs in encoder._jobs.values()
                   for job in jobs)
    for one, the_other in zip(default, other):
        assert pickle.dumps(one.results) == pickle.dumps(the_other.results)
    num_sem = 1 + len(split.meta['stuff_classes'])
    assert all('pending' not in r and r['sem_stats'].shape == (3, num_sem)
               for r in other[2].results)


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
    samples = perturbed_samples(split, case_dir['pairs'], seed=12)
    from_png = split.metrics(threads=threads)
    # no PNG read: the folder does not exist
    from_pipeline = split.metrics(threads=threads, cache_gt=True)
    for metrics, inputs in ((from_png, samples),
                            (from_pipeline, with_pipeline_gt(split,
                                                             samples))):
        for metric in metrics:
            if metrics is from_pipeline:
                metric.gt.seg_prefix = '/nonexistent'
            metric.process({}, inputs)
        for metric in metrics:
            metric.finish_jobs(metric.results)
    for metric, reference in zip(from_pipeline, from_png):
        assert pickle.dumps(metric.results) == pickle.dumps(
            reference.results)
        assert not metric.gt._cache  # the next pass brings them again
    results = evaluate(from_pipeline, [])
    assert results == evaluate(from_png, [])
    assert 0 < results['PQ'] < 100 and 0 < results['mIoU'] < 100


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
    from mmpfcn.evaluation.metrics import panoptic_quality_metric as module
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


def test_background_error_is_raised_by_the_process_call_that_waits(
        case_dir):
    split = case_dir['split']
    samples = split.perfect_samples()
    samples[0]['pred_panoptic_seg']['sem_seg'][0, 0, 0] = 99
    metric = split.metric(threads=1)
    metric.process({}, samples[:4])  # the backlog holds 4 images
    with pytest.raises(ValueError, match=r'image 0 .*\[99\]'):
        metric.process({}, samples[4:6])
