"""The ablation configs (configs/panoptic_fcn/ablations/, the paper's
Tables 1-10): each builds, runs one loss step and one predict on CPU (tiny
inputs, random weights), changes only the options of its table, and the
folder README lists every row with a config that exists."""
import glob
import os.path as osp
import re
import sys

import pytest
import torch
from mmengine.config import Config

from mmpfcn.registry import MODELS
from mmpfcn.utils.setup_env import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tests', 'test_models'))
from panoptic_samples import check_loss_step_and_predict  # noqa: E402

ABLATION_DIR = osp.join(ROOT, 'configs', 'panoptic_fcn', 'ablations')
CONFIGS = sorted(
    osp.basename(p) for p in glob.glob(osp.join(ABLATION_DIR, '*.py')))
BASELINE_1X = osp.join(ROOT, 'configs', 'panoptic_fcn',
                       'panoptic-fcn_r50_fpn_1x_coco-panoptic.py')
BASELINE_3X = osp.join(ROOT, 'configs', 'panoptic_fcn',
                       'panoptic-fcn_r50_fpn_3x_coco-panoptic.py')

# rows of Tables 1-10 in the paper
ROWS_PER_TABLE = {1: 5, 2: 4, 3: 6, 4: 4, 5: 4, 6: 3, 7: 6, 8: 3, 9: 2,
                  10: 3}
# the model options (dotted paths under `model`) each table may change
TABLE_KNOBS = {
    1: ('panoptic_head.kernel_generator.position_num_convs',
        'panoptic_head.kernel_generator.kernel_num_convs',
        'panoptic_head.kernel_generator.position_dcn',
        'panoptic_head.kernel_generator.kernel_coord',
        'panoptic_head.feature_encoder.with_coord'),
    2: ('panoptic_head.kernel_generator.kernel_coord',
        'panoptic_head.feature_encoder.with_coord'),
    3: ('test_cfg.fusion_sim_thr', 'test_cfg.fusion_class_aware'),
    4: ('test_cfg.use_fusion', 'test_cfg.use_matrix_nms'),
    5: ('panoptic_head.feature_encoder.feat_channels', ),
    6: ('semantic_fpn.mode', ),
    7: ('panoptic_head.pos_num', 'panoptic_head.dice_weighting'),
    10: ('panoptic_head.type', 'panoptic_head.upper_bound'),
}
PQ_IN_HEADER = re.compile(r'\(paper PQ (\d+\.\d)[,)]')
CONFIG_LINK = re.compile(r'\[`[^`]+\.py`\]\(([^)]+\.py)\)')


def table_of(name: str) -> int:
    return int(re.match(r'tab(\d+)_', name).group(1))


def load(name: str) -> Config:
    return Config.fromfile(osp.join(ABLATION_DIR, name))


def flatten(cfg: dict, prefix: str = '') -> dict:
    """``{'a': {'b': 1}}`` -> ``{'a.b': 1}``."""
    flat = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = value
    return flat


def header_pq(name: str) -> str:
    """The paper PQ named in the config's header comment."""
    with open(osp.join(ABLATION_DIR, name)) as f:
        header = ' '.join(
            line.lstrip('# ').strip() for line in f
            if line.startswith('#'))
    match = PQ_IN_HEADER.search(header)
    assert match, f'{name}: header comment names no "(paper PQ xx.x)"'
    return match.group(1)


def readme_tables() -> dict:
    """``{table number: [(PQ, config path relative to the folder), ...]}``
    read from the folder README."""
    with open(osp.join(ABLATION_DIR, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    tables = {}
    for section in re.split(r'^## ', text, flags=re.M)[1:]:
        match = re.match(r'Table (\d+):', section)
        if not match:
            continue
        lines = [line for line in section.splitlines()
                 if line.startswith('|')]
        header = [c.strip() for c in lines[0].strip('|').split('|')]
        rows = []
        for line in lines[2:]:  # below the header and the |---| line
            links = CONFIG_LINK.findall(line)
            assert len(links) == 1, f'README row without one config: {line}'
            cells = [c.strip() for c in line.strip('|').split('|')]
            rows.append((cells[header.index('PQ')], links[0]))
        tables[int(match.group(1))] = rows
    return tables


def test_readme_lists_every_row_and_config():
    tables = readme_tables()
    assert {t: len(rows) for t, rows in tables.items()} == ROWS_PER_TABLE
    assert sum(len(rows) for rows in tables.values()) == 40
    listed = set()
    for table, rows in tables.items():
        for pq, path in rows:
            assert osp.isfile(osp.join(ABLATION_DIR, path)), \
                f'README Table {table} points at a missing config {path}'
            if '/' not in path:
                listed.add(path)
                assert pq == header_pq(path), \
                    f'README Table {table}: PQ {pq} but {path} says ' \
                    f'{header_pq(path)}'
    assert listed == set(CONFIGS), \
        f'configs not in the README: {sorted(set(CONFIGS) - listed)}'


@pytest.mark.parametrize('name', CONFIGS)
def test_config_changes_only_its_tables_options(name):
    cfg = load(name)
    base = Config.fromfile(
        BASELINE_3X if '_3x_' in name else BASELINE_1X)
    # the data pipeline, schedule and runtime are the base model's
    for key in set(cfg.keys()) | set(base.keys()):
        if key != 'model':
            assert cfg.get(key) == base.get(key), f'{name} changes {key}'
    ours, theirs = flatten(cfg.model.to_dict()), flatten(
        base.model.to_dict())
    changed = {k for k in set(ours) | set(theirs)
               if ours.get(k, '<unset>') != theirs.get(k, '<unset>')}
    assert changed, f'{name} is its base model (point the README at it)'
    assert changed <= set(TABLE_KNOBS[table_of(name)]), \
        f'{name} changes {sorted(changed)}'


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_trains_and_predicts(name):
    register_all_modules()
    cfg = load(name)
    cfg.model.backbone.init_cfg = None  # no download
    torch.manual_seed(0)
    check_loss_step_and_predict(MODELS.build(cfg.model))
