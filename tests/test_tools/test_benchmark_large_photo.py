"""benchmark_large_photo.py on two small photos: the stage table, bytes per
pixel and the slope."""
import os
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(ROOT, 'configs/panoptic_fcn/'
                       'panoptic-fcn_r18_fpn_synthetic-panoptic.py')


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('analysis_tools/benchmark_large_photo.py')


def test_stage_table_per_photo_and_slope(tool, tmp_path, capsys):
    assert tool.main([DEMO_CONFIG, '--size', '96', '64', '--size', '192',
                      '128', '--out-dir', str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split('|')[1].strip(): line.split('|')[2:-1]
            for line in out.splitlines() if line.startswith('| ')}
    assert rows['stage'] == [' photo_96x64.jpg (MB) ',
                             ' photo_192x128.jpg (MB) ']
    for stage in tool.STAGES + ('all', 'all, bytes per pixel'):
        assert len(rows[stage]) == 2, stage
        float(rows[stage][0])
    assert 'slope from photo_96x64.jpg to photo_192x128.jpg' in out
    # the picture and the PNG + JSON of both photos were written
    assert len(os.listdir(tmp_path / 'vis')) == 2
    assert len(os.listdir(tmp_path / 'preds')) == 4
