"""The parts of ``tools/analysis_tools/gpu_check.py``: a device checked
against a reference device, one concept per module.

- :mod:`.table`: the rows of the printed table and the exit status;
- :mod:`.compare`: relative differences and differing pixels;
- :mod:`.precision`: device synchronisation, TF32 and autocast contexts;
- :mod:`.mmcv_fallback`: torchvision's NMS and RoIAlign for mmcv builds
  without CUDA ops (for mmdet's Panoptic FPN);
- :mod:`.models`: the models and the sample images the checks use;
- :mod:`.equality`, :mod:`.training`, :mod:`.timing`: the checks.

The first four import neither mmpfcn nor mmdet.
"""
