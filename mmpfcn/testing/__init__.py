"""Helpers of the test suite and of the tools that share its cases (as
``mmdet.testing``), one concept per module, imported by their module::

    from mmpfcn.testing.panoptic_samples import tiny_head
    from mmpfcn.testing.panoptic_cases import make_case, write_split

- :mod:`.panoptic_samples`: tiny panoptic inputs and a tiny head for the
  model tests;
- :mod:`.golden_cases`: the recorded golden inference outputs (shared by
  ``tests/test_models/test_golden_outputs.py`` and
  ``tools/misc/record_golden_outputs.py``);
- :mod:`.panoptic_cases`: generated ground-truth / prediction pairs for
  the PQ tests and ``tools/analysis_tools/benchmark_pq.py``;
- :mod:`.street_scenes`: fake Cityscapes and Mapillary Vistas trees;
- :mod:`.dataset_checks`: PNG ids and log capture of the dataset tests;
- :mod:`.toy_training`: a tiny mmengine training for the checkpoint tests;
- :mod:`.train_runs` and :mod:`.train_probe`: subprocess runs of the
  training tools and the hook that records them.
- :mod:`.tensor_memory`: peak bytes of the tensors a function makes, op
  by op, for the memory tests.

Nothing here is imported by ``import mmpfcn``, and nothing imports pytest:
the modules import what they need when they are imported themselves.
"""
