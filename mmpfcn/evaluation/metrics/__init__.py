"""Runner metrics of mmpfcn."""
from .dump_results import (
    DumpPanopticResults,
    decode_prediction,
    encode_prediction,
    load_predictions,
)
from .panoptic_fcn_metric import PanopticFCNMetric

__all__ = [
    'DumpPanopticResults', 'PanopticFCNMetric', 'decode_prediction',
    'encode_prediction', 'load_predictions'
]
