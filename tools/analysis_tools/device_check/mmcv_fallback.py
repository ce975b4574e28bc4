"""torchvision's NMS and RoIAlign for mmdet models on a CUDA device when
mmcv was built without its CUDA ops (``MMCV_WITH_OPS=1 FORCE_CUDA=0``, as
on a device machine where only its CPU ops can be built in time).

mmdet's Panoptic FPN needs two mmcv ops: ``nms`` (RPN and the box head,
through ``mmcv.ops.batched_nms``) and ``RoIAlign`` (the RoI extractors).
mmcv's ``RoIAlign`` already takes ``use_torchvision``; its NMS kernel is
diverted here for the tensors that mmcv has no kernel for. Panoptic FCN
needs neither (its deformable convolution is pure PyTorch by default).
"""
import contextlib
import importlib
from typing import Callable, Iterator, Optional

import torch
from torch import Tensor

NMSFunction = Callable[[Tensor, Tensor, float], Tensor]


def mmcv_has_cuda_ops() -> bool:
    """Whether the installed mmcv's compiled ops include CUDA kernels."""
    from mmcv.ops import get_compiling_cuda_version
    return get_compiling_cuda_version() not in ('not available', '')


def _torchvision_nms(boxes: Tensor, scores: Tensor,
                     iou_threshold: float) -> Tensor:
    import torchvision
    return torchvision.ops.nms(boxes, scores, iou_threshold)


@contextlib.contextmanager
def divert_nms(nms: Optional[NMSFunction] = None,
               divert: Callable[[Tensor], bool] = lambda t: t.is_cuda
               ) -> Iterator[None]:
    """Inside the context, mmcv's NMS kernel runs ``nms`` on the boxes
    that ``divert`` selects (default: CUDA tensors) and mmcv's own kernel
    on the others.

    Args:
        nms (callable, optional): ``(boxes (N, 4) x1y1x2y2, scores (N,),
            iou_threshold) -> kept indices (K,)`` by decreasing score, as
            mmcv's kernel returns them. Defaults to torchvision's.
        divert (callable): ``boxes -> bool``.
    """
    # the module (mmcv.ops re-exports its function nms under that name)
    nms_module = importlib.import_module('mmcv.ops.nms')
    nms = nms or _torchvision_nms
    original = nms_module.ext_module

    class Diverted:
        """mmcv's extension module with ``nms`` diverted."""

        def __getattr__(self, name: str):
            return getattr(original, name)

        @staticmethod
        def nms(boxes: Tensor, scores: Tensor, iou_threshold: float,
                offset: int) -> Tensor:
            if not divert(boxes):
                return original.nms(boxes, scores,
                                    iou_threshold=iou_threshold,
                                    offset=offset)
            if offset != 0:
                raise ValueError('the diverted NMS takes offset 0 (x2 - x1 '
                                 f'as the width), got offset {offset}')
            return nms(boxes, scores, float(iou_threshold))

    nms_module.ext_module = Diverted()
    try:
        yield
    finally:
        nms_module.ext_module = original


def use_torchvision_roi_align(model: torch.nn.Module) -> int:
    """Switch every mmcv ``RoIAlign`` in ``model`` to torchvision's kernel,
    in place.

    Returns:
        int: How many were switched.
    """
    from mmcv.ops import RoIAlign
    layers = [m for m in model.modules() if isinstance(m, RoIAlign)]
    for layer in layers:
        layer.use_torchvision = True
    return len(layers)
