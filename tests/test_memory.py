"""mmgt.memory: with freed memory kept, repeated large allocations stop page-faulting."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

ROUNDS = """
import json, resource, sys
import torch
from mmgt.memory import reuse_freed_memory
enabled = reuse_freed_memory() if sys.argv[1] == "reuse" else False
for _ in range(10):  # warm-up: the heap grows until freed (coalesced) buffers fit the next, aligned one
    torch.ones(12 << 20)  # 48 MiB: above glibc's largest mmap threshold
start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    torch.ones(12 << 20)  # allocated, written and freed, like an activation buffer
print(json.dumps({"enabled": enabled, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start}))
"""


def faults(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", ROUNDS, mode], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_freed_buffers_are_reused_without_page_faults():
    default, reused = faults("default"), faults("reuse")
    pages = 5 * (48 << 20) // 4096
    assert default["faults"] > pages // 2  # glibc unmaps each buffer on free and faults it in again
    assert reused["enabled"] and reused["faults"] < pages // 50
