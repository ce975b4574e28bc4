"""Device synchronisation and the numeric modes of the device check: fp32
with TF32 off or on, and autocast. Every ``torch.cuda`` call is behind a
CUDA device."""
import contextlib
from typing import Iterator

import torch

#: autocast dtype of the AMP rows, by device type (CPU autocast: bf16)
AMP_DTYPES = {'cuda': torch.float16, 'cpu': torch.bfloat16}


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA; nothing to wait for on a
    CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """TF32 matmuls and convolutions on or off (read by CUDA kernels only),
    restored afterwards."""
    saved = (torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32,
         torch.backends.cudnn.allow_tf32) = saved


def amp_dtype(device: torch.device) -> torch.dtype:
    """The autocast dtype of inference with AMP on ``device``."""
    if device.type not in AMP_DTYPES:
        raise ValueError(f'no autocast dtype for device {device} (known: '
                         f'{", ".join(AMP_DTYPES)})')
    return AMP_DTYPES[device.type]


def inference_mode(mode: str, device: torch.device
                   ) -> contextlib.AbstractContextManager:
    """The context of a timed run.

    Args:
        mode (str): ``'fp32'`` or ``'compile'`` (as set outside, TF32 off
            in gpu_check), ``'tf32'`` (TF32 on) or ``'amp'`` (autocast in
            :func:`amp_dtype`).
        device (torch.device): Where the model runs.
    """
    if mode == 'tf32':
        return tf32(True)
    if mode == 'amp':
        return torch.autocast(device.type, dtype=amp_dtype(device))
    if mode in ('fp32', 'compile'):
        return contextlib.nullcontext()
    raise ValueError(f'unknown inference mode {mode!r}')
