"""A ``test_cfg`` / ``train_cfg`` key that no component reads stops the
detector build instead of leaving a default silently in force; the message
is the config checker's (:func:`unknown_key_errors`)."""
import glob
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from mmpfcn.models.inference_cfg import DEFAULT_TEST_CFG, TEST_CFG_KEYS
from mmpfcn.registry import MODELS
from mmpfcn.utils.config_keys import ConfigKeyError, unknown_key_errors
from mmpfcn.utils.setup_env import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs/panoptic_fcn/'
                'panoptic-fcn_r18_fpn_synthetic-panoptic.py')


def test_known_keys_are_what_the_heads_read():
    assert set(DEFAULT_TEST_CFG) == TEST_CFG_KEYS
    assert {'merge_mode', 'merge_thing_thr', 'stuff_area_limit',
            'fusion_sim_thr', 'mask_thr'} < TEST_CFG_KEYS
    # every key of every config's test_cfg is read by some component
    for path in glob.glob(osp.join(ROOT, 'configs/panoptic_fcn/**/*.py'),
                          recursive=True):
        test_cfg = Config.fromfile(path).model.get('test_cfg')
        assert unknown_key_errors(test_cfg, TEST_CFG_KEYS, 'PanopticFCN') \
            == [], path


def test_misspelt_test_cfg_key_via_train_cli(load_tool, monkeypatch,
                                             tmp_path):
    train = load_tool('train.py')
    monkeypatch.setattr(sys, 'argv', [
        'train.py', DEMO, '--work-dir',
        str(tmp_path), '--cfg-options', 'model.test_cfg.fusion_sim_thres=0.5'
    ])
    register_all_modules()
    # the config checker's error (the model build it runs): no traceback
    with pytest.raises(SystemExit) as err:
        train.main()
    assert str(err.value) == (
        "tools/train.py: error: PanopticFCN takes no test_cfg key "
        "'fusion_sim_thres'; did you mean 'fusion_sim_thr'?")


def test_unknown_keys_at_build():
    register_all_modules()
    cfg = Config.fromfile(DEMO)
    cfg.model.test_cfg.update(merge_thing_thresh=0.3, colour='red')
    with pytest.raises(ConfigKeyError) as err:
        MODELS.build(cfg.model)
    # every unknown key is named; a suggestion only where one is close
    assert str(err.value) == (
        "PanopticFCN takes no test_cfg key 'merge_thing_thresh'; did you "
        "mean 'merge_thing_thr'?; PanopticFCN takes no test_cfg key "
        "'colour'")

    cfg = Config.fromfile(DEMO)
    cfg.model.train_cfg = dict(pos_num=5)
    with pytest.raises(ConfigKeyError, match="^PanopticFCN takes no "
                       "train_cfg key 'pos_num'$"):
        MODELS.build(cfg.model)
    cfg.model.train_cfg = dict()
    MODELS.build(cfg.model)
