"""Distributed set-up of the tools: gloo on machines without CUDA, a
collective timeout everywhere, and ``--amp`` only where it can help.

mmengine 0.10.7 assumes a GPU per process when it initialises
``torch.distributed`` (it calls ``torch.cuda.set_device``, which a CPU build
of torch does not have) and when it wraps the model (``device_ids=[rank]``,
which ``DistributedDataParallel`` rejects for a CPU module). Without CUDA the
tools therefore open the gloo process group themselves (the runner then
finds it initialised and keeps it) and wrap the model without device ids.
"""
import datetime
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log

# seconds a collective may wait for the other ranks before it raises: a
# rank that died or hangs stops the whole job instead of blocking it
DEFAULT_COLLECTIVE_TIMEOUT = 1800


def setup_distributed(cfg: Config, launcher: str) -> None:
    """Choose the backend and the collective timeout of a distributed run.

    With CUDA the config's ``env_cfg.dist_cfg`` stays (nccl by default),
    with ``timeout`` set to :data:`DEFAULT_COLLECTIVE_TIMEOUT` if missing.
    Without CUDA the backend becomes gloo: the default process group is
    initialised here from the torchrun variables (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``) and the model wrapper is told to use
    no device ids. ``launcher='none'`` changes nothing.

    Args:
        cfg (Config): The run's config, updated in place.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Raises:
        RuntimeError: Without CUDA for a launcher other than ``'pytorch'``
            (use ``tools/dist_train.sh`` / ``dist_test.sh``).
    """
    if launcher == 'none':
        return
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    dist_cfg.setdefault('timeout', DEFAULT_COLLECTIVE_TIMEOUT)
    if torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise RuntimeError(
            f'--launcher {launcher} needs CUDA GPUs; on a machine without '
            'CUDA start the processes with torchrun (tools/dist_train.sh or '
            'tools/dist_test.sh, --launcher pytorch), which uses gloo')
    dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None  # a CPU module takes none
    cfg.model_wrapper_cfg = wrapper
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(
            backend='gloo',
            timeout=datetime.timedelta(seconds=dist_cfg['timeout']))
    print_log(
        f'no CUDA: rank {torch_dist.get_rank()} of '
        f'{torch_dist.get_world_size()} uses the gloo backend (collective '
        f'timeout {dist_cfg["timeout"]} s, master '
        f'{os.environ.get("MASTER_ADDR")}:{os.environ.get("MASTER_PORT")})',
        logger='current')


def check_amp_device() -> None:
    """Fail early and clearly when ``--amp`` is asked for without CUDA.

    Raises:
        RuntimeError: If CUDA is not available.
    """
    if not torch.cuda.is_available():
        raise RuntimeError(
            '--amp needs a CUDA GPU: mixed precision (float16 autocast with '
            'loss scaling) cannot speed up training on the CPU, and '
            "mmengine's AmpOptimWrapper refuses to run there; train without "
            '--amp')
