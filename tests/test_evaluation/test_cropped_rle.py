"""encode_cropped_mask: the RLE of a full-size mask from its box's crop is
pycocotools' encoding of the full mask."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmpfcn.evaluation.functional.rle import encode_cropped_mask


@pytest.mark.parametrize('seed', range(4))
def test_equals_pycocotools_on_the_full_mask(seed):
    rng = np.random.default_rng(seed)
    for case in range(100):
        height, width = (int(v) for v in rng.integers(1, 25, 2))
        y1, y2 = sorted(int(v) for v in rng.integers(0, height + 1, 2))
        x1, x2 = sorted(int(v) for v in rng.integers(0, width + 1, 2))
        if case % 3 == 0:  # full height: runs meet across columns
            y1, y2 = 0, height
        full = np.zeros((height, width), dtype=bool)
        full[y1:y2, x1:x2] = rng.random((y2 - y1, x2 - x1)) < rng.random()
        expected = mask_utils.encode(np.asfortranarray(full.astype(np.uint8)))
        got = encode_cropped_mask(full[y1:y2, x1:x2], (x1, y1),
                                  (height, width))
        assert got == expected, (seed, case)


def test_a_crop_outside_the_mask_is_refused():
    with pytest.raises(ValueError, match='does not fit'):
        encode_cropped_mask(np.ones((3, 3), bool), (8, 0), (10, 10))
