"""Our PQ against the official Cityscapes panoptic evaluation
(``cityscapesscripts.evaluation.evalPanopticSemanticLabeling``) on a small
generated case in the Cityscapes panoptic format."""
import contextlib
import io
import json

import numpy as np
import pytest
from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import (
    evaluatePanoptic,
)
from cityscapesscripts.helpers.labels import labels as cs_labels
from panoptic_cases import annotations, make_case, write_split

from mmpfcn.evaluation.functional import evaluate_panoptic

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
