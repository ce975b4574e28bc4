"""Inference API: models from configs and checkpoints, predictions of
images (functional, or mmdet's Inferencer), and the files it writes."""
from .inference import (
    CheckpointMismatchError,
    build_inference_pipeline,
    inference_model,
    init_model,
    load_model_weights,
)
from .inputs import UnreadableImageError, list_images, read_image
from .onnx_export import NotExportableError, export_onnx
from .onnx_predictor import ONNXPanopticPredictor
from .optimize import optimize_for_inference
from .panoptic_inferencer import PanopticFCNInferencer

__all__ = [
    'CheckpointMismatchError', 'NotExportableError', 'ONNXPanopticPredictor',
    'PanopticFCNInferencer', 'UnreadableImageError',
    'build_inference_pipeline', 'export_onnx', 'inference_model',
    'init_model', 'list_images', 'load_model_weights',
    'optimize_for_inference', 'read_image'
]
