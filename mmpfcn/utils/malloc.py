"""Keep freed memory in glibc's heap during inference.

By default glibc serves every allocation above a (dynamic, at most 32 MB)
threshold with its own ``mmap`` and returns freed heap tops to the system,
so each large activation of every image costs fresh pages: one page fault
per 4 KB, zeroed by the kernel: a large share of the end-to-end time of a
CPU inference (``benchmark.py`` with and without ``--default-malloc``;
measurements in docs/benchmarks.md). Raising both thresholds reuses
the memory instead; computations and results are unchanged, the process
keeps its peak memory until it exits.
"""
import ctypes
import ctypes.util
import functools
from typing import Optional

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 30  # allocations served by their own mmap
TRIM_THRESHOLD = 2**31 - 1  # free heap top kept (mallopt takes an int)


@functools.lru_cache(maxsize=1)
def _libc() -> Optional[ctypes.CDLL]:
    """The C library, looked up once (``find_library`` runs ``ldconfig``
    in a subprocess); None where it cannot be loaded."""
    try:
        return ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    except OSError:
        return None


def keep_freed_memory() -> bool:
    """Make glibc reuse freed memory for large tensors (see the module
    docstring). A no-op where the C library has no ``mallopt`` (macOS,
    musl, Windows).

    Returns:
        bool: Whether both settings were applied.
    """
    mallopt = getattr(_libc(), 'mallopt', None)
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (all fields size_t)."""
    _fields_ = [(name, ctypes.c_size_t)
                for name in ('arena', 'ordblks', 'smblks', 'hblks', 'hblkhd',
                             'usmblks', 'fsmblks', 'uordblks', 'fordblks',
                             'keepcost')]


def heap_in_use() -> Optional[int]:
    """Bytes allocated and not freed (heap + mmapped chunks, all arenas),
    whether or not freed memory is kept; None without glibc's
    ``mallinfo2`` (glibc < 2.33 and other C libraries).

    Returns:
        int | None: Bytes in use.
    """
    mallinfo2 = getattr(_libc(), 'mallinfo2', None)
    if mallinfo2 is None:
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return info.uordblks + info.hblkhd
