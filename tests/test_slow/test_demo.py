"""`make demo`'s full run: the demo config trained from scratch on the
synthetic dataset reaches PQ >= 60 on its validation split (about 20
minutes on 2 CPU cores)."""
import pytest

MIN_PQ = 60.0


@pytest.mark.slow
def test_demo_reaches_min_pq(load_tool, tmp_path):
    run_demo = load_tool('misc/run_demo.py')
    metrics = run_demo.main([
        '--data-root', str(tmp_path / 'data'), '--work-dir',
        str(tmp_path / 'work')
    ])
    print({k: round(v, 2) for k, v in metrics.items()
           if isinstance(v, float)})
    assert metrics['coco_panoptic/PQ'] >= MIN_PQ
    # both halves of the task are learned
    assert metrics['coco_panoptic/PQ_th'] > 0
    assert metrics['coco_panoptic/PQ_st'] > 0
