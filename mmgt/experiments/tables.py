"""Benchmark tables: run each method on a split's test clips, evaluate, and render the paper's
table layout with our measured rows next to the paper's printed rows.

Generated videos go to ``runs/methods/<row>/`` (git-ignored), shared by the tables: a row that two
tables list (``mmgt`` in Tables I and III) is generated once, since the runner keeps the finished
clips of the same method and configuration. What people read goes to ``results/<table>/``:
``<table>.md`` (the table with its provenance header), ``<table>.csv`` (long format),
``<table>_frames.png`` (a few frames of the first test clip, one row per method),
``runs/<method>.json`` (each method's full results file), ``runs/<method>.bootstrap.npz`` (its
clip-bootstrap replicates, from which the ordering section's paired comparisons come),
``runs/<method>.per_clip.csv`` (its per-clip values) and ``report/`` (the HTML report,
:mod:`mmgt.experiments.report`). With
``samples`` K > 1 each generated row is also sampled with the seeds ``seed + 1 .. seed + K - 1``
(``runs/<method>-seed<s>.json``); the table shows the first seed, and the seed-to-seed spread apart.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

import pandas as pd
from tabulate import tabulate

from eval.bootstrap import REPLICATES_FILE, Bootstrap
from eval.compare import BETTER, TIE, WORSE, check_paired, paired_difference, verdict
from eval.config import EvalConfig
from eval.results import PER_CLIP_FILE, UNTRAINED_MARK, load_results
from eval.table import ADDED_NOTE, INTERVAL_NOTE, TABLE_COLUMNS, UNSCORED, column_headers, format_value
from mmgt.data.layout import Split
from mmgt.errors import DataError
from mmgt.methods import Method, MethodConfig, build_method, run_method
from mmgt.provenance import ROOT
from mmgt.video_io import atomic_path

PAPER_TABLES = ROOT / "results" / "paper" / "paper_tables.csv"
TABLES = {
    "table1": ("I", "Table I: audio-driven generation (audio + reference image in)"),
    "table2": ("II", "Table II: pose-driven generation (GT keypoints in)"),
    "table3": ("III", "Table III: ablations of MMGT"),
}
# Our row for each of the paper's printed rows.
PAPER_ROWS = {
    "table1": {"MM-Diffusion": "mm-diffusion", "EDGE+AnimateAnyone": "edge+animate-anyone", "EDGE+Hallo": "edge+hallo",
               "MMGT (audio-driven)": "mmgt"},
    "table2": {"AnimateAnyone": "animate-anyone", "MMGT": "mmgt-gt-pose"},
    "table3": {"w/o SMGA": "mmgt-edge-poses", "w/o face loss": "mmgt-no-face-loss", "w/o motion mask": "mmgt-no-mask",
               "w/o audio": "mmgt-no-audio", "w still mask": "mmgt-still-mask", "MMGT (full)": "mmgt"},
}
DEFAULT_METHODS = {table: ("gt", "still", *rows.values()) for table, rows in PAPER_ROWS.items()}
REFERENCE_ROWS = ("gt", "still")  # outputs that do not depend on a sampling seed (sampled once)
CLOSE_MARK = "≈"
CLOSE_NOTE = (f"{CLOSE_MARK}: the value's 95% interval is wider than its gap to the nearest other row of ours in that "
              "column, so this pair's ranking rests on the paired comparison below, not on the two values.")
# The paper prints Syn-C under Sync-D and vice versa (results/paper/paper-notes.md): our column -> its printed one.
PRINTED_AS = {("lip", "Sync-C"): ("lip", "Sync-D (as printed)"), ("lip", "Sync-D"): ("lip", "Sync-C (as printed)")}


@dataclass
class TableConfig:
    """One table's reproduction run."""

    table: str = "table1"
    data: Path = Path("data/synth")
    methods: tuple[str, ...] = DEFAULT_METHODS["table1"]
    runs: Path = Path("runs")
    results: Path = Path("results")
    allow_untrained: bool = EvalConfig.allow_untrained  # one default with mmgt-eval; values marked when used
    skip_missing: bool = True  # rows whose trained model is absent are listed as not measured (False: refuse)
    samples: int = 1  # sampling seeds per generated row (seed, seed + 1, ...); the spread is reported apart
    method_config: MethodConfig = field(default_factory=MethodConfig)
    eval_overrides: dict = field(default_factory=dict)


def evaluate_method(cfg: TableConfig, method: Method, pred_dir: Path, gesture_encoder: Path | None) -> Path:
    from eval.run import evaluate, write_run

    config = EvalConfig(
        pred=pred_dir, gt=cfg.data, allow_untrained=cfg.allow_untrained, gesture_encoder=gesture_encoder,
        cache_dir=cfg.runs / "cache" / "eval", **cfg.eval_overrides,
    )
    results, states, _ = evaluate(config)
    results["method"] = method.provenance()
    return write_run(results, states, cfg.runs / cfg.table / "eval", method.name)


def paper_rows(table: str) -> pd.DataFrame:
    """The paper's printed rows of one table (long format)."""
    paper = pd.read_csv(PAPER_TABLES)
    return paper[paper["table"] == TABLES[table][0]]


def paper_values(rows: pd.DataFrame) -> dict[str, dict[tuple[str, str], float]]:
    """``{paper method: {(group, label) of our columns: value}}``, Sync-C/D un-swapped."""
    out = {}
    for method, group in rows.groupby("method", sort=False):
        printed = {(r.region, r.metric): r.value for r in group.itertuples()}
        out[method] = {(grp, label): printed[PRINTED_AS.get((grp, label), (grp, label))]
                       for grp, label, _, _ in TABLE_COLUMNS if PRINTED_AS.get((grp, label), (grp, label)) in printed}
    return out


def paper_cells(rows: pd.DataFrame) -> list[list[str]]:
    """Paper rows in our column layout."""
    return [[f"{method} (paper, PATS)"] + [f"{values[(g, l)]:g}" if (g, l) in values else "–" for g, l, _, _ in TABLE_COLUMNS]
            for method, values in paper_values(rows).items()]


def paired_interval(boots: dict[str, Bootstrap], a: str, b: str, key: str, difference: float) -> list[float] | None:
    """The paired-bootstrap 95% interval of row ``a`` minus row ``b`` (values ``difference`` apart) on output
    ``key``; None without paired replicates (a row without ``bootstrap.npz``, or rows scored on other clips)."""
    if a not in boots or b not in boots:
        return None
    try:
        check_paired(boots[a], boots[b], Path(b))
    except DataError:
        return None
    return paired_difference(boots[a], boots[b], key, difference)


def ordering(table: str, runs: dict[str, dict], boots: dict[str, Bootstrap] | None = None) -> list[list[str]]:
    """Per column: the paper's ranking of its methods, ours of the same rows, and whether it reproduces.

    Each pair the paper ranks (equal printed values are not a ranking) is checked by our paired bootstrap
    (:func:`paired_interval`): ``reproduces`` when every pair comes out in the paper's direction,
    ``contradicts`` when one comes out reversed (named), otherwise ``not resolved`` with the tied pairs
    named. Only columns where the paper and we both have at least two of the table's methods."""
    paper = paper_values(paper_rows(table))
    ours = {paper_name: runs[row] for paper_name, row in PAPER_ROWS[table].items() if row in runs and paper_name in paper}
    row = PAPER_ROWS[table]
    lines = []
    for grp, label, region, out in TABLE_COLUMNS:
        measured = {p: res["metrics"].get(region, {}).get(out) for p, res in ours.items()}
        names = [p for p, e in measured.items() if e and e.get("value") is not None and (grp, label) in paper[p]]
        if len(names) < 2:
            continue
        direction = measured[names[0]]["direction"]
        sign = -1 if direction == "higher" else 1
        paper_order = sorted(names, key=lambda p: sign * paper[p][(grp, label)])
        our_order = sorted(names, key=lambda p: sign * measured[p]["value"])
        untrained = any(measured[p].get("untrained") for p in names)
        reversed_, unresolved, intervals = [], [], []
        for i, p in enumerate(paper_order):
            for q in paper_order[i + 1:]:
                if paper[p][(grp, label)] == paper[q][(grp, label)]:
                    continue
                ci = paired_interval(boots or {}, row[p], row[q], f"{region}/{out}", measured[p]["value"] - measured[q]["value"])
                outcome = verdict(ci, direction)
                if ci is not None:
                    intervals.append(f"{row[p]} - {row[q]}: [{ci[0]:.3g}, {ci[1]:.3g}]")
                if outcome == WORSE:
                    reversed_.append(f"{row[q]} > {row[p]}")
                elif outcome != BETTER:
                    unresolved.append(f"{row[p]} = {row[q]}" if outcome == TIE else f"{row[p]} ? {row[q]} (no interval)")
        if reversed_:
            answer = "contradicts: " + ", ".join(reversed_)
        elif unresolved:
            answer = "not resolved: " + ", ".join(unresolved)
        else:
            answer = "reproduces"
        lines.append([f"{grp} {label}", " > ".join(row[p] for p in paper_order), " > ".join(row[p] for p in our_order),
                      answer + (f" {UNTRAINED_MARK}" if untrained else ""), "; ".join(intervals) or "–"])
    return lines


def close_calls(runs: dict[str, dict]) -> set[tuple[str, str, str]]:
    """``(row, region, output)`` of each value whose interval is wider than its gap to the nearest other row's value."""
    marked = set()
    for _, _, region, out in TABLE_COLUMNS:
        entries = {m: e for m, res in runs.items() if (e := res["metrics"].get(region, {}).get(out)) and e.get("value") is not None}
        for m, e in entries.items():
            gaps = [abs(e["value"] - other["value"]) for n, other in entries.items() if n != m]
            if e.get("ci95") and gaps and e["ci95"][1] - e["ci95"][0] > min(gaps):
                marked.add((m, region, out))
    return marked


def seed_spread(samples: dict[str, list[dict]]) -> list[list[str]]:
    """Per generated row sampled with several seeds: the standard deviation of each column over the seeds."""
    rows = []
    for method, results in samples.items():
        if len(results) < 2:
            continue
        cells = []
        for _, _, region, out in TABLE_COLUMNS:
            values = [v for res in results if (v := res["metrics"].get(region, {}).get(out, {}).get("value")) is not None]
            cells.append(f"{np.std(values, ddof=1):.4g}" if len(values) == len(results) else "–")
        rows.append([f"{method} ({len(results)} seeds)"] + cells)
    return rows


SPARSE = 0.1  # mouth LMD / pose err are flagged when the detector misses more than this share of frames / GT points


def sparse_detections(runs: dict[str, dict], out: str, share: Callable[[dict], float]) -> list[str]:
    """``"`row` share"`` for each row whose landmark entry ``out`` scored under 1 - SPARSE of what GT offers."""
    shares = {m: share(e) for m, res in runs.items() if (e := res["metrics"].get("landmarks", {}).get(out)) and e.get("value") is not None}
    return [f"`{m}` {v:.0%}" for m, v in shares.items() if v < 1 - SPARSE]


def face_exclusions(runs: dict[str, dict]) -> list[str]:
    """``"`row` k of n"`` for every row with clips whose prediction has no face at all (``clips.no_face_pred``)."""
    return [f"`{m}` {len(res['clips']['no_face_pred'])} of {len(res['clips']['evaluated'])}"
            for m, res in runs.items() if res.get("clips", {}).get("no_face_pred")]


def face_track_note(results: dict) -> str:
    """Where the face region and lip sync look for the face, as the table header states it."""
    track = results["protocol"].get("face_track", "gt")
    if track == "gt":
        return "face region and lip sync cropped at GT's face track on both sides (`--face-track gt`)"
    return f"face region and lip sync cropped at each video's own face track ({results['protocol']['face_detector']})"


def render(cfg: TableConfig, runs: dict[str, dict], missing: dict[str, list[Path]] | None = None,
           boots: dict[str, Bootstrap] | None = None, samples: dict[str, list[dict]] | None = None) -> str:
    """The markdown table: provenance header, our rows (values with intervals), then the paper's rows; the
    ordering section from the paired bootstrap (``boots``: each row's replicates); the seed-to-seed spread
    of rows sampled with several seeds (``samples``: each row's results per seed)."""
    split = Split(cfg.data)
    title = TABLES[cfg.table][1]
    any_run = next(iter(runs.values()))
    untrained = sorted({f"{r}/{o}" for res in runs.values() for r, outs in res["metrics"].items()
                        for o, e in outs.items() if e.get("untrained")})
    close = close_calls(runs)
    ours = [[f"{m} (ours)"] + [format_value(res["metrics"].get(reg, {}).get(out)) + (CLOSE_MARK if (m, reg, out) in close else "")
                               for _, _, reg, out in TABLE_COLUMNS] for m, res in runs.items()]
    extractors = any_run.get("extractors", {})
    lines = [
        f"# {title}",
        "",
        f"**Data:** `{cfg.data}` ({split.meta.get('generator', 'dataset')}, {len(split.clips('test'))} test clips); "
        f"**protocol:** v{any_run['protocol']['version']} (docs/PROTOCOL.md), {face_track_note(any_run)}, FVD/KVD "
        f"protocol `{any_run['protocol'].get('fvd_protocol', 'windows')}`; "
        f"**code:** {any_run['package']['git']['commit']}.",
        "",
        "**Not comparable to the paper:** our rows are measured on the embedded synthetic-speakers split, "
        "the paper's on PATS with unpublished metric code. Compare rankings and gaps, not absolute values.",
        "",
        "**Extractor weights:** " + ", ".join(f"{k}: {v.get('weights', '?')[:12]}" for k, v in extractors.items())
        + f" (random-init extractors {'allowed' if cfg.allow_untrained else 'refused'} for this run).",
        "",
        "**Methods:** " + "; ".join(f"`{m}`: {res.get('method', {}).get('description', '')}" for m, res in runs.items()) + ".",
    ]
    if missing:
        lines += ["", "**Not measured (no trained model found):** " + "; ".join(
            f"`{m}` ({', '.join(str(p) for p in paths)})" for m, paths in missing.items())
            + ". Train them (`make help` lists the `train-*` targets) or restore their committed checkpoints."]
    unscored = [f"`{m}` {out}" + (f" (no face found in {e['n_no_face_pred']}" + (f" of {e['n_frames']}" if "n_frames" in e else "")
                                  + " generated frames)" if e.get("n_no_face_pred") else "")
                for m, res in runs.items() for _, _, reg, out in TABLE_COLUMNS
                if (e := res["metrics"].get(reg, {}).get(out)) and e.get("value") is None and e.get("error")]
    if unscored:
        lines += ["", f"**{UNSCORED}:** computed, but no clip could be scored: " + "; ".join(unscored) + "."]
    if faceless := face_exclusions(runs):
        lines += ["", "**Face region and lip sync** score only the clips whose generated video shows a face in some "
                  "frame (a clip without any is excluded from both, never scored at GT's position: docs/PROTOCOL.md, "
                  "v3). Clips excluded: " + ", ".join(faceless) + ". Where most are, those values rest on few clips."]
    if faces := sparse_detections(runs, "mouth_lmd", lambda e: e["n_scored"] / e["n_frames"]):
        lines += ["", "**mouth LMD** pools the frames where face mesh found a face in both videos (each frame weighs "
                  "the same). Share of frames scored: " + ", ".join(faces) + ". Where it is low, the value rests on few frames."]
    if points := sparse_detections(runs, "pose_err", lambda e: 1 - e["n_missed"] / e["n_points"] if e.get("n_points") else 1.0):
        lines += ["", "**pose err** pools the points the holistic detector found in the generated video; PCK "
                  "counts the others as misses. Share of GT points found: " + ", ".join(points)
                  + ". Where it is low, read PCK, not pose err."]
    if untrained:
        lines += ["", f"{UNTRAINED_MARK} **computed with a random-init extractor (real weights absent): "
                  f"NOT the real metric** — {', '.join(untrained)}."]
    lines += [
        "",
        tabulate(ours + paper_cells(paper_rows(cfg.table)), headers=["method"] + column_headers(any_run), tablefmt="github", disable_numparse=True),
        "",
        INTERVAL_NOTE + " " + CLOSE_NOTE,
    ]
    spread = seed_spread(samples or {})
    if spread:
        lines += ["", "## Seed-to-seed spread", "",
                  "Standard deviation of each value over the sampling seeds of a generated row (the rows above show the "
                  "first seed). This is apart from the intervals above: they say how a value moves with other clips, "
                  "this how it moves with another sampling seed on the same clips.", "",
                  tabulate(spread, headers=["method"] + column_headers(any_run), tablefmt="github", disable_numparse=True)]
    order = ordering(cfg.table, runs, boots)
    names = ", ".join(f"{paper} = `{row}`" for paper, row in PAPER_ROWS[cfg.table].items())
    lines += [
        "",
        "## Does the paper's ordering of the methods reproduce?",
        "",
        f"Best first, per column, over the paper's methods we measured ({names}). The answer comes from the paired "
        "clip bootstrap of each pair the paper ranks (the same resampled clips for both rows, `mmgt-eval compare`): "
        "*reproduces* when every pair's 95% interval of the difference lies on the paper's side of 0, *contradicts* "
        "when one lies on the other side (named), *not resolved* when an interval spans 0 (the tied pairs named). "
        f"{UNTRAINED_MARK}: our ranking comes from a random-init extractor and says nothing.",
        "",
        tabulate(order, headers=["column", "paper (PATS)", "ours (embedded split)", "reproduces?",
                                 "paired 95% interval of the difference"], tablefmt="github")
        if order else "No column has two of the paper's methods measured by us.",
        "",
        "Paper columns: the printed 'Syn-C' and 'Syn-D' are swapped (results/paper/paper-notes.md); "
        "they are shown here under the standard definitions. `gt` is the upper bound, `still` the lower bound.",
        "",
        ADDED_NOTE,
        "",
    ]
    return "\n".join(lines)


def long_rows(runs: dict[str, dict]) -> pd.DataFrame:
    rows = []
    for method, res in runs.items():
        for region, outs in res["metrics"].items():
            for out, e in outs.items():
                lo, hi = e.get("ci95") or (None, None)
                rows.append({"source": "ours", "method": method, "region": region, "metric": out, "value": e["value"],
                             "ci95_lo": lo, "ci95_hi": hi, "direction": e["direction"], "weights": e.get("weights"), "untrained": e.get("untrained", False)})
    return pd.DataFrame(rows)


STRIP_FRAMES = (0, 20, 40, 60, 79)


def frame_strip(pred_dirs: dict[str, Path], clip_id: str, out: Path, size: int = 96) -> Path:
    """A PNG of a few frames of one test clip per method (rows), to see what the numbers describe."""
    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mmgt.video_io import read_video

    rows = {m: read_video(d / clip_id / "video.mp4") for m, d in pred_dirs.items()}
    cols = [i for i in STRIP_FRAMES if all(i < len(v) for v in rows.values())]
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(1.1 * len(cols) + 1.2, 1.1 * len(rows)), squeeze=False)
    for r, (method, video) in enumerate(rows.items()):
        for c, i in enumerate(cols):
            ax = axes[r][c]
            ax.imshow(cv2.resize(video[i], (size, size), interpolation=cv2.INTER_AREA))
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(f"frame {i}", fontsize=7)
        axes[r][0].set_ylabel(method, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(f"{clip_id} (embedded synthetic split)", fontsize=8)
    fig.tight_layout()
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return out


def measure(cfg: TableConfig, method: Method, label: str, clips: list, encoder: Path | None) -> tuple[Path, Path]:
    """Generate and evaluate one row (``label``: its name, with the seed for extra samples); copies its results
    and replicates to ``results/<table>/runs/``. Returns (generated videos, run directory)."""
    pred_dir = run_method(method, clips, cfg.runs / "methods" / label, replace=True)
    run_dir = evaluate_method(cfg, method, pred_dir, encoder)
    runs_dir = cfg.results / cfg.table / "runs"
    shutil.copyfile(run_dir / "results.json", runs_dir / f"{label}.json")
    shutil.copyfile(run_dir / REPLICATES_FILE, runs_dir / f"{label}.{REPLICATES_FILE}")
    shutil.copyfile(run_dir / PER_CLIP_FILE, runs_dir / f"{label}.{PER_CLIP_FILE}")
    return pred_dir, run_dir


def reproduce(cfg: TableConfig) -> Path:
    """Run, evaluate and render one table; returns the markdown file."""
    from eval.gesture_cache import encoder_for_split

    split = Split(cfg.data)
    clips = split.clips("test")
    encoder = encoder_for_split(cfg.data)
    out_dir = cfg.results / cfg.table
    (out_dir / "runs").mkdir(parents=True, exist_ok=True)
    methods = {name: build_method(name, cfg.method_config) for name in cfg.methods}
    missing = {name: paths for name, m in methods.items() if (paths := m.missing_models())}
    if missing and not cfg.skip_missing:
        name, paths = next(iter(missing.items()))
        raise DataError(paths[0], f"no trained model for the row {name!r}: train it or pass its checkpoint")
    runs, pred_dirs, boots, samples = {}, {}, {}, {}
    for name, method in methods.items():
        if name in missing:
            continue
        pred_dirs[name], run_dir = measure(cfg, method, name, clips, encoder)
        runs[name], boots[name] = load_results(run_dir), Bootstrap.load(run_dir)
        samples[name] = [runs[name]]
        for k in range(1, 1 if name in REFERENCE_ROWS else cfg.samples):
            seed = cfg.method_config.seed + k
            seeded = build_method(name, replace(cfg.method_config, seed=seed))
            samples[name].append(load_results(measure(cfg, seeded, f"{name}-seed{seed}", clips, encoder)[1]))
    md = out_dir / f"{cfg.table}.md"
    md.write_text(render(cfg, runs, missing, boots, samples))
    long_rows(runs).to_csv(out_dir / f"{cfg.table}.csv", index=False)
    frame_strip(pred_dirs, clips[0].clip_id, out_dir / f"{cfg.table}_frames.png")
    from mmgt.experiments.report import ReportConfig, write_report

    write_report(ReportConfig(out_dir))
    return md
