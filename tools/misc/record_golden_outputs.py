"""Record the golden inference outputs that
``tests/test_models/test_golden_outputs.py`` compares the code against.

``python tools/misc/record_golden_outputs.py`` writes
``tests/data/golden_outputs/golden_outputs.npz``. The outputs are computed
by :mod:`mmpfcn.testing.golden_cases`, the code the test runs, on the
two COCO images of ``tests/data/coco_panoptic_sample``. Re-record only for
an intended change of behaviour: the file is what the code must keep
giving (e.g. while it is made faster).
"""
import argparse
import os
import os.path as osp
import time

import numpy as np

from mmpfcn.testing import golden_cases

PROJECT_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Record the golden inference outputs of the COCO sample')
    parser.add_argument('--out', default=golden_cases.GOLDEN_FILE,
                        help='the .npz file to write (default: %(default)s)')
    parser.add_argument(
        '--sample-dir',
        default=osp.join(PROJECT_ROOT, 'tests', 'data',
                         'coco_panoptic_sample'),
        help='folder with images/, panoptic/ and panoptic_examples.json '
        '(default: %(default)s)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not osp.isdir(args.sample_dir):
        raise SystemExit(f'sample folder {args.sample_dir} not found')
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    if not os.access(out_dir, os.W_OK):
        raise SystemExit(f'cannot write to {out_dir}')
    start = time.perf_counter()
    outputs = golden_cases.compute_golden_outputs(args.sample_dir)
    np.savez_compressed(args.out, **outputs)
    print(f'{len(outputs)} arrays in {args.out} '
          f'({osp.getsize(args.out) / 1024:.0f} KB, computed in '
          f'{time.perf_counter() - start:.1f} s)')


if __name__ == '__main__':
    main()
