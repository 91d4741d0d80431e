"""``make sampler-study``: which stage-2 sampler reaches the 30-step DDIM quality with fewer denoiser calls.

The pose-driven ``animate-anyone`` row (GT poses, so the sampler is all that differs) is generated on
the test clips with each candidate (same model, same seed; always afresh, as it is timed), and scored
by mmgt-eval with clip-bootstrap intervals. A candidate **qualifies** when each of its values lies inside the reference's
(DDIM, 30 steps) 95% interval; the paired comparison with the reference is shown beside it. The
preset samples with the qualifying candidate of fewest denoiser calls (``inference`` in
``stage2_tiny.yaml``; docs/STAGE2.md).

    python -m mmgt.experiments.sampler_study --data data/synth --out results/stage2
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from eval.bootstrap import Bootstrap
from eval.compare import compare
from eval.config import EvalConfig
from eval.results import UNTRAINED_MARK, load_results
from mmgt.data.layout import Split
from mmgt.methods import MethodConfig, build_method, run_method
from mmgt.video_io import atomic_path

REFERENCE = ("ddim", 30)
CANDIDATES = (("dpm-solver++", 10), ("ddim", 15))
METRICS = ("fid", "psnr", "ssim", "pose_error")
COLUMNS = (("full", "fid"), ("full", "psnr"), ("full", "ssim"), ("landmarks", "pck"))
ROW = "animate-anyone"


@dataclass(frozen=True)
class Setting:
    sampler: str
    steps: int

    @property
    def label(self) -> str:
        return f"{self.sampler}-{self.steps}"


def inside(value: float, ci95: list[float] | None) -> bool | None:
    """Whether ``value`` lies in the interval (None when there is none)."""
    return None if ci95 is None else ci95[0] <= value <= ci95[1]


def qualifies(candidate: dict, reference: dict) -> bool:
    """Every column of ``candidate`` inside the reference's 95% interval (a column without an interval fails)."""
    return all(inside(candidate["metrics"][r][m]["value"], reference["metrics"][r][m].get("ci95")) for r, m in COLUMNS)


def choose(rows: list[dict]) -> dict | None:
    """The qualifying candidate with the fewest denoiser calls (rows[0] is the reference)."""
    ok = [row for row in rows[1:] if row["qualifies"]]
    return min(ok, key=lambda row: row["steps"]) if ok else None


def measure(setting: Setting, data: Path, runs: Path, seed: int) -> tuple[dict, Bootstrap, float]:
    """Generate ``ROW`` with ``setting`` on the test clips and score it; (results, replicates, seconds per clip)."""
    from eval.run import evaluate, write_run

    clips = Split(data).clips("test")
    method = build_method(ROW, MethodConfig(seed=seed, steps=setting.steps, sampler=setting.sampler))
    pred = runs / "methods" / f"sampler-{setting.label}"
    if pred.exists():  # always generated afresh: the time per clip is part of the result
        shutil.rmtree(pred)
    start = time.perf_counter()
    run_method(method, clips, pred)
    seconds = (time.perf_counter() - start) / len(clips)
    config = EvalConfig(pred=pred, gt=data, metrics=METRICS, allow_untrained=True, cache_dir=runs / "cache" / "eval")
    results, states, _ = evaluate(config)
    results["method"] = method.provenance()
    run_dir = write_run(results, states, runs / "sampler-study", setting.label)
    return load_results(run_dir), Bootstrap.load(run_dir), seconds


def cell(entry: dict) -> str:
    """The value with its interval, marked when a random-init extractor computed it."""
    ci = entry.get("ci95")
    return (f"{entry['value']:.4g}" + ("" if ci is None else f" [{ci[0]:.4g}, {ci[1]:.4g}]")
            + (UNTRAINED_MARK if entry.get("untrained") else ""))


def render(rows: list[dict], chosen: dict | None, data: Path, commit: str) -> str:
    headers = ["sampler", "steps", "s / clip", *(f"{r} {m}" for r, m in COLUMNS), "paired vs reference", "qualifies"]
    body = [[row["sampler"], row["steps"], f"{row['seconds_per_clip']:.1f}",
             *(cell(row["metrics"][r][m]) for r, m in COLUMNS),
             "; ".join(f"{m} {p['verdict']} ({p['difference']:+.3g})" for m, p in row["paired"].items()) or "reference",
             "reference" if row is rows[0] else ("yes" if row["qualifies"] else "no")] for row in rows]
    pick = (f"**Chosen: {chosen['sampler']}, {chosen['steps']} steps** ({chosen['seconds_per_clip']:.1f} s per clip "
            f"against {rows[0]['seconds_per_clip']:.1f} s)." if chosen else
            "**No candidate qualifies**: the preset keeps the reference sampler.")
    return (f"# Stage-2 sampler study (tiny preset)\n\n`{ROW}` (GT poses) on the {rows[0]['n_clips']} test clips of "
            f"`{data}`, seed 0, generated with each sampler by the same model and scored by mmgt-eval (protocol "
            f"v{rows[0]['protocol']}, code {commit[:12]}); values with their 95% clip-bootstrap intervals. A candidate "
            "qualifies when each value lies inside the reference's (DDIM, 30 steps) interval; the paired column gives "
            "its paired-bootstrap verdict against the reference per metric (and the difference, candidate - reference). "
            f"{UNTRAINED_MARK}: computed with a random-init extractor (real weights absent), NOT the real metric. A relative "
            "comparison of samplers on the embedded synthetic split, not comparable to the paper.\n\n"
            + tabulate(body, headers=headers, tablefmt="github", disable_numparse=True) + f"\n\n{pick}\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/synth"))
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("results/stage2"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows, reference = [], None
    for setting in (Setting(*REFERENCE), *(Setting(*c) for c in CANDIDATES)):
        results, boot, seconds = measure(setting, args.data, args.runs, args.seed)
        if reference is None:
            reference = results, boot
        paired = {} if setting == Setting(*REFERENCE) else {
            d.output: {"verdict": d.verdict, "difference": d.difference, "ci95": d.ci95}
            for d in compare(results, boot, *reference) if (d.region, d.output) in COLUMNS}
        metrics: dict[str, dict] = {}
        for region, name in COLUMNS:
            metrics.setdefault(region, {})[name] = results["metrics"][region][name]
        rows.append({"sampler": setting.sampler, "steps": setting.steps, "seconds_per_clip": seconds, "metrics": metrics,
                     "paired": paired, "qualifies": qualifies(results, reference[0]),
                     "n_clips": len(boot.clips), "protocol": results["protocol"]["version"],
                     "environment": results.get("environment")})
    chosen = choose(rows)
    commit = reference[0]["package"]["git"]["commit"]
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / "samplers.json") as tmp:
        tmp.write_text(json.dumps({"rows": rows, "chosen": chosen and {k: chosen[k] for k in ("sampler", "steps")},
                                   "commit": commit, "data": str(args.data)}, indent=2, sort_keys=True) + "\n")
    with atomic_path(args.out / "samplers.md") as tmp:
        tmp.write_text(render(rows, chosen, args.data, commit))
    print(args.out / "samplers.md")


if __name__ == "__main__":
    main()
