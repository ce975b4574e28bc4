"""Command-line set-up shared by ``demo/image_demo.py`` and
``demo/video_demo.py``: mmdet's model arguments, the Inferencer they give,
and one-line ``<demo>: error: ...`` reports of bad input instead of
tracebacks."""
import argparse
import sys
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Type

from ..utils.checkpoint import trust_checkpoints
from ..utils.malloc import keep_freed_memory
from .inference import CheckpointMismatchError
from .outputs import check_writable_dir
from .panoptic_inferencer import PanopticFCNInferencer


class DemoError(Exception):
    """Bad input or output that a demo reports on one line, exiting 1."""


@contextmanager
def reported(*errors: Type[Exception]) -> Iterator[None]:
    """Turn the given exception types into :class:`DemoError` (same
    message), for the steps whose failures are the user's input."""
    try:
        yield
    except errors as err:
        raise DemoError(str(err)) from err


def check_output_dirs(*paths: Optional[str]) -> None:
    """Create the given output folders (None: not asked for) and check
    they can be written, before any model is built.

    Raises:
        DemoError: Naming a folder that cannot be written.
    """
    with reported(PermissionError):
        for path in paths:
            if path:
                check_writable_dir(path)


def positive_int(text: str) -> int:
    """``argparse`` type of a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f'expected a whole number >= 1, got {text!r}')
    return value


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """Add mmdet's model arguments: the positional ``model`` (after the
    demo's own positional input), ``--weights``, ``--device``,
    ``--batch-size``, ``--pred-score-thr``, ``--palette``,
    ``--categories`` and ``--trust-checkpoint``."""
    parser.add_argument(
        'model', help='config file, or a model name of model-index.yml')
    parser.add_argument(
        '--weights', help='checkpoint file (default: the model name\'s '
        'weights of the metafile; none with a config: random weights)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--batch-size', type=positive_int, default=1,
                        help='images per forward pass (default: 1)')
    parser.add_argument('--pred-score-thr', type=float, default=0.3,
                        help='predicted things scoring below it are not '
                        'drawn; the PNG / JSON keep them (default: 0.3)')
    parser.add_argument(
        '--palette', default='none',
        choices=['coco', 'voc', 'citys', 'random', 'none'],
        help='colours of the classes (default none: the checkpoint\'s or '
        'the config\'s)')
    parser.add_argument('--categories',
                        help='COCO categories JSON giving the category ids '
                        'of the class names (default: label + 1)')
    parser.add_argument(
        '--trust-checkpoint', action='store_true',
        help='load the weights with full pickle, which runs any code they '
        'hold (only for a file you trust that a weights-only load refuses; '
        'same as MMPFCN_TRUST_CHECKPOINTS=1)')


def build_inferencer(args: argparse.Namespace,
                     show_progress: bool = True) -> PanopticFCNInferencer:
    """The :class:`~mmpfcn.apis.PanopticFCNInferencer` of ``args``.

    Raises:
        DemoError: A missing file, a model that is neither a config nor
            a model name, a checkpoint that does not fit the config (its
            missing and unexpected keys listed), a categories file without
            one of the model's classes, a palette with too few colours, or
            a checkpoint that is corrupt or refused (it names code to run).
    """
    keep_freed_memory()  # faster CPU inference, same results
    if getattr(args, 'trust_checkpoint', False):
        trust_checkpoints()
    with reported(CheckpointMismatchError, FileNotFoundError, ValueError):
        return PanopticFCNInferencer(
            args.model, args.weights, device=args.device,
            palette=args.palette, show_progress=show_progress,
            categories=args.categories)


def run_cli(prog: str, run: Callable[[argparse.Namespace], int],
            args: argparse.Namespace) -> int:
    """``run(args)``'s exit code, or 1 after printing a :class:`DemoError`
    as ``<prog>: error: <message>`` on stderr."""
    try:
        return run(args)
    except DemoError as err:
        print(f'{prog}: error: {err}', file=sys.stderr)
        return 1
