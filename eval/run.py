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
from eval.bootstrap import add_intervals
from eval.config import FRAME_METRICS, EvalConfig
from eval.harness import ClipOutcome, Evaluator
from eval.pairing import Pairing
from eval.results import (
    PER_CLIP_FILE, SCHEMA_VERSION, environment, new_run_dir, now_iso, package_info, write_json,
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
    payload = ({k: m.state_dict() for k, m in states.items()}, [o.record() for o in outcomes])
    gathered: list = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, payload)
    merged_outcomes = []
    for rank, (state_dicts, outs) in enumerate(gathered):
        if rank != dist.get_rank():
            merge_states(states, state_dicts, ev)
        merged_outcomes += [ClipOutcome(cid, {} if err is None else None, err, *rest) for cid, err, *rest in outs]
    return states, sorted(merged_outcomes, key=lambda o: o.clip_id)


def evaluate(config: EvalConfig, evaluator: Evaluator | None = None) -> tuple[dict, dict[str, M.Metric], Evaluator]:
    """Run ``config``'s shard (all clips when unsharded); returns (results, states, evaluator)."""
    start = time.perf_counter()
    if config.reuse_memory:
        reuse_freed_memory()
    ev = evaluator or Evaluator(config)
    pairing = ev.pairing()
    ev.extractors.provenance_all(ev.metrics)  # every network the metrics need, weights checked before the first clip
    pairs = ev.shard_pairs(pairing)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        pairs = pairs[dist.get_rank() :: dist.get_world_size()]
    states, outcomes = ev.run_clips(pairs)
    states, outcomes = _gather(states, outcomes, ev)
    results = assemble(config, ev, pairing, states, outcomes, seconds=time.perf_counter() - start)
    return results, states, ev


def run_identity(config: EvalConfig) -> dict:
    """The part of results.json fixed by the settings alone: protocol, config and input folders."""
    return {
        "protocol": config.protocol.to_dict(),
        "config": {
            "metrics": list(config.metrics), "regions": list(config.regions), "split": config.split,
            "shard": list(config.shard), "allow_untrained": config.allow_untrained, "batch_size": config.batch_size,
            "reuse_memory": config.reuse_memory, "bootstrap": {"B": config.bootstrap, "seed": config.bootstrap_seed},
        },
        "inputs": {"pred": str(config.pred), "gt": str(config.gt)},
    }


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
    faces = {o.clip_id: o.faces for o in outcomes if o.faces}
    face_track = ev.face_track_provenance()
    for region in ("face", "lip"):
        for entry in metrics.get(region, {}).values():
            entry.update(face_counts(faces))
            entry["untrained"] = bool(entry.get("untrained") or (face_track and face_track["untrained"]))
    untrained = any(v.get("untrained") for r in metrics.values() for v in r.values())
    failed = {o.clip_id: o.error for o in outcomes if o.error}
    resized = {o.clip_id: o.resized for o in outcomes if o.resized}
    resampled = {o.clip_id: o.resampled for o in outcomes if o.resampled}
    identity = run_identity(config)
    return {
        "schema_version": SCHEMA_VERSION,
        "package": package_info(),
        "created": now_iso(),
        **identity,
        "inputs": {
            **identity["inputs"],
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
            "no_face_pred": [o.clip_id for o in outcomes if o.no_face_pred],
            "faces": faces,
            "resized": resized,
            "resampled": resampled,
        },
        "warnings": run_warnings(pairing, resized, resampled),
        "complete": not failed and not pairing.missing,
        "metrics": metrics,
        "untrained_extractors": untrained,
        "extractors": ev.extractors.provenance_all(config.metrics),
        "face_track": face_track,
        "gesture_keypoints": ev.gesture_keypoints,
        "seeds": {"div": config.protocol.div_seed},
        "timing": {"seconds": round(seconds, 3), "clips": len(outcomes),
                   "compute_seconds": {k: round(v, 3) for k, v in sorted(ev.extractors.seconds.items())}},
        "environment": environment(),
    }


def face_counts(faces: dict[str, dict]) -> dict[str, int]:
    """Totals over clips of the per-video face tracks: frames without a face (pred, GT) and predictions
    without a face in any frame (excluded from the face and lip metrics)."""
    return {"n_no_face_pred": sum(f["pred"] for f in faces.values()), "n_no_face_gt": sum(f["gt"] for f in faces.values()),
            "n_no_face_pred_clips": sum(f["pred"] == f["frames"] for f in faces.values())}


def run_warnings(pairing: Pairing, resized: dict[str, dict], resampled: dict[str, dict]) -> list[str]:
    """What a reader of the results must know beyond the values: unscored extra predictions, stretched
    frames, retimed predictions."""
    out = []
    if pairing.extra:
        out.append(f"{len(pairing.extra)} prediction clip(s) have no GT and were not scored: {_ids(pairing.extra)}")
    stretched = sorted(cid for cid, note in resized.items() if note.get("aspect_changed"))
    if stretched:
        out.append(f"{len(stretched)} clip(s) have non-square frames, stretched to the square protocol size "
                   f"(aspect ratio changed): {_ids(stretched)}")
    if resampled:
        rates = sorted({f"{r['fps']:g}" + (" (variable)" if r["variable_rate"] else "") for r in resampled.values()})
        out.append(f"{len(resampled)} prediction clip(s) at {', '.join(rates)} fps were retimed to the protocol's fps "
                   f"by nearest frame (--fps-resample): {_ids(sorted(resampled))}")
    return out


def resize_summary(resized: dict[str, dict]) -> str | None:
    """One line: how many clips were resized to the protocol size, from which sizes (None when none were)."""
    if not resized:
        return None
    sizes: dict[str, int] = {}
    for note in resized.values():
        for side in ("pred", "gt"):
            if note[side] != note["to"]:
                label = f"{side} {note[side][0]}x{note[side][1]}"
                sizes[label] = sizes.get(label, 0) + 1
    to = next(iter(resized.values()))["to"]
    shown = ", ".join(f"{k}: {v}" for k, v in sorted(sizes.items()))
    return f"{len(resized)} clip(s) resized to the protocol size {to[0]}x{to[1]} ({shown}); see clips.resized in results.json"


def _ids(ids: list[str], shown: int = 5) -> str:
    return ", ".join(ids[:shown]) + (f" ... ({len(ids) - shown} more)" if len(ids) > shown else "")


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
    """A new results directory with ``results.json``, ``per_clip.csv`` and ``bootstrap.npz``: the intervals
    (eval/bootstrap.py) are added to ``results`` here, from the final (merged) states."""
    run_dir = new_run_dir(out_root, label)
    add_intervals(results, states).save(run_dir)
    write_json(run_dir / "results.json", results)
    with atomic_path(run_dir / PER_CLIP_FILE) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["region", "metric", "clip_id", "value", "untrained"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(per_clip_rows(states, results))
    return run_dir


def shard_dir(out_root: Path, shard: tuple[int, int]) -> Path:
    """Where ``--shard i/N`` keeps its state under ``--out``: its own folder, so shards never share files."""
    return Path(out_root) / f"shard-{shard[0]}-of-{shard[1]}"


def check_partial_target(config: EvalConfig, out_root: Path) -> Path:
    """The shard's state folder; refuses one holding another run's state (a rerun of the same shard,
    same settings and input folders, may replace its own)."""
    out_dir = shard_dir(out_root, config.shard)
    if out_root.exists() and not out_root.is_dir():
        raise DataError(out_root, "--out exists and is not a folder")
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(out_dir, "exists and is not a folder")
    meta = out_dir / PARTIAL_META
    if not meta.exists():
        return out_dir
    expected = run_identity(config)
    try:
        old = json.loads(meta.read_text())
        same = all(old[k] == expected[k] for k in ("protocol", "config")) and all(
            old["inputs"][k] == v for k, v in expected["inputs"].items())
    except (OSError, ValueError, KeyError, TypeError):
        same = False
    if not same:
        raise DataError(out_dir, "holds the state of another shard run (other inputs, settings or protocol); "
                                 "give another --out or remove that folder")
    return out_dir


def write_partial(config: EvalConfig, states: dict[str, M.Metric], results: dict, out_root: Path) -> Path:
    """Save a shard's metric states (``--shard i/N``) under ``out_root/shard-i-of-N`` for ``mmgt-eval merge``."""
    out_dir = check_partial_target(config, Path(out_root))
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = {f"{key}::{k}": v for key, m in states.items() for k, v in m.state_dict().items()}
    with atomic_path(out_dir / PARTIAL) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    write_json(out_dir / PARTIAL_META, results)
    return out_dir


def load_partial(path: Path) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    """A saved shard: its state dicts by metric key, and its metadata."""
    import zipfile

    meta_path = path / PARTIAL_META
    if not meta_path.is_file():
        raise DataError(path, "not a shard directory (no partial.json)")
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError as exc:
        raise DataError(meta_path, f"corrupt shard metadata ({exc.__class__.__name__}); rerun that shard") from None
    state_dicts: dict[str, dict[str, np.ndarray]] = {}
    try:
        with np.load(path / PARTIAL, allow_pickle=False) as data:
            for name in data.files:
                key, field = name.split("::", 1)
                state_dicts.setdefault(key, {})[field] = data[name]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(path / PARTIAL, f"corrupt shard state ({exc.__class__.__name__}); rerun that shard") from None
    return state_dicts, meta


__all__ = [
    "assemble", "check_partial_target", "evaluate", "load_partial", "merge_states", "per_clip_rows", "resize_summary",
    "run_identity", "run_warnings", "shard_dir", "write_partial", "write_run",
]
