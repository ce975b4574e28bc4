"""Command-line set-up shared by ``demo/image_demo.py`` and
``demo/video_demo.py``: the model arguments, the model with its category
ids, batched prediction, and one-line ``<demo>: error: ...`` reports of bad
input instead of tracebacks."""
import argparse
import sys
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, List, Optional, Tuple, Type

import torch
from mmdet.structures import DetDataSample

from ..utils.malloc import keep_freed_memory
from .inference import (
    CheckpointMismatchError,
    ImageInput,
    init_model,
    iter_batches,
)
from .outputs import category_ids_from_file, check_writable_dir


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
    """Add the positional ``config`` (after the demo's own positional
    input) and ``--weights``, ``--device``, ``--batch-size``,
    ``--categories``."""
    parser.add_argument('config', help='model config file')
    parser.add_argument('--weights', required=True, help='checkpoint file')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--batch-size', type=positive_int, default=1,
                        help='images per forward pass (default: 1)')
    parser.add_argument('--categories',
                        help='COCO categories JSON giving the category ids '
                        'of the class names (default: label + 1)')


def load_model(args: argparse.Namespace
               ) -> Tuple[torch.nn.Module, Optional[List[int]]]:
    """The model of ``args.config`` / ``args.weights`` on ``args.device``
    and the category id of every class (from ``args.categories``; None:
    label + 1).

    Raises:
        DemoError: A missing file, a checkpoint that does not fit the
            config (its missing and unexpected keys listed), or a
            categories file without one of the model's classes.
    """
    keep_freed_memory()  # faster CPU inference, same results
    with reported(CheckpointMismatchError, FileNotFoundError, ValueError):
        model = init_model(args.config, args.weights, device=args.device)
        category_ids = None
        if args.categories:
            category_ids = category_ids_from_file(
                args.categories, model.dataset_meta['classes'])
    return model, category_ids


def predict(model: torch.nn.Module,
            items: Iterable[ImageInput],
            batch_size: int,
            on_skip: Optional[Callable[[int, str], None]] = None
            ) -> Iterator[DetDataSample]:
    """Predictions of the readable ``items`` in order, ``batch_size`` per
    forward pass, without gradients (``items`` may be a lazy stream, such
    as the frames of a video); see
    :func:`~mmpfcn.apis.inference.iter_batches` for ``on_skip``."""
    for data in iter_batches(model, items, batch_size, on_skip=on_skip):
        with torch.no_grad():
            samples = model.test_step(data)
        yield from samples


def run_cli(prog: str, run: Callable[[argparse.Namespace], int],
            args: argparse.Namespace) -> int:
    """``run(args)``'s exit code, or 1 after printing a :class:`DemoError`
    as ``<prog>: error: <message>`` on stderr."""
    try:
        return run(args)
    except DemoError as err:
        print(f'{prog}: error: {err}', file=sys.stderr)
        return 1
