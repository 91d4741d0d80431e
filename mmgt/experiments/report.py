"""A table's HTML report: one static, self-contained folder (``index.html`` with inline CSS and JS, relative
paths only) to read a table run in a browser.

``results/<table>/report/``::

    index.html        the table (sortable, best per column marked, the paper's rows), the plots, the clips
                      (every row's video side by side, driven by the speech), provenance
    plots/<group>.png each metric group: every row's value with its 95% interval over its per-clip values
    media/<clip>/     speech.webm and <row>.webm (+ <row>.pose.webm, <row>.mask.webm for two-stage rows)
    runs/<row>.json   each row's results file

Inputs: ``results/<table>/runs/<row>.json`` (the rows; extra sampling seeds left out),
``runs/<row>.per_clip.csv`` (the per-clip values, copied there by :func:`mmgt.experiments.tables.measure`;
results.json holds only the pooled values), and the videos each results file names (``inputs.pred``, the
split ``inputs.gt`` for the speech), resolved against ``base`` when relative (the reproduce run's folder).
"""

from __future__ import annotations

import html
from urllib.parse import quote
import shutil
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import pandas as pd

from eval.results import PER_CLIP_FILE, UNTRAINED_MARK, load_results
from eval.table import ADDED_NOTE, INTERVAL_NOTE, TABLE_COLUMNS, column_headers, format_value
from mmgt.data.layout import VIDEO, Split
from mmgt.errors import DataError
from mmgt.experiments.report_media import PREVIEW_BITRATE, PREVIEW_SIZE, SPEECH_BITRATE, encode_preview, encode_speech, pose_views
from mmgt.experiments.report_plots import metric_plots
from mmgt.experiments.reproduction import table_runs
from mmgt.experiments.tables import CLOSE_MARK, CLOSE_NOTE, DEFAULT_METHODS, TABLES, close_calls, face_track_note, paper_cells, paper_rows
from mmgt.video_io import SAMPLE_RATE, probe, read_video

INDEX = "index.html"
NOT_RANKED = ("gt",)  # the upper bound: left out of "best per column"


@dataclass
class ReportConfig:
    """One table's report."""

    results_dir: Path  # results/<table>
    out: Path | None = None  # default: results_dir / "report"
    base: Path = Path(".")  # where relative paths in the results files resolve
    size: int = PREVIEW_SIZE
    bitrate: int = PREVIEW_BITRATE

    @property
    def out_dir(self) -> Path:
        return self.out if self.out is not None else self.results_dir / "report"


def load_rows(results_dir: Path) -> dict[str, dict]:
    """``{row: results}`` of a table folder (:func:`~mmgt.experiments.reproduction.table_runs`), in the table's
    row order (others after, by name)."""
    runs = table_runs(results_dir)
    first = [m for m in DEFAULT_METHODS.get(results_dir.name, ()) if m in runs]
    return {m: runs[m] for m in first + [m for m in runs if m not in first]}


def load_per_clip(results_dir: Path, rows: list[str]) -> pd.DataFrame:
    """The rows' per-clip values (``method`` column added); rows without a per-clip file contribute none."""
    frames = [pd.read_csv(p).assign(method=m) for m in rows if (p := results_dir / "runs" / f"{m}.{PER_CLIP_FILE}").is_file()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["region", "metric", "clip_id", "value", "untrained", "method"])


def best_rows(runs: dict[str, dict]) -> set[tuple[str, str, str]]:
    """``(row, region, output)`` of each column's best value among the ranked rows (ties all marked)."""
    best = set()
    for _, _, region, out in TABLE_COLUMNS:
        entries = {m: e for m, res in runs.items() if m not in NOT_RANKED
                   and (e := res["metrics"].get(region, {}).get(out)) and e.get("value") is not None
                   and e.get("direction") in ("lower", "higher")}
        if entries:
            pick = min if next(iter(entries.values()))["direction"] == "lower" else max
            top = pick(e["value"] for e in entries.values())
            best |= {(m, region, out) for m, e in entries.items() if e["value"] == top}
    return best


def _cell(text: str, value: float | None, best: bool = False) -> str:
    attrs = (f' data-v="{value!r}"' if value is not None else "") + (' class="best" title="best of our rows (gt not ranked)"' if best else "")
    return f"<td{attrs}>{html.escape(text)}</td>"


def table_html(table: str, runs: dict[str, dict]) -> str:
    """The sortable metrics table: our rows, then the paper's; columns any of them has a value in."""
    paper = paper_cells(paper_rows(table)) if table in TABLES else []
    headers = column_headers(next(iter(runs.values())))
    keep = [i for i, (_, _, region, out) in enumerate(TABLE_COLUMNS)
            if any(res["metrics"].get(region, {}).get(out) for res in runs.values()) or any(row[i + 1] != "–" for row in paper)]
    best, close = best_rows(runs), close_calls(runs)
    head = "<th>method</th>" + "".join(
        f'<th><span class="group">{html.escape(TABLE_COLUMNS[i][0])}</span>{html.escape(headers[i][len(TABLE_COLUMNS[i][0]) + 1:])}</th>' for i in keep)
    body = []
    for m, res in runs.items():
        cells = []
        for i in keep:
            _, _, region, out = TABLE_COLUMNS[i]
            entry = res["metrics"].get(region, {}).get(out)
            text = format_value(entry) + (CLOSE_MARK if (m, region, out) in close else "")
            cells.append(_cell(text, entry.get("value") if entry else None, (m, region, out) in best))
        body.append(f'<tr class="ours"><td>{html.escape(m)}</td>{"".join(cells)}</tr>')
    for row in paper:
        cells = "".join(_cell(row[i + 1], float(row[i + 1]) if row[i + 1] != "–" else None) for i in keep)
        body.append(f'<tr class="paper"><td>{html.escape(row[0])}</td>{cells}</tr>')
    return (f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
            f'<p class="note">Click a column to sort. Bold: the best of our rows per column (gt, the upper bound, not '
            f'ranked). {html.escape(INTERVAL_NOTE)} {html.escape(CLOSE_NOTE)} {UNTRAINED_MARK}: computed with a random-init '
            f'extractor, NOT the real metric. {html.escape(ADDED_NOTE)}</p>')


def resolve(base: Path, path: str) -> Path:
    return Path(path) if Path(path).is_absolute() else base / path


def clip_section(cfg: ReportConfig, clip_id: str, runs: dict[str, dict]) -> str:
    """One clip: the speech, every row's preview video (pose and mask views of two-stage rows), shared controls."""
    folder = cfg.out_dir / "media" / clip_id
    figures, views, duration = [], False, 0.0
    for m, res in runs.items():
        source = resolve(cfg.base, res["inputs"]["pred"]) / clip_id
        if not (source / VIDEO).is_file():
            figures.append(f'<figure><p>no video at {html.escape(str(source / VIDEO))}</p><figcaption>{html.escape(m)}</figcaption></figure>')
            continue
        fps = probe(source / VIDEO).fps
        frames = read_video(source / VIDEO, expect_fps=None)
        duration = max(duration, len(frames) / fps)
        clips = {"": frames} | ({f".{k}": v for k, v in pose_views(source, frames.shape[2:0:-1]).items()} if "pose_source" in res.get("method", {}) else {})
        for suffix, video in clips.items():
            encode_preview(video, folder / f"{m}{suffix}.webm", fps, cfg.size, cfg.bitrate)
            views |= bool(suffix)
            figure = '<figure class="view">' if suffix else "<figure>"
            figures.append(f'{figure}<video src="{quote(f"media/{clip_id}/{m}{suffix}.webm")}" muted '
                           f'preload="auto" playsinline></video><figcaption>{html.escape(m + suffix.replace(".", " "))}</figcaption></figure>')
    clip = Split(resolve(cfg.base, next(iter(runs.values()))["inputs"]["gt"])).clip(clip_id)
    encode_speech(clip.audio(SAMPLE_RATE), SAMPLE_RATE, folder / "speech.webm")
    toggle = ('<label><input type="checkbox" class="views"> pose and motion-mask (face + hands) videos of two-stage rows</label>'
              if views else "")
    return (f'<section class="clip"><h3>{html.escape(clip_id)}</h3><audio src="{quote(f"media/{clip_id}/speech.webm")}" preload="auto"></audio>'
            f'<div class="controls"><button class="play">play</button><input class="scrub" type="range" min="0" '
            f'max="{duration:.3f}" step="0.01" value="0"><span class="time">0.00 s</span>{toggle}</div>'
            f'<div class="grid">{"".join(figures)}</div></section>')


def provenance_html(cfg: ReportConfig, runs: dict[str, dict]) -> str:
    """Data, protocol, face track, FVD protocol, extractor weights, code commit and machine of every row."""
    first = next(iter(runs.values()))
    weights = ", ".join(f"{k}: {v.get('weights') or '?'}" for k, v in first.get("extractors", {}).items()) or "–"
    items = [
        ("data", f"{first['inputs']['gt']} ({first['inputs'].get('n_pairs', '?')} clips scored)"),
        ("protocol", f"v{first['protocol']['version']} (docs/PROTOCOL.md); {face_track_note(first)}; FVD/KVD protocol "
                     f"{first['protocol'].get('fvd_protocol', 'windows')}"),
        ("extractor weights", weights),
        ("media", f"previews {cfg.size}x{cfg.size} VP9 WebM at {cfg.bitrate // 1000} kbit/s; speech Opus WebM at "
                  f"{SPEECH_BITRATE // 1000} kbit/s; per-clip points from runs/&lt;row&gt;.{PER_CLIP_FILE} of the table folder"),
    ]
    rows = []
    for m, res in runs.items():
        git, env = res["package"]["git"], res.get("environment", {})
        machine = ", ".join(str(env[k]) for k in ("platform", "device", "cpu_capability", "torch") if env.get(k))
        rows.append(f'<tr><td>{html.escape(m)}</td><td>{html.escape(git.get("commit") or "?")}{" (dirty)" if git.get("dirty") else ""}</td>'
                    f'<td>{html.escape(res.get("created", "?"))}</td><td>{html.escape(machine)}</td>'
                    f'<td>{html.escape(res.get("method", {}).get("description", ""))}</td>'
                    f'<td><a href="{quote(f"runs/{m}.json")}">results.json</a></td></tr>')
    listing = "".join(f"<dt>{k}</dt><dd>{v if k == 'media' else html.escape(v)}</dd>" for k, v in items)
    return (f'<dl class="provenance">{listing}</dl><table><thead><tr><th>row</th><th>commit</th><th>created</th><th>machine</th>'
            f'<th>method</th><th>results</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def write_report(cfg: ReportConfig) -> Path:
    """Write the report folder (replacing an earlier report there, refusing any other folder); returns its ``index.html``."""
    runs = load_rows(cfg.results_dir)
    table = cfg.results_dir.name
    out = cfg.out_dir
    if out.exists() and any(out.iterdir()):
        if not (out / INDEX).is_file():
            raise DataError(out, "exists and is not a report folder (no index.html): choose another --out")
        shutil.rmtree(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    for m in runs:
        shutil.copyfile(cfg.results_dir / "runs" / f"{m}.json", out / "runs" / f"{m}.json")
    plots = metric_plots(runs, load_per_clip(cfg.results_dir, list(runs)), out / "plots")
    clip_ids = next(iter(runs.values()))["clips"]["evaluated"]
    assets = files("mmgt.experiments") / "report_assets"
    title = TABLES[table][1] if table in TABLES else table
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{assets.joinpath("report.css").read_text()}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="note">Our rows are measured on {html.escape(next(iter(runs.values()))["inputs"]["gt"])}, the paper's on PATS with
unpublished metric code: compare rankings and gaps, not absolute values.</p>
<h2>Table</h2>{table_html(table, runs)}
<h2>Plots</h2><p class="note">Per column: each row's value with its 95% clip-bootstrap interval (black) over its
per-clip values (grey; set metrics such as FID and FVD have none).</p>
<div class="plots">{"".join(f'<img src="plots/{p.name}" alt="{p.stem}">' for p in plots)}</div>
<h2>Clips</h2><p class="note">Every row's video of each test clip; one button and slider drive them all with the
clip's speech.</p>
{"".join(clip_section(cfg, c, runs) for c in clip_ids)}
<h2>Provenance</h2>{provenance_html(cfg, runs)}
<script>{assets.joinpath("report.js").read_text()}</script>
</body></html>
"""
    index = out / INDEX
    index.write_text(page)
    return index
