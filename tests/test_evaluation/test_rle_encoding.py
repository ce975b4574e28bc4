"""RLE encoding of id maps (mmpfcn.evaluation.functional.rle) against
pycocotools and numpy."""

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from mmpfcn.evaluation.functional.rle import (
    distinct_values,
    encode_id_map,
    encode_masks,
)


def test_encode_id_map_is_pycocotools_encode():
    rng = np.random.default_rng(0)
    for _ in range(50):
        h, w = rng.integers(1, 9, size=2)
        id_map = rng.integers(0, rng.integers(1, 5), size=(h, w))
        ids, rles, areas = encode_id_map(id_map)
        np.testing.assert_array_equal(ids, np.unique(id_map))
        masks = np.stack([id_map == i for i in ids])
        assert rles == [mask_utils.encode(np.asfortranarray(m, np.uint8))
                        for m in masks]
        np.testing.assert_array_equal(areas, masks.sum((1, 2)))
        assert encode_masks(torch.from_numpy(masks)) == rles


def test_distinct_values_is_np_unique():
    rng = np.random.default_rng(2)
    for _ in range(50):
        h, w = rng.integers(0, 9, size=2)
        array = rng.integers(0, rng.integers(1, 6), size=(h, w))
        np.testing.assert_array_equal(distinct_values(array),
                                      np.unique(array))
        np.testing.assert_array_equal(distinct_values(array.T),
                                      np.unique(array))


@pytest.mark.parametrize('dtype', [np.uint8, np.int16, np.int32, np.uint32,
                                   np.int64])
def test_encode_id_map_of_every_integer_width(dtype):
    """Each item size takes its own transpose path (8 bytes: two int32
    channels); non-contiguous maps included."""
    rng = np.random.default_rng(1)
    high = np.iinfo(dtype).max
    id_map = rng.choice(np.array([0, 1, high // 3, high], dtype=dtype),
                        size=(37, 53))
    for array in (id_map, id_map[::2, ::-1]):
        ids, rles, areas = encode_id_map(array)
        assert ids.dtype == dtype
        np.testing.assert_array_equal(ids, np.unique(array))
        assert rles == [mask_utils.encode(np.asfortranarray(array == i,
                                                            np.uint8))
                        for i in ids]
        np.testing.assert_array_equal(areas, [(array == i).sum()
                                              for i in ids])
