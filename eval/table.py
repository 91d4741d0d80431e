"""Rendering results: a one-run summary, runs side by side, and the paper's table layouts."""

from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from eval.results import UNTRAINED_MARK, load_results

# (table group, column label, our region, our output name): the paper's Table I column order, then this
# project's additions (group marked ADDED_MARK). The paper's "video" columns are our "full" region; "lip" are
# SyncNet outputs (with GT's own Sync-C/D, the reference a row's Sync-C is read against); "gesture" FGD/Div;
# "landmarks" the MediaPipe landmark metrics; "human" the half-body papers' metrics.
TABLE_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("gesture", "FGD", "gesture", "fgd"),
    ("gesture", "Div", "gesture", "div"),
    ("face", "FID", "face", "fid"),
    ("face", "FVD", "face", "fvd"),
    ("face", "KVD", "face", "kvd"),
    ("face", "PSNR", "face", "psnr"),
    ("face", "SSIM", "face", "ssim"),
    ("face", "LPIPS", "face", "lpips"),
    ("lip", "Sync-C", "lip", "sync_c"),
    ("lip", "Sync-D", "lip", "sync_d"),
    ("lip", "Sync-C (GT)", "lip", "sync_c_gt"),
    ("lip", "Sync-D (GT)", "lip", "sync_d_gt"),
    ("video", "FID", "full", "fid"),
    ("video", "FVD", "full", "fvd"),
    ("video", "PSNR", "full", "psnr"),
    ("video", "SSIM", "full", "ssim"),
    ("video", "LPIPS", "full", "lpips"),
    ("landmarks*", "mouth LMD", "landmarks", "mouth_lmd"),
    ("landmarks*", "lip-audio corr", "landmarks", "lip_audio_corr"),
    ("landmarks*", "lip-audio corr (GT)", "landmarks", "lip_audio_corr_gt"),
    ("landmarks*", "pose err", "landmarks", "pose_err"),
    ("landmarks*", "PCK@0.1", "landmarks", "pck"),
    ("human*", "HKC (MP)", "human", "hkc_mp"),
    ("human*", "HKV (MP)", "human", "hkv_mp"),
    ("human*", "HKC", "human", "hkc"),
    ("human*", "HKV", "human", "hkv"),
    ("human*", "CSIM (dlib)", "human", "csim_dlib"),
    ("human*", "CSIM", "human", "csim"),
    ("human*", "BA", "human", "ba"),
    ("human*", "jitter body", "human", "jitter_body"),
    ("human*", "jitter hand", "human", "jitter_hand"),
)
ADDED_NOTE = ("* this project's additions, not in the MMGT paper: MediaPipe face-mesh and holistic landmark "
              "metrics, and the half-body papers' HKC/HKV, CSIM, beat alignment and jitter (docs/PROTOCOL.md; "
              "the GT row holds GT's own values).")
ARROW = {"lower": "↓", "higher": "↑", "none": ""}


UNSCORED = "n/a"  # computed, but nothing could be scored (the entry's "error" says why)
INTERVAL_NOTE = ("`v ± h`: the value and half the width of its 95% clip-bootstrap interval (the interval's "
                 "endpoints, which need not be symmetric about v, are `ci95` in the runs' results.json).")


def _number(v: float, like: float) -> str:
    text = f"{v:.4f}" if abs(like) < 10 else f"{v:.2f}"
    return text.lstrip("-") if float(text) == 0 else text  # -0.0000 from a numerically tiny negative distance


def format_value(entry: dict | None) -> str:
    """A metric value for a table cell, ``± h`` (half its interval's width) where it has an interval;
    random-init extractor values carry the untrained mark; a metric that ran but could score nothing
    reads ``n/a``; one not computed ``–``."""
    if entry is None:
        return "–"
    if entry.get("value") is None:
        return UNSCORED if entry.get("error") else "–"
    v = entry["value"]
    text = _number(v, v)
    if entry.get("ci95"):
        lo, hi = entry["ci95"]
        text += f" ± {_number((hi - lo) / 2, v)}"
    return text + (UNTRAINED_MARK if entry.get("untrained") else "")


def column_headers(results: dict | None = None) -> list[str]:
    headers = []
    for group, label, region, out in TABLE_COLUMNS:
        direction = ""
        if results is not None:
            direction = ARROW.get(results["metrics"].get(region, {}).get(out, {}).get("direction", ""), "")
        headers.append(f"{group} {label}{direction}")
    return headers


def row_cells(results: dict) -> list[str]:
    return [format_value(results["metrics"].get(region, {}).get(out)) for _, _, region, out in TABLE_COLUMNS]


def results_summary(results: dict) -> str:
    """A compact region x metric listing of one run."""
    rows = []
    for region, outs in results["metrics"].items():
        for out, entry in outs.items():
            rows.append([region, out + ARROW.get(entry["direction"], ""), format_value(entry), entry.get("weights", "")])
    text = tabulate(rows, headers=["region", "metric", "value", "extractor weights"], tablefmt="github", disable_numparse=True)
    if "landmarks" in results["metrics"]:
        text += "\n" + ADDED_NOTE.replace("* ", "landmarks: ", 1)
    if any(e.get("ci95") for outs in results["metrics"].values() for e in outs.values()):
        text += "\n" + INTERVAL_NOTE
    if results.get("untrained_extractors"):
        text += f"\n{UNTRAINED_MARK} computed with a random-init extractor: NOT a real metric value."
    if not results.get("complete", True):
        clips = results["clips"]
        text += (f"\nINCOMPLETE: values over {len(clips['evaluated'])} clip(s); {len(clips['failed'])} failed, "
                 f"{len(clips['missing'])} missing (clips.failed / clips.missing in results.json)")
    return text


def runs_table(paths: list[Path], fmt: str = "github") -> str:
    """Runs side by side in the Table I column layout, one row per run."""
    runs = [(Path(p), load_results(p)) for p in paths]
    headers = ["run"] + column_headers(runs[0][1] if runs else None)
    rows = [[p.name if p.is_dir() else p.parent.name] + row_cells(r) for p, r in runs]
    text = tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True) + "\n\n" + ADDED_NOTE + "\n\n" + INTERVAL_NOTE
    if any(r.get("untrained_extractors") for _, r in runs):
        text += f"\n\n{UNTRAINED_MARK} computed with a random-init extractor: NOT a real metric value."
    return text
