"""Runner metrics of mmpfcn: panoptic quality, mask AP and semantic mIoU,
which a config lists together as its evaluators and which share the
encoding of each sample, and the compact prediction dump."""
from .dump_results import (
    DumpPanopticResults,
    decode_prediction,
    encode_prediction,
    load_predictions,
)
from .panoptic_mask_ap_metric import PanopticMaskAPMetric
from .panoptic_quality_metric import PanopticQualityMetric
from .semantic_iou_metric import SemanticIoUMetric

__all__ = [
    'DumpPanopticResults', 'PanopticMaskAPMetric', 'PanopticQualityMetric',
    'SemanticIoUMetric', 'decode_prediction', 'encode_prediction',
    'load_predictions'
]
