"""Panoptic FCN with the network in onnxruntime and the post-processing
(kernel selection, masks, merge) of the PyTorch model."""
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmdet.structures import DetDataSample

from .inference import ImageInput, init_model, run_batches
from .onnx_export import INPUT_NAME, output_names, split_outputs


class ONNXPanopticPredictor:
    """Run an exported network (``tools/deployment/export_onnx.py``) with
    onnxruntime and the same pre- and post-processing as
    :func:`~mmpfcn.apis.inference_model`.

    The post-processing needs the model's structure and its kernel
    embedding weights, so the config and checkpoint of the export are
    given too.

    Args:
        onnx_file (str): The exported model.
        config (str | Config): Its config.
        checkpoint (str, optional): Its checkpoint.
        cfg_options (dict, optional): Config overrides (as at export).
        providers (Sequence[str]): onnxruntime execution providers.
            Defaults to ``('CPUExecutionProvider',)``.
        num_threads (int, optional): onnxruntime intra-op threads
            (default: onnxruntime's choice).
    """

    def __init__(self,
                 onnx_file: str,
                 config,
                 checkpoint: Optional[str] = None,
                 cfg_options: Optional[dict] = None,
                 providers: Sequence[str] = ('CPUExecutionProvider', ),
                 num_threads: Optional[int] = None) -> None:
        import onnxruntime as ort

        self.model = init_model(config, checkpoint, 'cpu', cfg_options)
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        self.session = ort.InferenceSession(
            str(onnx_file), options, providers=list(providers))
        self.num_levels = len(self.model.panoptic_head.strides)
        expected = output_names(self.num_levels)
        outputs = self.session.get_outputs()
        head = self.model.panoptic_head
        channels = [head.num_things_classes] * self.num_levels + \
            [head.num_stuff_classes + 1] * self.num_levels
        found = [out.name for out in outputs]
        found_channels = [out.shape[1] for out in outputs[:len(channels)]]
        if found != expected or found_channels != channels:
            raise ValueError(
                f'{onnx_file}: outputs {found} with class channels '
                f'{found_channels} do not fit the config (expected '
                f'{expected} with {channels}); export it with '
                'tools/deployment/export_onnx.py and this config')

    @property
    def dataset_meta(self) -> dict:
        return self.model.dataset_meta

    def network(self, batch_inputs: torch.Tensor) -> tuple:
        """Network outputs as the detector's ``_forward`` returns them.

        Args:
            batch_inputs (Tensor): Normalised padded images (B, 3, H, W).

        Returns:
            tuple: thing logits, stuff logits and kernel maps per level,
            and F_e, as CPU float tensors.
        """
        feed = {INPUT_NAME: np.ascontiguousarray(
            batch_inputs.detach().cpu().numpy(), dtype=np.float32)}
        flat = [torch.from_numpy(out) for out in self.session.run(None, feed)]
        return split_outputs(flat, self.num_levels)

    def test_step(self, data: dict) -> List[DetDataSample]:
        """Preprocess a collated batch, run the network, post-process."""
        data = self.model.data_preprocessor(data, False)
        outs = self.network(data['inputs'])
        return self.model.predict_by_feat(outs, data['data_samples'])

    def __call__(
        self, images: Union[ImageInput, Path, Sequence[ImageInput]],
        batch_size: int = 1
    ) -> Union[DetDataSample, List[DetDataSample]]:
        """Results of one or many images, as
        :func:`~mmpfcn.apis.inference_model` returns them."""
        return run_batches(self.model, images, batch_size, self.test_step)
