"""Time the dataset's file check (one stat per image and per PNG) on
generated empty files, beside listing the same folders, which any
existence check costs at least.

``python tools/analysis_tools/benchmark_file_check.py [--images 118287]
[--root /tmp]``: COCO train2017 has 118,287 images, so the check stats
twice that many paths (images and panoptic PNGs). The files are created in
a temporary folder under ``--root`` and removed afterwards; the times are
those of a warm file-system cache (the files were just created).
"""
import argparse
import os
import os.path as osp
import shutil
import tempfile
import timeit

from mmpfcn.datasets.file_check import check_files_exist


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=118287,
                        help='images of the split (default: COCO train2017)')
    parser.add_argument('--root', default=None,
                        help='where to create the files (default: $TMPDIR)')
    return parser.parse_args()


def make_files(folder: str, count: int, ext: str) -> list:
    """``count`` empty files ``<12 digits><ext>`` in ``folder``."""
    os.makedirs(folder)
    paths = [osp.join(folder, f'{i:012d}{ext}') for i in range(count)]
    for path in paths:
        open(path, 'w').close()
    return paths


def best_of(runs: int, fn) -> float:
    """The fastest of ``runs`` calls of ``fn``, in seconds."""
    return min(timeit.repeat(fn, number=1, repeat=runs))


def main() -> None:
    args = parse_args()
    root = tempfile.mkdtemp(prefix='file_check_', dir=args.root)
    try:
        images = make_files(osp.join(root, 'train2017'), args.images, '.jpg')
        pngs = make_files(osp.join(root, 'panoptic_train2017'), args.images,
                          '.png')
        paths = images + pngs
        check = best_of(3, lambda: check_files_exist(paths, 'benchmark'))
        listing = best_of(3, lambda: [
            len(os.listdir(osp.dirname(p))) for p in (images[0], pngs[0])])
        print(f'{len(paths)} paths ({args.images} images + PNGs)')
        print(f'check_files_exist: {check:.3f} s '
              f'({check / len(paths) * 1e6:.2f} us per file)')
        print(f'listing the 2 folders: {listing:.3f} s')
    finally:
        shutil.rmtree(root)


if __name__ == '__main__':
    main()
