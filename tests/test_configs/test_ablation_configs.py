"""The ablation configs (configs/panoptic_fcn/ablations/, the paper's
Tables 1-10): each builds, runs one loss step and one predict on CPU (tiny
inputs, random weights), changes only the options of its table, and the
folder README lists every row with a config that exists."""
import glob
import os
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config

from mmpfcn.registry import MODELS
from mmpfcn.testing.panoptic_samples import check_loss_step_and_predict
from mmpfcn.utils.setup_env import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

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
    7: ('panoptic_head.thing_generator.pos_num',
        'panoptic_head.thing_generator.dice_weighting'),
    10: ('panoptic_head.type', 'panoptic_head.upper_bound'),
}
# the paper's numbers of a row: every column of Tables 1-10
COLUMNS = ('PQ', 'PQ_th', 'PQ_st', 'AP', 'mIoU')
NUMBERS_IN_HEADER = re.compile(r'\(paper ((?:[A-Za-z_]+ \d+\.\d(?:, )?)+)\)')
# the transcription of the paper's tables (the project's shared docs, next
# to the repository); MMPFCN_PAPER_TABLES points elsewhere
PAPER_TABLES = os.environ.get(
    'MMPFCN_PAPER_TABLES',
    osp.join(ROOT, '..', 'shared', 'docs', 'PAPER_TABLES.md'))
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


def header_numbers(name: str) -> dict:
    """The paper's numbers named in the config's header comment,
    ``(paper PQ 38.4, PQ_th 43.4, ...)``, as ``{column: 'xx.x'}``."""
    with open(osp.join(ABLATION_DIR, name)) as f:
        header = ' '.join(
            line.lstrip('# ').strip() for line in f
            if line.startswith('#'))
    match = NUMBERS_IN_HEADER.search(header)
    assert match, f'{name}: header comment names no "(paper PQ xx.x, ...)"'
    numbers = dict(item.split(' ') for item in match.group(1).split(', '))
    assert tuple(numbers) == COLUMNS, \
        f'{name}: header names {tuple(numbers)}, expected {COLUMNS}'
    return numbers


def markdown_tables(text: str) -> dict:
    """``{table number: (header cells, [row cells, ...])}`` of every
    ``## Table N:`` section of a markdown file."""
    tables = {}
    for section in re.split(r'^## ', text, flags=re.M)[1:]:
        match = re.match(r'Table (\d+):', section)
        if not match:
            continue
        lines = [line for line in section.splitlines()
                 if line.startswith('|')]
        header = [c.strip() for c in lines[0].strip('|').split('|')]
        rows = [[c.strip() for c in line.strip('|').split('|')]
                for line in lines[2:]]  # below the header and |---|
        tables[int(match.group(1))] = (header, rows)
    return tables


def row_numbers(header: list, cells: list) -> dict:
    return {column: cells[header.index(column)] for column in COLUMNS}


def readme_tables() -> dict:
    """``{table number: [(numbers, config path relative to the folder),
    ...]}`` read from the folder README, numbers ``{column: 'xx.x'}``."""
    with open(osp.join(ABLATION_DIR, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    tables = {}
    for table, (header, rows) in markdown_tables(text).items():
        tables[table] = []
        for cells in rows:
            links = CONFIG_LINK.findall(' | '.join(cells))
            assert len(links) == 1, f'README row without one config: {cells}'
            tables[table].append((row_numbers(header, cells), links[0]))
    return tables


def test_readme_lists_every_row_and_config():
    tables = readme_tables()
    assert {t: len(rows) for t, rows in tables.items()} == ROWS_PER_TABLE
    assert sum(len(rows) for rows in tables.values()) == 40
    listed = set()
    for table, rows in tables.items():
        for numbers, path in rows:
            assert osp.isfile(osp.join(ABLATION_DIR, path)), \
                f'README Table {table} points at a missing config {path}'
            assert all(re.fullmatch(r'\d+\.\d', v)
                       for v in numbers.values()), \
                f'README Table {table}, {path}: a column is not filled: ' \
                f'{numbers}'
            if '/' not in path:
                listed.add(path)
                assert numbers == header_numbers(path), \
                    f'README Table {table}: {numbers} but {path} says ' \
                    f'{header_numbers(path)}'
    assert listed == set(CONFIGS), \
        f'configs not in the README: {sorted(set(CONFIGS) - listed)}'


def test_readme_numbers_are_the_papers():
    """Row by row, the README's numbers of Tables 1-10 are those of the
    transcription of the paper's tables."""
    if not osp.isfile(PAPER_TABLES):
        pytest.skip(f'{PAPER_TABLES} not found (set MMPFCN_PAPER_TABLES)')
    with open(PAPER_TABLES, encoding='utf-8') as f:
        paper = markdown_tables(f.read())
    for table, rows in readme_tables().items():
        header, paper_rows = paper[table]
        assert len(rows) == len(paper_rows), f'Table {table}: row count'
        for index, ((numbers, path), cells) in enumerate(
                zip(rows, paper_rows)):
            assert numbers == row_numbers(header, cells), \
                f'README Table {table} row {index + 1} ({path}): ' \
                f'{numbers}, the paper {row_numbers(header, cells)}'


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
