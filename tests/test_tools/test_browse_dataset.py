"""browse_dataset.py: the training ground truth after the pipeline."""
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData, PixelData

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(ROOT, 'configs/panoptic_fcn/'
                       'panoptic-fcn_r18_fpn_synthetic-panoptic.py')
META = dict(classes=('disc', 'square', 'sky', 'grass'),
            thing_classes=('disc', 'square'))


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('analysis_tools/browse_dataset.py')


def test_ground_truth_segments(tool):
    stuff = np.array([[1, 1, 1, 255],
                      [1, 0, 0, 2],
                      [2, 0, 0, 2]], dtype=np.uint8)
    square = np.zeros((1, 3, 4), dtype=bool)
    square[0, 1:, 1:3] = True
    crowd = np.zeros((1, 3, 4), dtype=bool)
    crowd[0, 0, 0] = True
    sample = DetDataSample()
    sample.gt_sem_seg = PixelData(sem_seg=torch.from_numpy(stuff)[None])
    sample.gt_instances = InstanceData(masks=square, labels=np.array([1]))
    sample.ignored_instances = InstanceData(masks=crowd,
                                            labels=np.array([0]))
    id_map, segments = tool.ground_truth_segments(sample, META, (3, 4))
    by_id = {seg['id']: seg for seg in segments}
    names = {seg.get('name', META['classes'][seg['label']])
             for seg in segments}
    assert names == {'sky', 'grass', '', 'square', 'crowd disc'}
    assert by_id[id_map[0, 3]]['color'] == tool.VOID_COLOR
    assert by_id[id_map[2, 1]]['label'] == 1  # the square
    assert by_id[id_map[0, 0]]['color'] == tool.CROWD_COLOR
    assert by_id[id_map[2, 0]]['label'] == 3  # grass = stuff channel 2
    assert (id_map > 0).all()


def test_browse_dataset_draws_training_images(tool, synthetic_dataset_dir,
                                              tmp_path, capsys):
    out = tmp_path / 'browse'
    code = tool.main([
        DEMO_CONFIG, '--output-dir',
        str(out), '--max-images', '3', '--cfg-options',
        f'train_dataloader.dataset.data_root={synthetic_dataset_dir}/'
    ])
    assert code == 0
    pictures = sorted(os.listdir(out))
    assert len(pictures) == 3 and '3 picture(s)' in capsys.readouterr().out
    picture = mmcv.imread(str(out / pictures[0]))
    # the training pipeline resizes the 96x128 images (short side 160..224)
    assert 160 <= min(picture.shape[:2]) <= 224
