"""Fixtures of the evaluation tests: the COCO sample and six generated
ground-truth / prediction pairs, each a
:class:`~mmpfcn.testing.metric_cases.Split`."""
import json
import os.path as osp

import pytest

from mmpfcn.testing.metric_cases import Split
from mmpfcn.testing.panoptic_cases import (
    CASE_CATEGORIES,
    make_case,
    write_split,
)


@pytest.fixture(scope='module')
def coco_split(coco_sample_dir):
    with open(osp.join(coco_sample_dir, 'panoptic_coco_categories.json')) as f:
        categories = json.load(f)
    return Split(osp.join(coco_sample_dir, 'panoptic_examples.json'),
                 osp.join(coco_sample_dir, 'panoptic'), categories)


@pytest.fixture(scope='module')
def case_dir(tmp_path_factory):
    """Six generated GT/prediction pairs written as COCO panoptic."""
    root = str(tmp_path_factory.mktemp('cases'))
    pairs = [make_case(seed, height=48 + 8 * seed, width=64)
             for seed in range(6)]
    gt_json, gt_dir = write_split(root, 'gt', pairs)
    pred_json, pred_dir = write_split(root, 'pred', pairs)
    return dict(pairs=pairs, gt=(gt_json, gt_dir), pred=(pred_json, pred_dir),
                split=Split(gt_json, gt_dir, CASE_CATEGORIES))
