"""Plot training curves from mmengine's ``scalars.json`` logs.

``python tools/analysis_tools/analyze_logs.py plot_curve
WORK_DIR/<timestamp>/vis_data/scalars.json [more.json ...]
--keys loss loss_seg_th coco_panoptic/PQ --out curves.png``

Every key gets its own panel (loss terms and PQ have different scales),
plotted against the logged ``step`` (the iteration); several logs are
drawn as one line each with their ``--legend`` names. A key may be given
by its last component (``PQ`` finds ``coco_panoptic/PQ``).
"""
import argparse
import sys
from typing import List, Optional

from mmpfcn.visualization.training_curves import plot_curve


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Analyse mmengine training logs')
    commands = parser.add_subparsers(dest='command', required=True)
    plot = commands.add_parser(
        'plot_curve', help='plot keys of scalars.json logs over iterations')
    plot.add_argument('logs', nargs='+', help='scalars.json file(s)')
    plot.add_argument('--keys', nargs='+', default=['loss'],
                      help='keys to plot (default: loss)')
    plot.add_argument('--out', required=True, help='output image file')
    plot.add_argument('--legend', nargs='+', help='a name per log')
    plot.add_argument('--title', help='figure title')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        keys = plot_curve(args.logs, args.keys, args.out, args.legend,
                          args.title)
    except (OSError, KeyError, ValueError) as err:
        message = err.args[0] if isinstance(err, KeyError) else err
        print(f'analyze_logs: error: {message}', file=sys.stderr)
        return 1
    print(f'{", ".join(keys)} plotted to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
