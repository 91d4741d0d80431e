"""Evaluation runs end to end: pair, evaluate (one process, a shard, or torchrun ranks), merge
shards, assemble ``results.json`` with provenance, and write a new results directory."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np

import eval.metrics as M
from mmgt.weights import sha256_file as file_sha256
from eval.harness import FRAME_METRICS, ClipOutcome, EvalConfig, Evaluator
from eval.pairing import Pairing
from eval.results import (
    SCHEMA_VERSION, environment, new_run_dir, now_iso, package_info, write_json,
)
from mmgt.errors import DataError
from mmgt.memory import reuse_freed_memory
from mmgt.video_io import atomic_path

PARTIAL = "partial.npz"
PARTIAL_META = "partial.json"


def files_hash(paths: list[Path]) -> str:
    """sha256 over the sorted ``(name, content sha256)`` list of the input videos."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(f"{p.parent.name}/{p.name}:{file_sha256(p)}\n".encode())
    return h.hexdigest()


def merge_states(into: dict[str, M.Metric], state_dicts: dict[str, dict[str, np.ndarray]], ev: Evaluator) -> None:
    """Merge saved metric states (one shard's ``state_dict``s) into ``into``."""
    fresh = ev.new_states()
    for key, metric in into.items():
        fresh[key].load_state_dict(state_dicts[key])
        metric.merge(fresh[key])


def _gather(
    states: dict[str, M.Metric], outcomes: list[ClipOutcome], ev: Evaluator
) -> tuple[dict[str, M.Metric], list[ClipOutcome]]:
    """Under torch.distributed, collect every rank's states and outcomes on all ranks and merge them."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return states, outcomes
    payload = ({k: m.state_dict() for k, m in states.items()}, [(o.clip_id, o.error, o.no_face) for o in outcomes])
    gathered: list = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, payload)
    merged_outcomes = []
    for rank, (state_dicts, outs) in enumerate(gathered):
        if rank != dist.get_rank():
            merge_states(states, state_dicts, ev)
        merged_outcomes += [ClipOutcome(cid, {} if err is None else None, err, nf) for cid, err, nf in outs]
    return states, sorted(merged_outcomes, key=lambda o: o.clip_id)


def evaluate(config: EvalConfig, evaluator: Evaluator | None = None) -> tuple[dict, dict[str, M.Metric], Evaluator]:
    """Run ``config``'s shard (all clips when unsharded); returns (results, states, evaluator)."""
    start = time.perf_counter()
    if config.reuse_memory:
        reuse_freed_memory()
    ev = evaluator or Evaluator(config)
    pairing = ev.pairing()
    pairs = ev.shard_pairs(pairing)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        pairs = pairs[dist.get_rank() :: dist.get_world_size()]
    states, outcomes = ev.run_clips(pairs)
    states, outcomes = _gather(states, outcomes, ev)
    results = assemble(config, ev, pairing, states, outcomes, seconds=time.perf_counter() - start)
    return results, states, ev


def assemble(
    config: EvalConfig, ev: Evaluator, pairing: Pairing, states: dict[str, M.Metric],
    outcomes: list[ClipOutcome], seconds: float,
) -> dict:
    """The results dictionary (schema in eval/results.py)."""
    metrics: dict[str, dict] = {}
    for key, metric in states.items():
        region = key.split("/")[0]
        prov = ev.extractors.provenance(metric.name)
        diag = metric.diagnostics()
        try:
            values = metric.compute()
        except (ValueError, ZeroDivisionError) as exc:  # e.g. no samples in this region
            values = {name: None for name in metric.directions}
            diag = {**diag, "error": str(exc)}
        for out, value in values.items():
            metrics.setdefault(region, {})[out] = {
                "value": None if value is None or not np.isfinite(value) else float(value),
                "direction": metric.directions[out],
                **diag,
                **prov,
            }
    untrained = any(v.get("untrained") for r in metrics.values() for v in r.values())
    failed = {o.clip_id: o.error for o in outcomes if o.error}
    return {
        "schema_version": SCHEMA_VERSION,
        "package": package_info(),
        "created": now_iso(),
        "protocol": config.protocol.to_dict(),
        "config": {
            "metrics": list(config.metrics), "regions": list(config.regions), "split": config.split,
            "shard": list(config.shard), "allow_untrained": config.allow_untrained, "batch_size": config.batch_size,
            "reuse_memory": config.reuse_memory,
        },
        "inputs": {
            "pred": str(config.pred), "gt": str(config.gt),
            "pred_files_sha256": files_hash([p.video for p, _ in pairing.pairs]),
            "gt_files_sha256": files_hash([g.video for _, g in pairing.pairs]),
            "n_pairs": len(pairing.pairs),
        },
        "clips": {
            "evaluated": [o.clip_id for o in outcomes if not o.error],
            "missing": pairing.missing,
            "extra": pairing.extra,
            "failed": failed,
            "no_face": [o.clip_id for o in outcomes if o.no_face],
        },
        "complete": not failed and not pairing.missing,
        "metrics": metrics,
        "untrained_extractors": untrained,
        "extractors": ev.extractors.provenance_all(config.metrics),
        "gesture_keypoints": ev.gesture_keypoints,
        "seeds": {"div": config.protocol.div_seed},
        "timing": {"seconds": round(seconds, 3), "clips": len(outcomes),
                   "compute_seconds": {k: round(v, 3) for k, v in sorted(ev.extractors.seconds.items())}},
        "environment": environment(),
    }


def per_clip_rows(states: dict[str, M.Metric], results: dict) -> list[dict]:
    """One row per (region, metric, clip) for the per-clip metrics; ``untrained`` marks values
    computed with a random-init extractor (as results.json does)."""
    rows = []

    def untrained(region: str, out: str) -> bool:
        return bool(results["metrics"].get(region, {}).get(out, {}).get("untrained"))

    for key, metric in states.items():
        region, name = key.split("/")
        if hasattr(metric, "clip_values"):
            for out, per_clip in metric.clip_values().items():
                rows += [{"region": region, "metric": out, "clip_id": c, "value": v, "untrained": untrained(region, out)}
                         for c, v in per_clip.items()]
        elif name in FRAME_METRICS:
            rows += [{"region": region, "metric": name, "clip_id": c, "value": v, "untrained": untrained(region, name)}
                     for c, v in metric.clip_means().items()]
    return rows


def write_run(results: dict, states: dict[str, M.Metric], out_root: Path, label: str = "eval") -> Path:
    """A new results directory with ``results.json`` and ``per_clip.csv``."""
    run_dir = new_run_dir(out_root, label)
    write_json(run_dir / "results.json", results)
    with atomic_path(run_dir / "per_clip.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["region", "metric", "clip_id", "value", "untrained"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(per_clip_rows(states, results))
    return run_dir


def write_partial(config: EvalConfig, states: dict[str, M.Metric], outcomes_meta: dict, out_dir: Path) -> Path:
    """Save a shard's metric states (``--shard i/N``) for ``mmgt-eval merge``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = {f"{key}::{k}": v for key, m in states.items() for k, v in m.state_dict().items()}
    with atomic_path(out_dir / PARTIAL) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    write_json(out_dir / PARTIAL_META, outcomes_meta)
    return out_dir


def load_partial(path: Path) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    """A saved shard: its state dicts by metric key, and its metadata."""
    meta_path = path / PARTIAL_META
    if not meta_path.is_file():
        raise DataError(path, "not a shard directory (no partial.json)")
    state_dicts: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path / PARTIAL, allow_pickle=False) as data:
        for name in data.files:
            key, field = name.split("::", 1)
            state_dicts.setdefault(key, {})[field] = data[name]
    return state_dicts, json.loads(meta_path.read_text())


__all__ = ["assemble", "evaluate", "load_partial", "merge_states", "per_clip_rows", "write_partial", "write_run"]
