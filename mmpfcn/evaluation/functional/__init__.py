"""Pure evaluation functions (no runner imports)."""
from .panoptic_checks import PanopticConsistencyError, PanopticFormatError
from .panoptic_io import (
    bgr2id,
    decode_segments,
    encode_segments,
    id2rgb,
    read_panoptic_png,
    rgb2id,
    write_panoptic_png,
)
from .pq import ENGINES, evaluate_panoptic, print_panoptic_table, summarize_pq

__all__ = [
    'ENGINES', 'PanopticConsistencyError', 'PanopticFormatError', 'bgr2id',
    'decode_segments', 'encode_segments', 'evaluate_panoptic', 'id2rgb',
    'print_panoptic_table', 'read_panoptic_png', 'rgb2id', 'summarize_pq',
    'write_panoptic_png'
]
