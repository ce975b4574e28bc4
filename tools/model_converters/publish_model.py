"""Prepare a training checkpoint for release, as mmdet's
``publish_model.py``: ``python tools/model_converters/publish_model.py IN
OUT [--save-keys meta state_dict]``.

Only ``meta`` and ``state_dict`` are kept (the optimizer, parameter
scheduler and message-hub states of a training checkpoint are dropped and
named); the file is written as ``OUT`` without its ``.pth`` plus
``-<first 8 hex digits of its sha256>.pth`` (e.g.
``panoptic-fcn_r50_fpn_3x_coco-panoptic-1a2b3c4d.pth``), and that name is
printed.
"""
import argparse
import hashlib
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

import torch

from mmpfcn.utils.checkpoint import load_checkpoint_file

HASH_DIGITS = 8


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Strip a checkpoint for release and put its sha256 '
        'prefix into its name')
    parser.add_argument('in_file', help='input checkpoint')
    parser.add_argument('out_file', help='output checkpoint (.pth)')
    parser.add_argument('--save-keys', nargs='+',
                        default=['meta', 'state_dict'],
                        help='top-level keys to keep (default: meta '
                        'state_dict)')
    return parser.parse_args(argv)


def sha256_of(path: str, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def publish(in_file: str, out_file: str,
            save_keys: Sequence[str] = ('meta', 'state_dict')) -> str:
    """Write the stripped checkpoint under its hashed name.

    Args:
        in_file (str): Checkpoint of a training run (or any mmengine
            checkpoint dict).
        out_file (str): Output path; ``.pth`` is added if missing.
        save_keys (Sequence[str]): Top-level keys to keep.

    Returns:
        str: The path written, ``<out_file stem>-<sha256[:8]>.pth``.

    Raises:
        ValueError: A file without ``state_dict``, or ``out_file`` equal
            to ``in_file``.
    """
    checkpoint = load_checkpoint_file(in_file, map_location='cpu')
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        raise ValueError(f'{in_file}: expected an mmengine checkpoint with a '
                         '"state_dict"')
    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') \
        else out_file
    if osp.realpath(stem + '.pth') == osp.realpath(in_file):
        raise ValueError(f'{out_file}: would replace the input checkpoint')
    dropped = [key for key in checkpoint if key not in save_keys]
    for key in dropped:
        print(f'publish_model: dropping {key!r}')
        checkpoint.pop(key)
    os.makedirs(osp.dirname(osp.abspath(stem)), exist_ok=True)
    temporary = stem + '.pth.tmp'
    torch.save(checkpoint, temporary)
    final = f'{stem}-{sha256_of(temporary)[:HASH_DIGITS]}.pth'
    os.replace(temporary, final)
    return final


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        final = publish(args.in_file, args.out_file, args.save_keys)
    except (FileNotFoundError, ValueError) as err:
        print(f'publish_model: error: {err}', file=sys.stderr)
        return 1
    print(final)
    return 0


if __name__ == '__main__':
    sys.exit(main())
