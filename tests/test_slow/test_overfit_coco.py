"""Overfitting the two real COCO images reaches PQ > 80: evidence that the
labels, targets, inference and panoptic merge are right on real data
(``tools/analysis_tools/overfit_check.py``, ~10 minutes on 2 CPU cores)."""
import json

import pytest

MIN_PQ = 80.0


@pytest.mark.slow
def test_overfit_two_coco_images(load_tool, coco_sample_dir, tmp_path,
                                 capsys):
    overfit_check = load_tool('analysis_tools/overfit_check.py')
    status = overfit_check.main([
        '--work-dir', str(tmp_path), '--data-root', coco_sample_dir,
        '--min-pq', str(MIN_PQ)
    ])
    printed = capsys.readouterr().out
    with open(tmp_path / 'overfit_check.json') as f:
        result = json.load(f)

    assert result['PQ'] > MIN_PQ, result
    assert status == 0 and result['passed']
    # things and stuff are both learned, and both reported
    for key in ('PQ', 'PQ_th', 'PQ_st'):
        assert f'{key} {result[key]:.1f}' in printed
    assert result['PQ_th'] > 0 and result['PQ_st'] > 0
