"""The results file: schema, provenance, and a new directory per run (never overwriting).

``results.json`` (schema ``SCHEMA_VERSION``)::

    {
      "schema_version": "1", "package": {"name", "version", "git": {"commit", "dirty"}},
      "created": ISO time, "protocol": {...every Protocol field...},
      "config": {"metrics", "regions", "split", "shard", "allow_untrained", "batch_size", "reuse_memory",
                 "bootstrap": {"B", "seed"}},
      "inputs": {"pred": dir, "gt": dir, "pred_files_sha256": h, "gt_files_sha256": h, "n_pairs": n},
      "clips": {"evaluated": [...], "missing": [...], "extra": [...], "failed": {id: reason},
                "no_face": [...] (GT has no face), "no_face_pred": [...] (the prediction shows none),
                "faces": {id: {"frames", "pred", "gt"}} (frames without a face of their own, per-video tracks),
                "resized": {id: {"pred": [w, h], "gt": [w, h], "to": [s, s],
                "aspect_changed": [side, ...] (only when a side is not square)}},
                "resampled": {id: {"fps", "frames", "variable_rate"}} (predictions retimed by --fps-resample)},
      "complete": bool (no missing or failed clip),
      "metrics": {region: {metric: {"value", "ci95": [lo, hi] or null (then "ci95_note": why), "n", "direction",
                                    "extractor", "weights", "untrained"}}},
          (region "landmarks": this project's MediaPipe metrics, with their frame and detection counts;
          regions "face" and "lip" add n_no_face_pred, n_no_face_gt, n_no_face_pred_clips; "lip" holds GT's own
          sync_c_gt, sync_d_gt, av_offset_gt beside the prediction's; region "human": HKC/HKV, CSIM, beat
          alignment and jitter, with GT's own values as "*_gt")
      "bootstrap": {"B", "seed", "unit": "clip", "n_clips", "level": 0.95, "interval": "percentile, centred on the value",
                    "file": "bootstrap.npz"} (eval/bootstrap.py; added when the run is written),
      "warnings": [line, ...] (extra predictions not scored, aspect-ratio changes),
      "untrained_extractors": bool,
      "face_track": {"face_track": "per-video" | "gt", detector provenance...} (None without face or lip metrics),
      "extractors": {name: {"extractor", "weights", "untrained", "source", "preprocessing", "layout"}},
          (torch networks add "device" (hardware), "dtype", "numerics"; MediaPipe detectors add "model_files":
          {path in the package: sha256})
      "gesture_keypoints": "files" or "extractor:<name>", "seeds": {...}, "timing": {...}, "environment": {...},
      "method": {...} (added by `mmgt reproduce` for a method's run)
    }

``per_clip.csv`` holds one row per clip and per-clip metric (region, metric, clip_id, value, untrained:
True where the value comes from a random-init extractor). ``bootstrap.npz`` holds the clip-bootstrap
replicates of every output (``mmgt-eval compare`` pairs two runs' replicates). Files without
``ci95``/``bootstrap`` (older runs) still load: the additions are backward compatible.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import sys
from pathlib import Path

from mmgt.provenance import git_info
from mmgt.video_io import atomic_path

SCHEMA_VERSION = "1"
UNTRAINED_MARK = "†"  # shown next to every value computed with a random-init extractor
PER_CLIP_FILE = "per_clip.csv"  # a run directory's per-clip values


def package_info() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("mmgt-bench")
    except PackageNotFoundError:
        v = "unknown"
    return {"name": "mmgt-bench", "version": v, "git": git_info()}


def environment() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import numpy
    import torch

    env = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "device": "cuda:" + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "threads": torch.get_num_threads(),
        # the instruction set torch's CPU kernels were picked for: generated frames (and so every
        # generated row's values) differ in float rounding between, e.g., AVX2 and AVX512 machines
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    for pkg in ("scipy", "scikit-image", "lpips", "pytorch-fid", "syncnet-python", "av"):
        try:
            env[pkg] = version(pkg)
        except PackageNotFoundError:
            env[pkg] = None
    return env


def new_run_dir(out_root: str | Path, label: str = "eval") -> Path:
    """A fresh ``out_root/<UTC time>-<label>[-k]`` directory; existing runs are never touched."""
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for k in range(1000):
        path = out_root / (f"{stamp}-{label}" + (f"-{k}" if k else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new run directory under {out_root}")


def write_json(path: str | Path, data: dict) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")
    return Path(path)


def _jsonable(obj):
    import numpy as np

    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def load_results(path: str | Path) -> dict:
    """Read a results.json (or the results.json inside a run directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    from mmgt.errors import DataError

    if not path.is_file():
        raise DataError(path, "results file not found")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a readable results file ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise DataError(path, "not a results file (expected a JSON object)")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise DataError(path, f"results schema {data.get('schema_version')!r}, this version reads {SCHEMA_VERSION!r}")
    return data


__all__ = [
    "PER_CLIP_FILE", "SCHEMA_VERSION", "UNTRAINED_MARK", "environment", "git_info", "load_results", "new_run_dir",
    "now_iso", "package_info", "write_json",
]
