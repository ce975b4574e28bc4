"""``tools/test.py --show-dir``: painted predictions under names that
replace no dataset image and no other painting of the run."""
import os.path as osp
from typing import Sequence

import mmcv
import numpy as np
from mmdet.engine.hooks import DetVisualizationHook
from mmdet.structures import DetDataSample
from mmengine.fileio import get
from mmengine.utils import mkdir_or_exist

from mmpfcn.apis.output_names import OutputNamer
from mmpfcn.registry import HOOKS


@HOOKS.register_module()
class PanopticVisualizationHook(DetVisualizationHook):
    """mmdet's ``DetVisualizationHook`` with test outputs named by an
    :class:`~mmpfcn.apis.output_names.OutputNamer`.

    mmdet writes each test painting as ``basename(img_path)`` into
    ``WORK_DIR/TIMESTAMP/test_out_dir``: an absolute ``test_out_dir`` that
    is the image folder overwrites the dataset's images, and two images of
    the same name (in two folders) overwrite each other. Here the painting
    of ``<stem><ext>`` is ``<stem><ext>`` or, when that is an image of the
    test set or already written by this run, ``<stem>-<n><ext>``. The
    folder is resolved once per test run (mmdet joins it again at every
    iteration, nesting it). Arguments as ``DetVisualizationHook``'s.
    """

    def before_test(self, runner) -> None:
        self._namer = None
        if self.draw and self.test_out_dir is not None:
            out_dir = osp.join(runner.work_dir, runner.timestamp,
                               self.test_out_dir)
            mkdir_or_exist(out_dir)
            dataset = runner.test_dataloader.dataset
            images = (dataset.get_data_info(index).get('img_path', '')
                      for index in range(len(dataset)))
            self._namer = OutputNamer(out_dir, (), images)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence[DetDataSample]) -> None:
        if self._namer is None:
            # --show only: mmdet's hook paints without writing
            return super().after_test_iter(runner, batch_idx, data_batch,
                                           outputs)
        for sample in outputs:
            self._test_index += 1
            stem, ext = osp.splitext(osp.basename(sample.img_path))
            name = self._namer(stem, (ext, )) + ext
            self._visualizer.add_datasample(
                osp.basename(sample.img_path) if self.show else 'test_img',
                self._read_rgb(sample.img_path),
                data_sample=sample,
                show=self.show,
                wait_time=self.wait_time,
                pred_score_thr=self.score_thr,
                out_file=osp.join(self._namer.out_dir, name),
                step=self._test_index)

    def _read_rgb(self, path: str) -> np.ndarray:
        """The (H, W, 3) RGB image at ``path``."""
        return mmcv.imfrombytes(get(path, backend_args=self.backend_args),
                                channel_order='rgb')
