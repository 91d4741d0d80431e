"""Floating-point work and this CPU's matrix-multiply rate: the floor any implementation of a computation has.

``gflop(fn)`` counts the matmul/convolution FLOPs of one call (torch's ``FlopCounterMode``);
``gemm_gflops`` measures fp32 matrix-multiply GFLOP/s at given shapes. Their ratio is the least time
the same network computation could take on this machine, whatever the kernels: the benches report it
next to their measured times.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def gflop(fn: Callable[[], object]) -> float:
    """GFLOP (matmuls and convolutions, 2 per multiply-add) of one call of ``fn``."""
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def gemm_gflops(threads: int, rows: int = 2048, dim: int = 2048, repeats: int = 10) -> float:
    """fp32 GFLOP/s of ``(rows, dim) @ (dim, dim)`` with ``threads`` threads (one warm-up pass first)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(rows, dim), torch.randn(dim, dim)
    for _ in range(max(1, repeats // 10)):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return round(2 * rows * dim * dim * repeats / (time.perf_counter() - start) / 1e9, 1)
