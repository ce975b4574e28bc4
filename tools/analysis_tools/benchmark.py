"""End-to-end inference latency of Panoptic FCN, stage by stage, beside
mmdetection's Panoptic FPN R50 built and run the same way.

``python tools/analysis_tools/benchmark.py CONFIG [CHECKPOINT]
[--num-images 10] [--shape 800 1199] [--batch-size 1]
[--backend pytorch|onnxruntime] [--baseline mmdet::panoptic_fpn/...]
[--no-baseline] [--fuse-conv-bn] [--channels-last] [--with-optimized]
[--cfg-options ...]``

Latency runs from the image array to the panoptic result (test pipeline,
data preprocessor, network, post-processing), as the paper measures FPS,
after ``--warmup`` batches. The images are the COCO sample images of
``tests/data`` resized to ``--shape`` (or ``--images``). Stages: backbone
+ FPN, semantic FPN + feature encoder, kernel generator (position and
kernel heads), kernel selection + fusion, mask prediction (embedding,
masks, maskness), mask upsampling + thresholding, panoptic merge; the
remainder (pipeline, preprocessing) is "other"; Panoptic FPN's stages are
its backbone + FPN, RPN + RoI heads, semantic head and panoptic fusion.
Peak memory is the largest heap in use above the start of the timed run
(glibc's ``mallinfo2``; the resident set size elsewhere), sampled every
5 ms and at every stage boundary; the memory rows give it per stage (the
samples taken while the stage ran) and what the results of all images
still hold at the end. Large tensors reuse freed memory
(``mmpfcn.utils.keep_freed_memory``, as in the demos and
``tools/test.py --keep-freed-memory``) unless ``--default-malloc``. Without a
checkpoint the weights are random: the post-processing then works on the
largest possible number of candidates, so its share is an upper bound.
"""
import argparse
import copy
import os.path as osp
import sys
import threading
import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from typing import Dict, List, Optional

import mmcv
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.hub import get_config

from mmpfcn.apis import init_model, list_images, optimize_for_inference
from mmpfcn.apis.inference import run_batches
from mmpfcn.utils import keep_freed_memory
from mmpfcn.utils.malloc import heap_in_use

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE_IMAGES = osp.join(ROOT, 'tests/data/coco_panoptic_sample/images')
BASELINE = 'mmdet::panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py'
STAGES = ('backbone + FPN', 'semantic FPN + encoder', 'kernel generator',
          'network (onnxruntime)', 'kernel selection + fusion',
          'mask prediction', 'mask upsampling + threshold', 'panoptic merge',
          'RPN + RoI heads', 'semantic head', 'panoptic fusion')
# the stage of every wrapped label (the innermost one running): Panoptic
# FCN's, then Panoptic FPN's; None is outside every wrapped call
LABEL_STAGES = {
    'bb': 'backbone + FPN', 'neck': 'backbone + FPN',
    'sfpn': 'semantic FPN + encoder', 'encoder': 'semantic FPN + encoder',
    'generator': 'kernel generator', 'onnx': 'network (onnxruntime)',
    'select': 'kernel selection + fusion', 'masks': 'mask prediction',
    'fusion': 'mask upsampling + threshold', 'merge': 'panoptic merge',
    'rpn': 'RPN + RoI heads', 'roi': 'RPN + RoI heads',
    'semantic': 'semantic head', 'pan_fusion': 'panoptic fusion',
    None: 'other'}


class StageTimer:
    """Inclusive wall time of wrapped callables, by label; ``active`` is
    the stack of labels being run (innermost last), which
    :class:`PeakMemory` reads to attribute its samples."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = defaultdict(float)
        self.active: List[str] = []
        self.memory: Optional['PeakMemory'] = None

    @contextmanager
    def wrap(self, owner, name: str, label: str):
        """Time ``owner.name`` (a function or bound method) as ``label``."""
        original = getattr(owner, name)
        had_own = name in vars(owner)

        def timed(*args, **kwargs):
            self._switch(label)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start
                self._switch(None)

        setattr(owner, name, timed)
        try:
            yield
        finally:
            if had_own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)

    def _switch(self, label: Optional[str]) -> None:
        """Enter ``label`` (None: leave the innermost one), sampling the
        memory at the boundary so that short stages are seen too."""
        if self.memory is not None:
            self.memory.sample()
        if label is None:
            self.active.pop()
        else:
            self.active.append(label)


def _pfcn_hooks(model, timer: StageTimer, stack: ExitStack,
                onnx: bool) -> None:
    """Wrap the stages of a :class:`PanopticFCN` (and its modules')."""
    from mmpfcn.models.seg_heads import panoptic_fcn_fusion_head as fusion
    head = model.panoptic_head
    if not onnx:
        stack.enter_context(timer.wrap(model.backbone, 'forward', 'bb'))
        stack.enter_context(timer.wrap(model.neck, 'forward', 'neck'))
        stack.enter_context(timer.wrap(model.semantic_fpn, 'forward',
                                       'sfpn'))
        stack.enter_context(timer.wrap(head.feature_encoder, 'forward',
                                       'encoder'))
        stack.enter_context(timer.wrap(head.kernel_generator, 'forward',
                                       'generator'))
    for generator in (head.thing_generator, head.stuff_generator):
        stack.enter_context(timer.wrap(generator, 'predict', 'select'))
        stack.enter_context(timer.wrap(generator, 'mask_logits', 'masks'))
    stack.enter_context(
        timer.wrap(model.panoptic_fusion_head, 'predict', 'fusion'))
    # the heuristic merge paints each thing as it is made, then the stuff
    # (older versions: one heuristic_merge call on all the masks)
    painter = getattr(fusion, 'GreedyPainter', None)
    for owner, name in ((fusion, 'paint_stuff'), (fusion, 'argmax_paint'),
                        (fusion, 'argmax_merge'), (painter, 'paint'),
                        (fusion, 'heuristic_merge')):
        if hasattr(owner, name):
            stack.enter_context(timer.wrap(owner, name, 'merge'))


def _pfcn_stages(seconds: Dict[str, float]) -> Dict[str, float]:
    """Exclusive stage times from the inclusive wrapped times."""
    return {
        'backbone + FPN': seconds['bb'] + seconds['neck'],
        'semantic FPN + encoder': seconds['sfpn'] + seconds['encoder'],
        'kernel generator': seconds['generator'],
        'kernel selection + fusion': seconds['select'] - seconds['masks'],
        'mask prediction': seconds['masks'],
        'mask upsampling + threshold': seconds['fusion'] - seconds['merge'],
        'panoptic merge': seconds['merge'],
    }


class PeakMemory:
    """Largest memory in use above the start, sampled every ``interval``
    seconds and at every stage boundary of ``timer``: glibc's heap in use
    (which does not depend on freed memory being kept), else the resident
    set size. ``by_label`` holds the peak of the samples taken while each
    label of ``timer`` was the innermost one running (None: outside every
    wrapped stage); ``held`` what is still in use at the end (the results
    kept by the caller)."""

    def __init__(self, timer: Optional[StageTimer] = None,
                 interval: float = 0.005) -> None:
        self.peak = 0
        self.held = 0
        self.by_label: Dict[Optional[str], int] = defaultdict(int)
        self.timer = timer
        self.interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()

    @staticmethod
    def in_use() -> int:
        in_use = heap_in_use()
        if in_use is not None:
            return in_use
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * 4096

    def sample(self) -> None:
        """Record the memory in use now, under the innermost stage."""
        used = self.in_use() - self.base
        active = self.timer.active if self.timer is not None else []
        label = active[-1] if active else None
        with self._lock:
            self.peak = max(self.peak, used)
            self.by_label[label] = max(self.by_label[label], used)

    def __enter__(self):
        self.base = self.in_use()
        if self.timer is not None:
            self.timer.memory = self
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join()
        self.sample()
        self.held = self.in_use() - self.base
        if self.timer is not None:
            self.timer.memory = None


def time_model(step, model, images: List[np.ndarray], batch_size: int,
               warmup: int, stages: Optional[callable] = None) -> dict:
    """Latency per image of ``step`` over ``images`` after warm-up."""
    timer = StageTimer()
    run_batches(model, images[:warmup * batch_size], batch_size, step)
    with ExitStack() as stack:
        if stages is not None:
            stages(timer, stack)
        with PeakMemory(timer) as memory:
            start = time.perf_counter()
            # kept until the end, as a caller of inference_model keeps them
            results = run_batches(model, images, batch_size, step)
            total = time.perf_counter() - start
    del results
    return dict(total=total / len(images), peak=memory.peak,
                held=memory.held, peak_by_label=dict(memory.by_label),
                seconds={k: v / len(images)
                         for k, v in timer.seconds.items()})


def memory_stages(peak_by_label: Dict[Optional[str], int]
                  ) -> Dict[str, int]:
    """Peak heap (bytes above the start of the run) of every stage: the
    largest over its labels of :attr:`PeakMemory.by_label`."""
    stages: Dict[str, int] = {}
    for label, peak in peak_by_label.items():
        stage = LABEL_STAGES[label]
        stages[stage] = max(stages.get(stage, 0), peak)
    return stages


def load_images(args: argparse.Namespace) -> List[np.ndarray]:
    """``--num-images`` images of ``--shape`` (cycling the inputs)."""
    paths = list_images(args.images)
    height, width = args.shape
    base = [mmcv.imresize(mmcv.imread(p), (width, height)) for p in paths]
    return [base[i % len(base)] for i in range(args.num_images)]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Panoptic FCN latency, stage by stage, vs Panoptic FPN')
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?')
    parser.add_argument('--num-images', type=int, default=10)
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1199],
                        metavar=('H', 'W'))
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed batches first (default 1)')
    parser.add_argument('--backend', choices=('pytorch', 'onnxruntime'),
                        default='pytorch')
    parser.add_argument('--onnx-file',
                        help='exported network for --backend onnxruntime '
                        '(default: exported into a temporary folder)')
    parser.add_argument('--images', default=SAMPLE_IMAGES,
                        help='image, folder or glob (resized to --shape)')
    parser.add_argument('--baseline', default=BASELINE,
                        help='the config timed beside (default: mmdet\'s '
                        'Panoptic FPN R50)')
    parser.add_argument('--baseline-checkpoint')
    parser.add_argument('--no-baseline', action='store_true')
    parser.add_argument('--fuse-conv-bn', action='store_true',
                        help='fold the frozen BNs into the convs (PyTorch '
                        'backend)')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last weights (PyTorch backend)')
    parser.add_argument('--default-malloc', action='store_true',
                        help="keep glibc's default allocation thresholds "
                        '(every large tensor mmapped and returned; see '
                        'mmpfcn/utils/malloc.py)')
    parser.add_argument('--with-optimized', action='store_true',
                        help='also time a copy of the model with the BNs '
                        'folded and channels-last weights, in its own '
                        'column')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def build_runs(args: argparse.Namespace, tmp_dir: str) -> list:
    """(name, step, model, stages) of every timed model."""
    model = init_model(args.config, args.checkpoint,
                       cfg_options=args.cfg_options)
    if args.fuse_conv_bn or args.channels_last:
        # the ONNX export below uses the optimised network too
        optimize_for_inference(model, args.fuse_conv_bn, args.channels_last)
    runs = [('Panoptic FCN (pytorch)', model.test_step, model,
             lambda t, s: _pfcn_hooks(model, t, s, onnx=False))]
    if args.with_optimized:
        fast = optimize_for_inference(copy.deepcopy(model))
        runs.append(('Panoptic FCN (folded, NHWC)', fast.test_step, fast,
                     lambda t, s: _pfcn_hooks(fast, t, s, onnx=False)))
    if args.backend == 'onnxruntime':
        from mmpfcn.apis import ONNXPanopticPredictor, export_onnx
        onnx_file = args.onnx_file or osp.join(tmp_dir, 'model.onnx')
        if not args.onnx_file:
            export_onnx(model, onnx_file)
        predictor = ONNXPanopticPredictor(onnx_file, args.config,
                                          args.checkpoint, args.cfg_options)
        def onnx_stages(timer, stack):
            _pfcn_hooks(predictor.model, timer, stack, onnx=True)
            stack.enter_context(timer.wrap(predictor, 'network', 'onnx'))

        runs.append(('Panoptic FCN (onnxruntime)', predictor.test_step,
                     predictor.model, onnx_stages))
    if not args.no_baseline:
        cfg = get_config(args.baseline) if '::' in args.baseline else \
            Config.fromfile(args.baseline)
        baseline = init_model(cfg, args.baseline_checkpoint)
        if args.fuse_conv_bn or args.channels_last:
            optimize_for_inference(baseline, args.fuse_conv_bn,
                                   args.channels_last)

        def baseline_stages(timer, stack):
            stack.enter_context(timer.wrap(baseline.backbone, 'forward',
                                           'bb'))
            stack.enter_context(timer.wrap(baseline.neck, 'forward', 'neck'))
            # mmdet's two-stage panoptic segmentors
            for attr, label in (('rpn_head', 'rpn'), ('roi_head', 'roi'),
                                ('semantic_head', 'semantic'),
                                ('panoptic_fusion_head', 'pan_fusion')):
                if hasattr(baseline, attr):
                    stack.enter_context(timer.wrap(
                        getattr(baseline, attr), 'predict', label))

        runs.append((f'{osp.basename(args.baseline)}', baseline.test_step,
                     baseline, baseline_stages))
    return runs


def report(results: list, reference: float) -> str:
    """The side-by-side table."""
    names = [name for name, _ in results]
    # the memory rows are the stages' names + ' (MB)', indented by two
    width = max(len(s) + 7 for s in STAGES + ('end to end (ms / image)', ))
    lines = [f"{'':{width}s} | " + ' | '.join(f'{n:>26s}' for n in names)]
    lines.append('-' * len(lines[0]))
    rows = [(stage, [r['stages'].get(stage) for _, r in results])
            for stage in STAGES + ('other', )]
    for stage, values in rows:
        if all(value is None for value in values):
            continue
        cells = []
        for value, (_, r) in zip(values, results):
            if value is None:
                cells.append(f"{'':>26s}")
            else:
                share = 100 * value / r['total']
                cells.append(f'{1000 * value:17.0f} ({share:4.1f}%)')
        lines.append(f'{stage:{width}s} | ' + ' | '.join(cells))
    lines.append(f"{'end to end (ms / image)':{width}s} | " + ' | '.join(
        f"{1000 * r['total']:17.0f} ({r['total'] / reference:4.2f}x)"
        for _, r in results))
    lines.append(f"{'peak memory (MB)':{width}s} | " + ' | '.join(
        f"{r['peak'] / 2**20:26.0f}" for _, r in results))
    lines.append(f"{'results held (MB)':{width}s} | " + ' | '.join(
        f"{r['held'] / 2**20:26.0f}" for _, r in results))
    lines.append('peak heap while in the stage (MB; above the start of the '
                 'run, results of earlier images included)')
    for stage in STAGES + ('other', ):
        values = [r.get('memory', {}).get(stage) for _, r in results]
        if all(value is None for value in values):
            continue
        lines.append(f"  {stage + ' (MB)':{width - 2}s} | " + ' | '.join(
            f"{'':>26s}" if value is None else f'{value / 2**20:26.0f}'
            for value in values))
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    # as tools/test.py and the demos do; process-wide, so both models
    kept = False if args.default_malloc else keep_freed_memory()
    import tempfile
    images = load_images(args)
    results = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        for name, step, model, stages in build_runs(args, tmp_dir):
            result = time_model(step, model, images, args.batch_size,
                                args.warmup, stages)
            seconds = result['seconds']
            if 'fusion' in seconds or 'select' in seconds:
                result['stages'] = _pfcn_stages(defaultdict(float, seconds))
            else:
                result['stages'] = {
                    'backbone + FPN': seconds.get('bb', 0) +
                    seconds.get('neck', 0)}
                for label in ('rpn', 'roi', 'semantic', 'pan_fusion'):
                    if label in seconds:
                        stage = LABEL_STAGES[label]
                        result['stages'][stage] = result['stages'].get(
                            stage, 0) + seconds[label]
            if name.endswith('(onnxruntime)'):
                for stage in STAGES[:3]:
                    result['stages'].pop(stage)
                result['stages']['network (onnxruntime)'] = seconds['onnx']
            result['stages']['other'] = result['total'] - sum(
                result['stages'].values())
            result['memory'] = memory_stages(result['peak_by_label'])
            results.append((name, result))
            print(f'{name}: {1000 * result["total"]:.0f} ms / image')
    height, width = args.shape
    allocator = 'freed memory kept' if kept else 'default glibc malloc'
    print(f'\n{args.num_images} images of {height} x {width}, batch '
          f'{args.batch_size}, {torch.get_num_threads()} threads, '
          f'{allocator}; ms per image (share of its total); ratio to the '
          'first column')
    print(report(results, results[0][1]['total']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
