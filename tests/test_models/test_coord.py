import torch

from mmpfcn.models.layers.coord import cat_coords, coord_features


def test_coord_features_values_and_order():
    x = torch.zeros(2, 5, 3, 5)
    coords = coord_features(x)
    assert coords.shape == (2, 2, 3, 5)
    # channel 0 is Y: constant along a row, -1 / 0 / 1 down the rows
    assert torch.equal(coords[0, 0, :, 0], torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.equal(coords[0, 0, 1], torch.zeros(5))
    # channel 1 is X: -1, -0.5, 0, 0.5, 1 along the columns
    assert torch.equal(coords[1, 1, 2],
                       torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]))
    assert torch.equal(coords[0], coords[1])


def test_coord_features_follows_dtype_and_single_pixel():
    coords = coord_features(torch.zeros(1, 1, 1, 2, dtype=torch.float64))
    assert coords.dtype == torch.float64
    # linspace(-1, 1, 1) is [-1]
    assert coords[0, 0].tolist() == [[-1.0, -1.0]]
    assert coords[0, 1].tolist() == [[-1.0, 1.0]]


def test_cat_coords_appends_after_features():
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    out = cat_coords(x)
    assert out.shape == (2, 5, 2, 2)
    assert torch.equal(out[:, :3], x)
    assert torch.equal(out[:, 3:], coord_features(x))
