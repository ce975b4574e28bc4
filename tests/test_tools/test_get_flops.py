"""get_flops.py: mmengine's FLOP count of the fully convolutional part,
deformable convs counted as convs of the same shape."""
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
R50 = osp.join(ROOT, 'configs/panoptic_fcn/'
               'panoptic-fcn_r50_fpn_3x_coco-panoptic.py')
NO_DCN = {'model.panoptic_head.kernel_generator.position_dcn': False}


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('analysis_tools/get_flops.py')


def test_counts_every_part_and_the_deformable_convs(tool):
    dcn = tool.count_flops(R50, [100, 120])
    plain = tool.count_flops(R50, [100, 120], NO_DCN)
    assert dcn['shape'] == [128, 128]  # padded to 32
    assert all(flops > 0 for flops in dcn['parts'].values())
    assert sum(dcn['parts'].values()) == dcn['flops']
    # counted: the same 256-channel convs plus their 27-channel offset /
    # mask convs (uncounted DCNs would leave only the small offset convs,
    # far fewer FLOPs than the plain 256-channel convs)
    extra = dcn['parts']['kernel generator'] - \
        plain['parts']['kernel generator']
    assert 0 < extra < plain['parts']['kernel generator'] / 5
    assert dcn['parts']['backbone'] == plain['parts']['backbone']
    assert dcn['params'] > 30e6


def test_main_prints_the_table(tool, capsys):
    assert tool.main([R50, '--shape', '64', '64', '--table']) == 0
    out = capsys.readouterr().out
    assert 'Input shape: (1, 3, 64, 64)' in out and 'GFLOPs' in out
    assert 'kernel_generator' in out
    assert tool.main([R50, '--shape', '16', '64']) == 1
