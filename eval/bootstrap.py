"""Clip-level bootstrap: a 95% interval for every metric of a run, and the replicates paired comparisons use.

The unit is the clip. The run's evaluated clips, in sorted id order, are drawn with replacement
``B`` times (``numpy.random.default_rng(seed).multinomial``: ``counts[b, i]`` copies of clip ``i``);
every metric recomputes its outputs on each multiset from its merged states
(:meth:`eval.metrics.base.Metric.resample`: Frechet and MMD distances from the kept feature rows,
per-frame and per-clip metrics as weighted means of their clip values), so no extractor runs
again, and a merged or torchrun run gets the intervals of one process. A metric scored on a subset
of the clips (e.g. lip sync without the clips with no face) takes those clips' counts from the same
draws. The interval is the percentile one, centred on the value: the 2.5% and 97.5% quantiles of
the finite replicates, shifted by the value minus their mean. The shift matters for the distances:
a resampled multiset holds ~63% distinct clips, and FID, FVD and KVD grow (Div shrinks) with fewer
distinct samples, so their raw replicates lie above the value (FID of 8 clips x 80 frames: the raw
interval [176, 212] around a value of 166); for means it is Monte-Carlo noise (~0.03 of the half-width).

Two runs of the same GT clips with the same ``B`` and seed draw the same multisets, so the replicate
differences of two runs are a paired bootstrap (eval/compare.py). The replicates are written next to
``results.json`` as ``bootstrap.npz`` (``B`` float64 per output: 8 kB per output at B = 1000).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import eval.metrics as M
from mmgt.errors import DataError
from mmgt.video_io import atomic_path

LEVEL = 0.95
REPLICATES_FILE = "bootstrap.npz"
MIN_FINITE = 0.9  # an interval needs this share of replicates where the output is defined
NO_BOOTSTRAP = "no clip bootstrap: this metric's states do not keep each clip apart (docs/PROTOCOL.md, Uncertainty)"


@dataclass
class Bootstrap:
    """The replicates of one run: ``"region/output"`` -> ``(B,)`` values, and why an output has none."""

    B: int
    seed: int
    clips: tuple[str, ...]
    replicates: dict[str, np.ndarray] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def interval(self, key: str, value: float) -> list[float] | None:
        """The 95% interval of an output of value ``value``, or None (no replicates, or too few defined)."""
        replicates = self.replicates.get(key)
        return None if replicates is None else percentile_interval(replicates, value)

    def summary(self) -> dict:
        """The ``bootstrap`` entry of results.json."""
        return {"B": self.B, "seed": self.seed, "unit": "clip", "n_clips": len(self.clips), "level": LEVEL,
                "interval": "percentile, centred on the value", "file": REPLICATES_FILE}

    def save(self, run_dir: Path) -> Path:
        path = Path(run_dir) / REPLICATES_FILE
        arrays = {f"rep::{k}": v for k, v in self.replicates.items()}
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, B=self.B, seed=self.seed, clips=np.asarray(self.clips, dtype=str), **arrays)
        return path

    @classmethod
    def load(cls, run_dir: Path) -> Bootstrap:
        """The replicates written next to a run's results.json (one-line error when absent or unreadable)."""
        path = Path(run_dir) / REPLICATES_FILE
        if not path.is_file():
            raise DataError(path, "no bootstrap replicates (a run written before intervals, or with --bootstrap 0): "
                                  "evaluate it again")
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(int(data["B"]), int(data["seed"]), tuple(str(c) for c in data["clips"]),
                           {name.split("::", 1)[1]: data[name] for name in data.files if name.startswith("rep::")})
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(path, f"unreadable bootstrap replicates ({exc.__class__.__name__}); evaluate the run again") from None


def percentile_interval(replicates: np.ndarray, value: float) -> list[float] | None:
    """``[lo, hi]``: the 2.5% and 97.5% quantiles of the finite replicates, shifted by ``value`` minus their mean
    (the interval is centred on the value, not on the resampling's bias); None when under ``MIN_FINITE`` are finite."""
    finite = replicates[np.isfinite(replicates)]
    if not len(replicates) or len(finite) < MIN_FINITE * len(replicates):
        return None
    shift = value - finite.mean()
    lo, hi = np.quantile(finite, [(1 - LEVEL) / 2, (1 + LEVEL) / 2]) + shift
    return [float(lo), float(hi)]


def draw_counts(n_clips: int, B: int, seed: int) -> np.ndarray:
    """``(B, n_clips)`` int64: how often each clip is drawn in each of ``B`` resamples of ``n_clips`` clips."""
    if n_clips == 0:
        return np.zeros((B, 0), dtype=np.int64)
    return np.random.default_rng(seed).multinomial(n_clips, np.full(n_clips, 1.0 / n_clips), size=B)


def bootstrap_states(states: dict[str, M.Metric], clips: list[str], B: int, seed: int) -> Bootstrap:
    """Every output's replicates on ``B`` resamples of ``clips`` (sorted here) from the merged ``states``."""
    clips = sorted(clips)
    boot = Bootstrap(B, seed, tuple(clips))
    counts = draw_counts(len(clips), B, seed)
    index = {clip: i for i, clip in enumerate(clips)}
    for key, metric in states.items():
        region = key.split("/")[0]
        keys = [f"{region}/{out}" for out in metric.directions]
        try:
            ids = metric.clip_ids()
            if ids is None:
                raise NotImplementedError(NO_BOOTSTRAP)
            unknown = [c for c in ids if c not in index]
            if unknown:
                raise ValueError(f"{metric.name}: clip(s) {', '.join(unknown[:3])} are not among the evaluated clips")
            replicates = metric.resample(counts[:, [index[c] for c in ids]])
            if set(replicates) != set(metric.directions):
                raise ValueError(f"{metric.name}: resample gave {sorted(replicates)}, its outputs are {sorted(metric.directions)}")
        except (NotImplementedError, ValueError) as exc:
            boot.notes.update(dict.fromkeys(keys, str(exc)))
            continue
        boot.replicates.update({f"{region}/{out}": np.asarray(v, dtype=np.float64) for out, v in replicates.items()})
    return boot


def add_intervals(results: dict, states: dict[str, M.Metric]) -> Bootstrap:
    """Add ``ci95`` (or ``ci95_note``) to every metric entry of ``results`` and the top-level ``bootstrap`` entry,
    with ``results["config"]["bootstrap"]``'s B and seed; returns the replicates."""
    settings = results["config"]["bootstrap"]
    boot = Bootstrap(settings["B"], settings["seed"], tuple(sorted(results["clips"]["evaluated"])))
    if boot.B:
        boot = bootstrap_states(states, list(boot.clips), boot.B, boot.seed)
    for region, outs in results["metrics"].items():
        for out, entry in outs.items():
            key = f"{region}/{out}"
            entry["ci95"] = boot.interval(key, entry["value"]) if entry.get("value") is not None else None
            if entry["ci95"] is None and entry.get("value") is not None:
                entry["ci95_note"] = boot.notes.get(key, "bootstrap off (--bootstrap 0)" if not boot.B else
                                                    "too few resamples where the metric is defined")
    results["bootstrap"] = boot.summary()
    return boot


__all__ = ["Bootstrap", "LEVEL", "REPLICATES_FILE", "add_intervals", "bootstrap_states", "draw_counts", "percentile_interval"]
