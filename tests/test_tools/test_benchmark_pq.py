"""``tools/analysis_tools/benchmark_pq.py`` on a few images: both parts run
and every method it times gives the reference's PQ (the timings themselves
are not tested)."""
import re

import pytest


def _printed_gap(printed: str, label: str) -> float:
    match = re.search(re.escape(label) + r' = (\S+)', printed)
    assert match, printed
    return float(match.group(1))


@pytest.mark.parametrize('part', ['a', 'b'])
def test_benchmark_runs_and_methods_agree(load_tool, tmp_path, capsys, part):
    benchmark = load_tool('analysis_tools/benchmark_pq.py')
    benchmark.main([
        '--part', part, '--num-images', '4', '--repeat', '1', '--nproc',
        '1', '--forward-ms', '1', '--work-dir',
        str(tmp_path)
    ])
    printed = capsys.readouterr().out
    if part == 'a':
        assert _printed_gap(printed,
                            '|PQ(pq_eval, hotcoco) - PQ(panopticapi)|') < 1e-9
        methods = ['panopticapi pq_compute', 'pq_eval --engine hotcoco']
    else:
        # mmdet's CocoPanopticMetric and every variant of ours
        assert _printed_gap(printed, 'max |PQ - PQ(mmdet)|') < 1e-9
        methods = [
            'mmdet CocoPanopticMetric', 'PanopticQualityMetric (hotcoco, '
            'threads=1)', 'threads=0', 'GT PNGs, 1st pass',
            'GT PNGs, 2nd pass: cached', 'engine panopticapi',
            '1 ms forward per image, not counted'
        ]
        assert re.search(r'RLEs\) [\d.]+ ms, mmdet .* [\d.]+ ms', printed)
    table = printed.split(f'({part})')[-1]
    assert '4 images, nproc 1, best of 1' in table
    rows = [line for line in table.splitlines() if line.endswith('x')]
    assert rows[0].split('|')[-1].strip() == '1.0x'  # the reference
    for method in methods:
        assert sum(method in row for row in rows) >= 1, (method, table)
