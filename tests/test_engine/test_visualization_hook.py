"""PanopticVisualizationHook (``tools/test.py --show-dir``): paintings
replace no dataset image and no other painting."""
from types import SimpleNamespace

import mmcv
import numpy as np
from mmdet.structures import DetDataSample
from mmengine.visualization import Visualizer

from mmpfcn.engine import PanopticVisualizationHook


class Images:
    """The dataset API the hook reads: ``len`` and ``get_data_info``."""

    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def get_data_info(self, index):
        return dict(img_path=self.paths[index])


def test_show_dir_in_the_image_folder_keeps_every_image(tmp_path):
    # --show-dir (absolute) is the image folder, which holds x.png; a
    # second x.png lies in another folder
    images, other = tmp_path / 'images', tmp_path / 'other'
    paths = [str(images / 'x.png'), str(other / 'x.png')]
    for index, path in enumerate(paths):
        mmcv.imwrite(np.full((4, 6, 3), index, np.uint8), path)
    Visualizer.get_instance('test_visualization_hook')
    hook = PanopticVisualizationHook(draw=True, test_out_dir=str(images))
    written = []

    def paint(name, image, data_sample, out_file, **kwargs):
        mmcv.imwrite(np.full_like(image, 255), out_file)
        written.append(out_file)

    hook._visualizer = SimpleNamespace(add_datasample=paint)
    runner = SimpleNamespace(
        work_dir=str(tmp_path / 'work'), timestamp='20260101_000000',
        test_dataloader=SimpleNamespace(dataset=Images(paths)))
    hook.before_test(runner)
    samples = [DetDataSample(metainfo=dict(img_path=p)) for p in paths]
    hook.after_test_iter(runner, 0, {}, samples[:1])
    hook.after_test_iter(runner, 1, {}, samples[1:])
    assert written == [str(images / 'x-1.png'), str(images / 'x-2.png')]
    for index, path in enumerate(paths):
        assert (mmcv.imread(path) == index).all(), f'{path} was replaced'
