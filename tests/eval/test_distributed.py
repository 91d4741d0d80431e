"""torchrun-style evaluation (gloo on CPU): two processes give the one-process numbers."""

from __future__ import annotations

import socket
from pathlib import Path

import torch.distributed as dist
import torch.multiprocessing as mp

from eval.config import EvalConfig
from eval.run import evaluate


def _config(pred: Path, gt: Path, cache: Path) -> EvalConfig:
    return EvalConfig(pred=pred, gt=gt, metrics=("psnr", "ssim"), regions=("face",), cache_dir=cache, progress=False)


def _worker(rank: int, port: int, pred: str, gt: str, cache: str, out: dict) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        results, _, _ = evaluate(_config(Path(pred), Path(gt), Path(cache)))
        out[rank] = (results["metrics"], results["clips"]["evaluated"])
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one(tiny_split, method_outputs, tmp_path):
    single, _, _ = evaluate(_config(method_outputs["still"], tiny_split, tmp_path / "c1"))
    out = mp.Manager().dict()
    mp.spawn(_worker, args=(_free_port(), str(method_outputs["still"]), str(tiny_split), str(tmp_path / "c2"), out), nprocs=2)
    for rank in (0, 1):
        metrics, evaluated = out[rank]
        assert evaluated == single["clips"]["evaluated"]
        for name in ("psnr", "ssim"):
            assert metrics["face"][name]["value"] == single["metrics"]["face"][name]["value"]
