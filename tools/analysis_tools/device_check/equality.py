"""Check (1): the same weights give the same outputs on the device as on
the reference device (fp32; the caller turns TF32 off)."""
import copy
from typing import List, Sequence

import torch

from mmpfcn.apis.inference import iter_batches

from .compare import max_relative_difference, mismatch_fraction
from .models import sample_images
from .table import Row, tolerance_row

REL_TOL = 1e-4
#: output key -> table label
COMPARED = (('thing', 'thing logits'), ('stuff', 'stuff logits'),
            ('kernels', 'kernel maps'), ('encoded', 'F_e'))


@torch.no_grad()
def network_outputs(model: torch.nn.Module, batch: dict) -> dict:
    """Outputs of one collated batch (a deep copy is preprocessed on the
    model's device).

    Returns:
        dict: ``thing`` / ``stuff``: position-head logits per level
        ``(N, C_th | C_st, H_i, W_i)``; ``kernels``: kernel maps per level
        ``(N, C_e, H_i, W_i)``; ``encoded``: F_e ``(N, C_e, H/4, W/4)``;
        ``panoptic``: per image the panoptic map ``(1, H, W)``.
    """
    data = model.data_preprocessor(copy.deepcopy(batch), False)
    thing, stuff, kernels, encoded = model._forward(data['inputs'])
    samples = model.predict(data['inputs'], data['data_samples'])
    return dict(thing=thing, stuff=stuff, kernels=kernels, encoded=encoded,
                panoptic=[s.pred_panoptic_seg.sem_seg for s in samples])


def compare_outputs(outputs: Sequence[dict],
                    references: Sequence[dict]) -> List[Row]:
    """Rows of the equality check, each the worst over all images (and
    levels): largest relative difference of every :data:`COMPARED` output
    (passes within :data:`REL_TOL`), fraction of panoptic pixels that differ
    (passes at 0)."""
    rows = []
    for key, label in COMPARED:
        worst = max(max_relative_difference(out[key], ref[key])
                    for out, ref in zip(outputs, references))
        rows.append(tolerance_row(f'{label}: max relative difference',
                                  worst, REL_TOL))
    pixels = max(mismatch_fraction(a, b) for out, ref in
                 zip(outputs, references)
                 for a, b in zip(out['panoptic'], ref['panoptic']))
    rows.append(tolerance_row('panoptic maps: pixels that differ', pixels,
                              0.0))
    return rows


def check_equality(model: torch.nn.Module, device: torch.device,
                   ref_device: torch.device) -> List[Row]:
    """Copies of ``model`` on ``device`` and ``ref_device``, the two sample
    images one at a time."""
    runs = []
    for target in (device, ref_device):
        moved = copy.deepcopy(model).to(target).eval()
        runs.append([network_outputs(moved, batch) for batch in
                     iter_batches(moved, sample_images(), 1)])
        del moved
    rows = compare_outputs(*runs)
    for row in rows:
        row.check = f'{device} vs {ref_device} fp32, {row.check}'
    return rows
