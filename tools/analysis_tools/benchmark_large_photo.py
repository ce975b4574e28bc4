"""Peak memory of the Inferencer on large photos, stage by stage.

``python tools/analysis_tools/benchmark_large_photo.py CONFIG [CHECKPOINT]
[--size 4000 3000] [--size 8000 6000] [--photo PHOTO ...]
[--out-dir DIR] [--keep-freed-memory]``

Every photo (``--photo``, or the first COCO sample image of ``tests/data``
enlarged to each ``--size`` with ``cv2.resize``, bicubic) goes through
:class:`~mmpfcn.apis.PanopticFCNInferencer` as ``demo/image_demo.py`` runs
it: picture and PNG + JSON written to ``--out-dir`` (a temporary folder by
default). The table gives, per photo, the peak heap in use (glibc's
``mallinfo2``, sampled every 5 ms and at every stage boundary) above the
heap before the photo was read, for each stage and in all, also divided by
the photo's pixels, and the slope between the first and the last photo
(bytes per added pixel). Stages: reading the photo, the network at the
test scale (``forward``: preprocessing, backbone to heads, and the
full-size results it hands back once the fusion head is done), the fusion
head (masks at the photo's size, panoptic merge), the picture
(``visualize``) and the files (``pred2dict``: segments, PNG, JSON).
Freed memory is returned to the system unless ``--keep-freed-memory``
(the demos' setting, which changes the resident set, not the heap in
use). Without a checkpoint the weights are random: 100 things whose masks
cover most of the photo, the post-processing's worst case.
"""
import argparse
import os.path as osp
import sys
import tempfile
import threading
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

import cv2
import numpy as np

from mmpfcn.apis import PanopticFCNInferencer
from mmpfcn.apis.inputs import read_image
from mmpfcn.utils import keep_freed_memory
from mmpfcn.utils.malloc import heap_in_use

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE_IMAGE = osp.join(ROOT, 'tests/data/coco_panoptic_sample/images/'
                        '000000142238.jpg')
STAGES = ('read', 'network', 'fusion head', 'picture', 'files')


def _in_use() -> int:
    """Heap bytes in use (the resident set where ``mallinfo2`` lacks)."""
    in_use = heap_in_use()
    if in_use is not None:
        return in_use
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096


class StagePeaks:
    """Peak heap above a base while each stage is the innermost running,
    sampled by a thread every ``interval`` seconds and at every stage
    boundary."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.active: List[str] = []
        self.peaks: Dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def sample(self) -> None:
        used = _in_use() - self.base
        with self._lock:
            for stage in self.active[-1:] or ['other']:
                self.peaks[stage] = max(self.peaks.get(stage, 0), used)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.sample()
        self.active.append(name)
        try:
            yield
        finally:
            self.sample()
            self.active.pop()

    def wrap(self, owner, attr: str, name: str) -> None:
        """Run ``owner.attr`` as stage ``name`` from now on."""
        method = getattr(owner, attr)

        def staged(*args, **kwargs):
            with self.stage(name):
                return method(*args, **kwargs)
        setattr(owner, attr, staged)

    def __enter__(self) -> 'StagePeaks':
        self.base = _in_use()
        self.peaks = {}
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def make_photo(width: int, height: int, folder: str) -> str:
    """The COCO sample image enlarged to ``width`` x ``height`` (bicubic),
    written as a JPEG (quality 90) in ``folder``."""
    image = cv2.imread(SAMPLE_IMAGE)
    path = osp.join(folder, f'photo_{width}x{height}.jpg')
    cv2.imwrite(path, cv2.resize(image, (width, height),
                                 interpolation=cv2.INTER_CUBIC),
                [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def measure(inferencer: PanopticFCNInferencer, peaks: StagePeaks,
            photo: str, out_dir: str) -> Dict[str, int]:
    """Peak heap per stage (and ``'all'``) of one photo, in bytes."""
    with peaks:
        with peaks.stage('read'):
            image = read_image(photo)
        inferencer([image], out_dir=out_dir, no_save_pred=False)
        del image
    result = dict(peaks.peaks)
    result['all'] = max(result.values())
    return result


def report(rows: List[tuple]) -> str:
    """The table of ``(photo, pixels, peaks)`` rows, then the slope."""
    header = ['stage'] + [f'{name} (MB)' for name, _, _ in rows]
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    for stage in STAGES + ('all', ):
        cells = [f'{peaks.get(stage, 0) / 1e6:.0f}' for _, _, peaks in rows]
        lines.append(f'| {stage} | ' + ' | '.join(cells) + ' |')
    cells = [f'{peaks["all"] / pixels:.1f}' for _, pixels, peaks in rows]
    lines.append('| all, bytes per pixel | ' + ' | '.join(cells) + ' |')
    if len(rows) > 1 and rows[-1][1] != rows[0][1]:
        slope = (rows[-1][2]['all'] - rows[0][2]['all']) / (
            rows[-1][1] - rows[0][1])
        lines.append(f'\nslope from {rows[0][0]} to {rows[-1][0]}: '
                     f'{slope:.1f} bytes per added pixel')
    return '\n'.join(lines)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Peak heap of the Inferencer per stage on large photos')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?',
                        help='checkpoint (default: random weights)')
    parser.add_argument('--size', nargs=2, type=int, action='append',
                        metavar=('WIDTH', 'HEIGHT'),
                        help='make a photo of this size (repeatable; '
                        'default 4000 3000 and 8000 6000)')
    parser.add_argument('--photo', nargs='+', default=[],
                        help='photos to measure instead')
    parser.add_argument('--out-dir', help='where the outputs go (default: '
                        'a temporary folder)')
    parser.add_argument('--keep-freed-memory', action='store_true',
                        help='keep freed memory, as the demos do')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.keep_freed_memory:
        keep_freed_memory()
    with tempfile.TemporaryDirectory() as tmp:
        photos = list(args.photo) or [
            make_photo(width, height, tmp)
            for width, height in args.size or [(4000, 3000), (8000, 6000)]]
        inferencer = PanopticFCNInferencer(args.config, args.checkpoint,
                                           device='cpu', show_progress=False)
        peaks = StagePeaks()
        peaks.wrap(inferencer, 'forward', 'network')
        peaks.wrap(inferencer.model.panoptic_fusion_head, 'predict',
                   'fusion head')
        peaks.wrap(inferencer, 'visualize', 'picture')
        peaks.wrap(inferencer, 'pred2dict', 'files')
        rows = []
        for photo in photos:
            pixels = int(np.prod(read_image(photo).shape[:2]))
            result = measure(inferencer, peaks, photo,
                             args.out_dir or osp.join(tmp, 'out'))
            rows.append((osp.basename(photo), pixels, result))
            print(f'{osp.basename(photo)}: {result["all"] / 1e6:.0f} MB '
                  'peak heap', flush=True)
    print()
    print(report(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
