"""Peak bytes of the tensors a function makes, counted op by op (a
``TorchDispatchMode``), for memory tests that do not depend on the
allocator or on timing."""
import weakref
from typing import Any, Callable, Dict, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class TensorMemory(TorchDispatchMode):
    """Live and peak bytes of the storages made by the ops run inside.

    Every tensor an op returns is followed by a weak reference; a storage
    counts (its ``nbytes``, once however many views share it) from the
    first op that returns it until the last of those tensors is freed.
    Tensors made outside (inputs) count neither; buffers an op allocates
    and frees internally are not seen.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._refs: Dict[int, list] = {}  # data_ptr: [nbytes, tensors]

    def _release(self, key: int) -> None:
        entry = self._refs[key]
        entry[1] -= 1
        if entry[1] == 0:
            self.live -= entry[0]
            del self._refs[key]

    def _follow(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key == 0:
            return
        entry = self._refs.get(key)
        if entry is None:
            entry = self._refs[key] = [storage.nbytes(), 0]
            self.live += entry[0]
            self.peak = max(self.peak, self.live)
        entry[1] += 1
        weakref.finalize(tensor, self._release, key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for item in tree_flatten(out)[0]:
            if isinstance(item, torch.Tensor):
                self._follow(item)
        return out


def peak_tensor_bytes(func: Callable, *args, **kwargs) -> Tuple[int, Any]:
    """``(peak bytes of the tensors made while func ran, its result)``
    (see :class:`TensorMemory`)."""
    with TensorMemory() as memory:
        result = func(*args, **kwargs)
    return memory.peak, result
