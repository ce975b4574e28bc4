"""The panoptic visualiser: ground truth rebuilt from the test pipeline's
annotations, ground truth | prediction pictures."""
import numpy as np
import torch
from mmdet.evaluation import INSTANCE_OFFSET
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData, PixelData

from mmpfcn.visualization import PanopticFCNVisualizer, gt_panoptic_map

THINGS = ('disc', 'square')
STUFF = ('sky', 'grass')
META = dict(
    classes=THINGS + STUFF,
    thing_classes=THINGS,
    stuff_classes=STUFF,
    palette=[(220, 40, 40), (40, 60, 220), (150, 195, 240), (70, 140, 50)])


def _sample() -> DetDataSample:
    """4x6 image: sky on top, grass below, one square, one crowd disc, one
    void pixel (255)."""
    stuff = np.array([[1, 1, 1, 1, 1, 255],
                      [1, 0, 0, 1, 1, 1],
                      [2, 0, 0, 2, 0, 2],
                      [2, 2, 2, 2, 2, 2]], dtype=np.uint8)
    square = np.zeros((1, 4, 6), dtype=bool)
    square[0, 1:3, 1:3] = True
    crowd = np.zeros((1, 4, 6), dtype=bool)
    crowd[0, 2, 4] = True
    sample = DetDataSample()
    sample.gt_sem_seg = PixelData(sem_seg=torch.from_numpy(stuff)[None])
    sample.gt_instances = InstanceData(
        masks=torch.from_numpy(square), labels=torch.tensor([1]))
    sample.ignored_instances = InstanceData(
        masks=torch.from_numpy(crowd), labels=torch.tensor([0]))
    return sample


def test_gt_panoptic_map_from_annotations():
    pan = gt_panoptic_map(_sample(), num_things_classes=2, num_classes=4)
    expected = np.array([[2, 2, 2, 2, 2, 4],
                         [2, 0, 0, 2, 2, 2],
                         [3, 0, 0, 3, 0, 3],
                         [3, 3, 3, 3, 3, 3]])
    square = 1 + 1 * INSTANCE_OFFSET
    crowd = 0 + 2 * INSTANCE_OFFSET
    expected = np.where(expected == 0, square, expected)
    expected[2, 4] = crowd
    np.testing.assert_array_equal(pan, expected)


def test_gt_panoptic_map_without_annotations_is_none():
    assert gt_panoptic_map(DetDataSample(), 2, 4) is None


def test_draws_ground_truth_beside_prediction(tmp_path):
    sample = _sample()
    pred = torch.full((1, 4, 6), 2, dtype=torch.long)
    pred[0, 2:, :] = 3
    pred[0, 1:3, 1:3] = 1 + INSTANCE_OFFSET
    pred[0, 0, 5] = 4  # void
    # predictions are at the original size (2x the pipeline's GT here)
    pred = pred.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)
    sample.pred_panoptic_seg = PixelData(sem_seg=pred)
    # the model's stuff-channel semantic map and raw instances must not be
    # painted with dataset class colours
    sample.pred_sem_seg = PixelData(sem_seg=torch.zeros(1, 8, 12).long())
    sample.pred_instances = InstanceData(
        masks=torch.ones(1, 8, 12, dtype=torch.bool),
        labels=torch.tensor([0]), scores=torch.tensor([0.9]),
        bboxes=torch.tensor([[0., 0., 12., 8.]]))
    vis = PanopticFCNVisualizer(name='test_vis', save_dir=str(tmp_path))
    vis.dataset_meta = META
    image = np.full((8, 12, 3), 128, dtype=np.uint8)
    out_file = tmp_path / 'vis.png'
    vis.add_datasample('img', image, sample, out_file=str(out_file))
    drawn = vis.get_image()
    assert drawn.shape == (8, 24, 3)
    assert out_file.is_file()
    gt_half, pred_half = drawn[:, :12], drawn[:, 12:]
    # both maps are alike except for the crowd disc and the void pixel:
    # the drawn halves differ only around them
    assert not np.array_equal(gt_half, image)
    assert not np.array_equal(pred_half, image)
    # the bottom-left grass pixels look the same on both sides
    np.testing.assert_array_equal(gt_half[7, 0], pred_half[7, 0])


def test_all_void_prediction_leaves_its_half_blank(tmp_path):
    sample = _sample()
    void = len(META['classes'])
    sample.pred_panoptic_seg = PixelData(
        sem_seg=torch.full((1, 4, 6), void, dtype=torch.long))
    vis = PanopticFCNVisualizer(name='test_vis_void', save_dir=str(tmp_path))
    vis.dataset_meta = META
    image = np.full((4, 6, 3), 128, dtype=np.uint8)
    vis.add_datasample('img', image, sample)
    drawn = vis.get_image()
    assert not np.array_equal(drawn[:, :6], image)
    np.testing.assert_array_equal(drawn[:, 6:], image)
