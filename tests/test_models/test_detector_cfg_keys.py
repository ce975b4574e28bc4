"""A ``test_cfg`` / ``train_cfg`` key that no component reads stops the
detector build instead of leaving a default silently in force."""
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from mmpfcn.models.detectors.panoptic_fcn import (
    TEST_CFG_KEYS,
    check_cfg_keys,
)
from mmpfcn.models.inference_cfg import DEFAULT_TEST_CFG
from mmpfcn.registry import MODELS
from mmpfcn.utils.setup_env import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs/panoptic_fcn/'
                'panoptic-fcn_r18_fpn_synthetic-panoptic.py')


def test_known_keys_are_what_the_heads_read():
    assert set(DEFAULT_TEST_CFG) == TEST_CFG_KEYS
    assert {'merge_mode', 'merge_thing_thr', 'stuff_area_limit',
            'fusion_sim_thr', 'mask_thr'} < TEST_CFG_KEYS
    # every key of the COCO configs' test_cfg is read by some component
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/models/panoptic_fcn_r50_fpn.py'))
    check_cfg_keys(cfg.model.test_cfg, TEST_CFG_KEYS, 'test_cfg')


def test_misspelt_test_cfg_key_via_train_cli(load_tool, monkeypatch,
                                             tmp_path):
    train = load_tool('train.py')
    monkeypatch.setattr(sys, 'argv', [
        'train.py', DEMO, '--work-dir',
        str(tmp_path), '--cfg-options', 'model.test_cfg.fusion_sim_thres=0.5'
    ])
    register_all_modules()
    with pytest.raises(ValueError) as err:
        train.main()
    message = str(err.value)
    assert "test_cfg key(s) 'fusion_sim_thres' (did you mean " \
        "'fusion_sim_thr'?) are read by no component" in message


def test_unknown_keys_at_build():
    register_all_modules()
    cfg = Config.fromfile(DEMO)
    cfg.model.test_cfg.update(merge_thing_thresh=0.3, colour='red')
    with pytest.raises(ValueError) as err:
        MODELS.build(cfg.model)
    message = str(err.value)
    # every unknown key is named; a suggestion only where one is close
    assert "'colour', 'merge_thing_thresh' (did you mean " \
        "'merge_thing_thr'?)" in message

    cfg = Config.fromfile(DEMO)
    cfg.model.train_cfg = dict(pos_num=5)
    with pytest.raises(ValueError, match="train_cfg key.s. 'pos_num' are "
                       'read by no component; known keys: none'):
        MODELS.build(cfg.model)
    cfg.model.train_cfg = dict()
    MODELS.build(cfg.model)
