"""Keep freed memory mapped, so repeated network forwards stop page-faulting their activations.

glibc serves blocks above its mmap threshold (at most 32 MiB) with ``mmap`` and unmaps them on free;
an Inception batch's activations exceed that, so every forward pass faults and zeroes them afresh
(about 0.5 million page faults per 64 frames at batch 32 here, ~20% of the time). Serving every
allocation from the heap and never trimming it keeps those pages for reuse, which is what jemalloc
or tcmalloc give CPU inference. The cost: the process's resident memory stays at its peak.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc mallopt parameters (malloc.h)
TRIM_ABOVE = 2**31 - 1  # the largest threshold mallopt takes: only a free top of the heap over 2 GiB goes back


@functools.cache
def reuse_freed_memory() -> bool:
    """Ask glibc to allocate from the heap only and keep what is freed; False where libc is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_ABOVE))
