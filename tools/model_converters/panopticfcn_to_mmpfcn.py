"""Convert a checkpoint of the reference Panoptic FCN (the detectron2
project's model zoo) to mmpfcn's parameter names.

``python tools/model_converters/panopticfcn_to_mmpfcn.py SRC DST [--dcn]
[--star] [--trust-checkpoint]``

SRC is a detectron2 checkpoint (a ``.pth`` with a ``model`` key, or a
detectron2 ``.pkl`` of numpy arrays) or a plain state dict, read without
running code (weights-only / numpy arrays only; ``--trust-checkpoint``
loads a trusted file with full pickle); a truncated or random file, one
that names code to run, or an already converted one is refused in one
line. ``--dcn``
states that the position head has DCNv2 convs (every released model);
``--star`` that the feature encoder has them too (the Star models). The
tool refuses, listing the keys, when SRC holds a key outside that layout
or lacks one of it (naming the flags that fit, if others do); otherwise it
writes an mmengine checkpoint (``state_dict`` + ``meta``) with every key
renamed and mmdet's ``num_batches_tracked`` buffers (which detectron2's
``FrozenBatchNorm2d`` lacks) added, loadable with ``strict=True`` by the
matching config.
"""
import argparse
import itertools
import os.path as osp
import re
from typing import Callable, Dict, List, Set, Tuple, Union

import numpy as np
import torch

from mmpfcn.utils.checkpoint import (
    CheckpointLoadError,
    safe_pickle_load,
    safe_torch_load,
    trust_checkpoints,
)

# blocks per ResNet-50 stage res2..res5 (every reference config is R50)
RESNET50_BLOCKS = (3, 4, 6, 3)
# convs per semantic-FPN branch p2..p5 (each but P2's is followed by an
# upsampling module, hence the even indices of the reference's names)
SEMANTIC_FPN_CONVS = {2: 1, 3: 1, 4: 2, 5: 3}
NUM_HEAD_CONVS = 3
FROZEN_BN = ('weight', 'bias', 'running_mean', 'running_var')
# the first names of an mmpfcn state dict that the reference's lack
MMPFCN_PREFIXES = ('panoptic_head.', 'neck.lateral_convs.')

Rule = Tuple[str, Union[str, Callable[[re.Match], str]]]


def _conv_stack_rules(ref: str, ours: str) -> List[Rule]:
    """Rules for the convs ``{ref}_head_{k}`` of a reference ``SingleHead``
    (plain ``Conv2d`` or ``ModulatedDeformConvWithOff``, each with its
    norm) -> ``{ours}.convs.{k-1}`` of an mmpfcn conv stack (mmcv
    ``ConvModule``: ``conv``, DCNv2 ``conv.conv_offset``, ``gn``)."""
    head = re.escape(ref) + r'_head_(\d+)\.'

    def block(m: re.Match) -> str:
        return f'{ours}.convs.{int(m[1]) - 1}.'

    return [
        (head + r'offset_mask_conv\.',
         lambda m: block(m) + 'conv.conv_offset.'),
        (head + r'(?:dcnv2\.)?norm\.', lambda m: block(m) + 'gn.'),
        (head + r'(?:dcnv2\.)?', lambda m: block(m) + 'conv.'),
    ]


def _backbone_block(m: re.Match) -> str:
    """``res{s}.{b}`` of detectron2 -> ``layer{s-1}.{b}`` of mmdet."""
    return f'backbone.layer{int(m[1]) - 1}.{m[2]}.'


# reference name prefix -> mmpfcn name prefix; the first matching rule wins
REFERENCE_TO_MMPFCN: List[Rule] = [
    (r'backbone\.bottom_up\.stem\.conv1\.norm\.', 'backbone.bn1.'),
    (r'backbone\.bottom_up\.stem\.conv1\.', 'backbone.conv1.'),
    (r'backbone\.bottom_up\.res(\d)\.(\d+)\.shortcut\.norm\.',
     lambda m: _backbone_block(m) + 'downsample.1.'),
    (r'backbone\.bottom_up\.res(\d)\.(\d+)\.shortcut\.',
     lambda m: _backbone_block(m) + 'downsample.0.'),
    (r'backbone\.bottom_up\.res(\d)\.(\d+)\.conv(\d)\.norm\.',
     lambda m: _backbone_block(m) + f'bn{m[3]}.'),
    (r'backbone\.bottom_up\.res(\d)\.(\d+)\.conv(\d)\.',
     lambda m: _backbone_block(m) + f'conv{m[3]}.'),
    # FPN: P2..P5 laterals and outputs, then P6 and P7 as mmdet's extra
    # convs 4 and 5
    (r'backbone\.fpn_lateral(\d)\.',
     lambda m: f'neck.lateral_convs.{int(m[1]) - 2}.conv.'),
    (r'backbone\.fpn_output(\d)\.',
     lambda m: f'neck.fpn_convs.{int(m[1]) - 2}.conv.'),
    (r'backbone\.top_block\.p(\d)\.',
     lambda m: f'neck.fpn_convs.{int(m[1]) - 2}.conv.'),
    (r'semantic_fpn\.p(\d)\.(\d)\.norm\.', r'semantic_fpn.p\1.\2.gn.'),
    (r'semantic_fpn\.p(\d)\.(\d)\.', r'semantic_fpn.p\1.\2.conv.'),
    *_conv_stack_rules('position_head.position_head.position_head',
                       'panoptic_head.kernel_generator.position_head'),
    (r'position_head\.out_(inst|sem)\.',
     r'panoptic_head.kernel_generator.position_head.out_\1.'),
    *_conv_stack_rules('kernel_head.kernel_head.kernel_head',
                       'panoptic_head.kernel_generator.kernel_head'),
    (r'kernel_head\.out_conv\.',
     'panoptic_head.kernel_generator.kernel_head.out_conv.'),
    *_conv_stack_rules('feature_encoder.encode_head.encode_head',
                       'panoptic_head.feature_encoder'),
    (r'(thing|stuff)_generator\.embed_extractor\.',
     r'panoptic_head.\1_generator.embed_extractor.'),
]


def to_mmpfcn_name(name: str) -> str:
    """The mmpfcn name of a reference parameter or buffer.

    Args:
        name (str): A key of the reference's state dict, e.g.
            ``kernel_head.kernel_head.kernel_head_head_2.norm.weight``.

    Returns:
        str: The key in mmpfcn's state dict, e.g.
        ``panoptic_head.kernel_generator.kernel_head.convs.1.gn.weight``.

    Raises:
        KeyError: No rule maps ``name``.
    """
    for pattern, replacement in REFERENCE_TO_MMPFCN:
        new, count = re.subn('^' + pattern, replacement, name)
        if count:
            return new
    raise KeyError(f'no mmpfcn name for the reference key {name!r}')


def _conv_stack_keys(ref: str, dcn: bool, norm: bool) -> List[str]:
    """The keys of a reference ``SingleHead`` (3 convs; a conv has a bias
    only without a norm)."""
    keys = []
    for k in range(1, NUM_HEAD_CONVS + 1):
        conv = f'{ref}_head_{k}.'
        if dcn:
            keys += [conv + 'offset_mask_conv.weight',
                     conv + 'offset_mask_conv.bias']
            conv += 'dcnv2.'
        keys.append(conv + 'weight')
        keys += [conv + 'norm.weight', conv + 'norm.bias'] if norm else \
            [conv + 'bias']
    return keys


def reference_keys(dcn: bool, star: bool) -> Set[str]:
    """Every key of a reference Panoptic FCN state dict.

    Args:
        dcn (bool): DCNv2 convs in the position head (the released models).
        star (bool): DCNv2 convs in the feature encoder (the Star models).

    Returns:
        set[str]: The names, as ``tests/data/reference_checkpoint`` lists
        them.
    """
    keys = []

    def conv_frozen_bn(prefix: str) -> None:
        keys.append(prefix + '.weight')
        keys.extend(f'{prefix}.norm.{n}' for n in FROZEN_BN)

    conv_frozen_bn('backbone.bottom_up.stem.conv1')
    for stage, blocks in enumerate(RESNET50_BLOCKS, start=2):
        for b in range(blocks):
            block = f'backbone.bottom_up.res{stage}.{b}'
            if b == 0:
                conv_frozen_bn(block + '.shortcut')
            for c in (1, 2, 3):
                conv_frozen_bn(f'{block}.conv{c}')
    convs = [f'backbone.fpn_{kind}{level}' for level in (2, 3, 4, 5)
             for kind in ('lateral', 'output')]
    convs += ['backbone.top_block.p6', 'backbone.top_block.p7',
              'position_head.out_inst', 'position_head.out_sem',
              'kernel_head.out_conv', 'thing_generator.embed_extractor',
              'stuff_generator.embed_extractor']
    keys += [f'{conv}.{p}' for conv in convs for p in ('weight', 'bias')]
    for level, num_convs in SEMANTIC_FPN_CONVS.items():
        for i in range(num_convs):
            conv = f'semantic_fpn.p{level}.{2 * i}.'
            keys += [conv + 'weight', conv + 'norm.weight', conv + 'norm.bias']
    keys += _conv_stack_keys('position_head.position_head.position_head',
                             dcn=dcn, norm=True)
    keys += _conv_stack_keys('kernel_head.kernel_head.kernel_head',
                             dcn=False, norm=True)
    keys += _conv_stack_keys('feature_encoder.encode_head.encode_head',
                             dcn=star, norm=False)
    return set(keys)


class LayoutError(ValueError):
    """A state dict that is not the expected reference layout."""


def _layout_hint(keys: Set[str]) -> str:
    """The flags whose layout ``keys`` is exactly, if any."""
    for dcn, star in itertools.product((True, False), (False, True)):
        if reference_keys(dcn=dcn, star=star) == keys:
            flags = [f for f, on in (('--dcn', dcn), ('--star', star)) if on]
            return ('\nSRC is the layout of ' +
                    (' '.join(flags) if flags else 'no flag') +
                    '; convert it with that')
    return ''


def convert_state_dict(state_dict: Dict[str, torch.Tensor],
                       dcn: bool,
                       star: bool = False) -> Dict[str, torch.Tensor]:
    """Rename a reference state dict to mmpfcn's names.

    Args:
        state_dict (dict[str, Tensor | np.ndarray]): The reference's
            weights (numpy arrays, as in detectron2 ``.pkl`` files, are
            turned into tensors).
        dcn (bool): Position head with DCNv2 convs.
        star (bool): Feature encoder with DCNv2 convs. Defaults to False.

    Returns:
        dict[str, Tensor]: mmpfcn's state dict, with a zero
        ``num_batches_tracked`` for every backbone BatchNorm.

    Raises:
        LayoutError: ``state_dict`` has keys outside the layout (listed as
            unmapped) or lacks keys of it (listed as missing).
    """
    expected = reference_keys(dcn=dcn, star=star)
    unexpected = set(state_dict) - expected
    missing = expected - set(state_dict)
    if unexpected or missing:
        layout = ('position head '
                  f'{"DCNv2" if dcn else "plain convs"}, feature encoder '
                  f'{"DCNv2" if star else "plain convs"}')
        lines = [f'the checkpoint is not the reference layout ({layout}):']
        if unexpected:
            lines.append(f'{len(unexpected)} unmapped key(s): '
                         f'{sorted(unexpected)}')
        if missing:
            lines.append(f'{len(missing)} missing key(s): {sorted(missing)}')
        raise LayoutError('\n'.join(lines) + _layout_hint(set(state_dict)))
    converted = {}
    for name, value in state_dict.items():
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(value)
        converted[to_mmpfcn_name(name)] = value
        if name.endswith('.norm.running_mean'):
            prefix = to_mmpfcn_name(name)[:-len('running_mean')]
            converted[prefix + 'num_batches_tracked'] = torch.tensor(
                0, dtype=torch.long)
    return converted


def load_reference(path: str) -> Dict[str, torch.Tensor]:
    """The state dict of a reference checkpoint file, loaded without
    running code: a ``.pkl`` restores numpy arrays only, a ``.pth`` is
    loaded weights-only (:mod:`mmpfcn.utils.checkpoint`; ``--trust-checkpoint``
    opts in to full pickle).

    Args:
        path (str): A detectron2 ``.pth`` / ``.pkl`` checkpoint (weights
            under ``model``) or a file holding a plain state dict.

    Returns:
        dict: Name -> tensor or numpy array.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointLoadError: The file is truncated, not a checkpoint, or
            refused (it names code to run).
        ValueError: The file holds no state dict, or is already an mmpfcn
            checkpoint.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} can not be found')
    if path.endswith('.pkl'):
        checkpoint = safe_pickle_load(path)
    else:
        checkpoint = safe_torch_load(path, map_location='cpu')
    if isinstance(checkpoint, dict) and isinstance(
            checkpoint.get('state_dict'), dict) and any(
                k.startswith(MMPFCN_PREFIXES)
                for k in checkpoint['state_dict']):
        raise ValueError(
            f'{path} is already an mmpfcn checkpoint (state_dict with '
            f'{", ".join(MMPFCN_PREFIXES)} keys): nothing to convert, load '
            'it directly (tools/test.py, init_model)')
    if isinstance(checkpoint, dict) and isinstance(
            checkpoint.get('model'), dict):
        checkpoint = checkpoint['model']
    if not isinstance(checkpoint, dict) or not checkpoint or not all(
            isinstance(v, (torch.Tensor, np.ndarray))
            for v in checkpoint.values()):
        raise ValueError(f'{path} holds no state dict (expected a dict of '
                         'tensors, directly or under "model")')
    return checkpoint


def parse_args(argv: List[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a reference Panoptic FCN (detectron2) '
        'checkpoint to mmpfcn')
    parser.add_argument('src', help='reference checkpoint (.pth or .pkl)')
    parser.add_argument('dst', help='mmpfcn checkpoint to write (.pth)')
    parser.add_argument(
        '--dcn', action='store_true',
        help='the position head has DCNv2 convs (every released model)')
    parser.add_argument(
        '--star', action='store_true',
        help='the feature encoder has DCNv2 convs (the Star models)')
    parser.add_argument(
        '--trust-checkpoint', action='store_true',
        help='load SRC with full pickle, which runs any code it holds (only '
        'for a file you trust that the safe load refuses; same as '
        'MMPFCN_TRUST_CHECKPOINTS=1)')
    return parser.parse_args(argv)


def main(argv: List[str] = None) -> None:
    args = parse_args(argv)
    if args.trust_checkpoint:
        trust_checkpoints()
    state_dict = convert_state_dict(
        load_reference(args.src), dcn=args.dcn, star=args.star)
    meta = dict(
        converted_from=args.src,
        reference_layout=dict(dcn=args.dcn, star=args.star))
    torch.save(dict(state_dict=state_dict, meta=meta), args.dst)
    print(f'wrote {len(state_dict)} tensors to {args.dst}')


if __name__ == '__main__':
    try:
        main()
    except (LayoutError, CheckpointLoadError, ValueError,
            FileNotFoundError) as err:
        raise SystemExit(f'error: {err}') from None
