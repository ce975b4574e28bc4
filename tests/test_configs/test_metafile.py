"""The model zoo files: model-index.yml -> configs/panoptic_fcn/metafile.yml
in mmdet's schema, one model per config of configs/panoptic_fcn/, with the
numbers of the README table of that folder."""
import glob
import os.path as osp
import re

import pytest
import yaml

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ZOO = osp.join(ROOT, 'configs', 'panoptic_fcn')
# README columns -> (metafile task, metric)
COLUMNS = {
    'PQ': ('Panoptic Segmentation', 'PQ'),
    'SQ': ('Panoptic Segmentation', 'SQ'),
    'RQ': ('Panoptic Segmentation', 'RQ'),
    'PQ_th': ('Panoptic Segmentation', 'PQ_th'),
    'PQ_st': ('Panoptic Segmentation', 'PQ_st'),
    'AP': ('Instance Segmentation', 'mask AP'),
    'mIoU': ('Semantic Segmentation', 'mIoU'),
}
TASKS = {task for task, _ in COLUMNS.values()}


def load_index():
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    collections, models = [], []
    for path in index['Import']:
        with open(osp.join(ROOT, path)) as f:
            meta = yaml.safe_load(f)
        collections += meta.get('Collections', [])
        models += meta.get('Models', [])
    return collections, models


def readme_table():
    """config stem -> (dataset, {column: value or None}) of the README's
    results table (the one with a download column)."""
    with open(osp.join(ZOO, 'README.md'), encoding='utf-8') as f:
        lines = f.read().splitlines()
    header = next(i for i, line in enumerate(lines)
                  if line.startswith('| config | dataset |'))
    names = [c.strip() for c in lines[header].strip('|').split('|')]
    rows = {}
    for line in lines[header + 2:]:
        if not line.startswith('|'):
            break
        cells = dict(zip(names, (c.strip() for c in
                                 line.strip('|').split('|'))))
        stem = re.fullmatch(r'\[([^\]]+)\]\(\1\.py\)', cells['config'])
        assert stem, f'README row without a config link: {line}'
        assert stem.group(1) not in rows, f'{stem.group(1)} listed twice'
        rows[stem.group(1)] = (cells['dataset'], {
            col: None if cells[col] == '-' else float(cells[col])
            for col in COLUMNS
        })
    return rows


def test_every_config_has_one_model_and_every_model_a_config():
    _, models = load_index()
    names = [model['Name'] for model in models]
    assert len(names) == len(set(names)), 'duplicate model names'
    for model in models:
        assert osp.isfile(osp.join(ROOT, model['Config'])), model['Config']
        assert model['Config'] == f'configs/panoptic_fcn/{model["Name"]}.py'
    configs = sorted(
        osp.relpath(p, ROOT) for p in glob.glob(osp.join(ZOO, '*.py')))
    assert sorted(model['Config'] for model in models) == configs


def test_schema():
    collections, models = load_index()
    collection_names = {c['Name'] for c in collections}
    for collection in collections:
        assert osp.isfile(osp.join(ROOT, collection['README']))
        assert collection['Paper']['URL'].startswith('https://')
    for model in models:
        assert model['In Collection'] in collection_names, model['Name']
        assert isinstance(model['Metadata']['Training Data'], str)
        assert model['Metadata']['Iterations'] > 0
        for result in model.get('Results', []):
            assert set(result) == {'Task', 'Dataset', 'Metrics'}
            assert result['Task'] in TASKS, result
            assert all(isinstance(v, float)
                       for v in result['Metrics'].values()), result
        # only a checkpoint mmpfcn loads as it is may be a Weights entry
        weights = model.get('Weights')
        assert weights is None or weights.startswith('https://'), weights


def test_metrics_are_those_of_the_readme():
    _, models = load_index()
    table = readme_table()
    with_results = {m['Name']: m for m in models if m.get('Results')}
    assert sorted(with_results) == sorted(table)
    for name, (dataset, row) in table.items():
        found = {}
        for result in with_results[name]['Results']:
            assert result['Dataset'] == dataset, name
            for metric, value in result['Metrics'].items():
                found[(result['Task'], metric)] = value
        expected = {COLUMNS[col]: value for col, value in row.items()
                    if value is not None}
        assert found == expected, name


@pytest.mark.parametrize('name, pq', [
    # reference README (COCO val) and the paper's Tables 12-14
    ('panoptic-fcn_r50_fpn_1x_coco-panoptic', 41.1),
    ('panoptic-fcn_r50_fpn_3x_coco-panoptic', 43.6),
    ('panoptic-fcn-star_r50_fpn_3x_coco-panoptic', 44.2),
    ('panoptic-fcn-star_r101-dconv-c3-c5_fpn_3x_coco-panoptic', 47.1),
    ('panoptic-fcn_r50_fpn_4xb8-65k_cityscapes-panoptic', 59.6),
    ('panoptic-fcn-star_r50_fpn_150k_mapillary-panoptic', 36.9),
])
def test_published_pq(name, pq):
    _, models = load_index()
    model = next(m for m in models if m['Name'] == name)
    assert model['Results'][0]['Metrics']['PQ'] == pq


def test_root_readme_links_exist():
    with open(osp.join(ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    links = re.findall(r'\]\(((?!https?://)[^)#]+)\)', text)
    assert links
    missing = [link for link in links
               if not osp.exists(osp.join(ROOT, link))]
    assert not missing, f'README.md links to missing files: {missing}'
