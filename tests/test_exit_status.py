"""The exit-status contract, run as scripts run the commands (subprocesses): 0 complete, 1 error (one
line naming the file or option), 2 bad usage, 3 incomplete (and ``check`` with problems), 130
interrupted. Every bad input must leave earlier results, caches and user files byte-identical.

One prediction folder holds every per-clip fault next to sound clips, so one run answers for all
of them (cheap metrics only: PSNR/SSIM on the full frame).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mmgt.data.layout import AUDIO, KEYPOINTS, VIDEO, Split
from mmgt.video_io import read_video, write_video

CHEAP = ["--metrics", "psnr,ssim", "--regions", "full", "--no-progress"]
N_SOUND = 2  # c00, c01: unmodified copies

# clip id -> (fault, words its one-line reason must contain); the prediction side is broken
FAULTS = {
    "c02": ("truncated mp4", "truncated, corrupt or another format"),
    "c03": ("zero-byte mp4", "empty file (0 bytes)"),
    "c04": ("text named video.mp4", "not a readable video"),
    "c05": ("30 fps", "30 fps"),
    "c06": ("60 frames", "60 frames"),
    "c07": ("100 frames", "100 frames"),
    "c08": ("NaN keypoints", "NaN"),
    "c09": ("(80,133,3) keypoints", "(80, 133, 3)"),
    "c10": ("truncated npy", "truncated"),
    "c11": ("text named keypoints.npy", "not a .npy file"),
}
RESIZED = {"c12": (128, 128), "c13": (254, 256)}  # scored after resizing; c13 changes the aspect ratio
MISSING, EXTRA = "c14", "x99"


def run(module: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def mmgt_eval(*args) -> subprocess.CompletedProcess:
    return run("eval.cli", *args)


def snapshot(*roots: Path) -> dict[str, str]:
    """sha256 of every file under ``roots`` (and the roots themselves when files)."""
    out = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
        out.update({str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files})
    return out


def assert_status(proc: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """The exit status, no traceback, and (for errors) exactly one ``error:`` line holding ``needles``."""
    assert proc.returncode == code, f"status {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    if code in (1, 2):
        errors = [line for line in proc.stderr.splitlines() if line.startswith(("error:", "Error:"))]
        assert len(errors) == 1, proc.stderr
        text = errors[0]
    else:
        text = proc.stderr
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"
    return text


def _copy_clip(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True)
    for name in (VIDEO, AUDIO, KEYPOINTS):
        shutil.copy(src / name, dst / name)


def _break(kind: str, clip: Path) -> None:
    video, kp = clip / VIDEO, clip / KEYPOINTS
    if kind == "truncated mp4":
        video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    elif kind == "zero-byte mp4":
        video.write_bytes(b"")
    elif kind == "text named video.mp4":
        video.write_text("this is not a video\n")
    elif kind == "30 fps":
        write_video(video, read_video(video), fps=30)
    elif kind in ("60 frames", "100 frames"):
        frames = read_video(video)
        n = int(kind.split()[0])
        write_video(video, np.concatenate([frames, frames])[:n])
    elif kind == "NaN keypoints":
        k = np.load(kp)
        k[3, 5, 0] = np.nan
        np.save(kp, k)
    elif kind == "(80,133,3) keypoints":
        np.save(kp, np.load(kp)[:, :133])
    elif kind == "truncated npy":
        kp.write_bytes(kp.read_bytes()[:200])
    elif kind == "text named keypoints.npy":
        kp.write_text("0.1 0.2 0.3\n")
    else:
        raise AssertionError(kind)


def _resize(clip: Path, size: tuple[int, int]) -> None:
    import torch
    import torch.nn.functional as F

    frames = torch.from_numpy(read_video(clip / VIDEO)).permute(0, 3, 1, 2).float()
    small = F.interpolate(frames, size=(size[1], size[0]), mode="bilinear", antialias=True)
    write_video(clip / VIDEO, small.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy())
    (clip / KEYPOINTS).unlink()  # keypoints would be in the other frame size


@pytest.fixture(scope="module")
def faulty(tiny_split: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(pred, gt): GT clips c00..c14 (copies of the tiny split's test clips); predictions are copies
    with the faults above, two resized clips, c14 missing and one extra clip x99."""
    root = tmp_path_factory.mktemp("faulty")
    sources = [c.dir for c in Split(tiny_split).clips("test")]
    ids = [f"c{k:02d}" for k in range(15)]
    for k, cid in enumerate(ids):
        _copy_clip(sources[k % len(sources)], root / "gt" / cid)
        if cid != MISSING:
            _copy_clip(sources[k % len(sources)], root / "pred" / cid)
    _copy_clip(sources[0], root / "pred" / EXTRA)
    for cid, (kind, _) in FAULTS.items():
        _break(kind, root / "pred" / cid)
    for cid, size in RESIZED.items():
        _resize(root / "pred" / cid, size)
    return root / "pred", root / "gt"


@pytest.fixture(scope="module")
def sound(tiny_split: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Predictions identical to the tiny split's test clips (a complete run)."""
    pred = tmp_path_factory.mktemp("sound")
    for clip in Split(tiny_split).clips("test"):
        _copy_clip(clip.dir, pred / clip.clip_id)
    return pred


# ----- per-clip faults: exit 3, one summary block, nothing scored silently ------------------------

def test_every_faulty_clip_makes_the_run_incomplete_with_its_reason(faulty, shards, tmp_path):
    pred, gt = faulty
    earlier = shards[0].parent  # another run's results and cache, shared with this run
    before, before_earlier = snapshot(pred, gt), snapshot(earlier)
    proc = mmgt_eval("--pred", pred, "--gt", gt, "--out", tmp_path / "out", "--cache-dir", earlier / "cache",
                     "--allow-missing", *CHEAP)
    err = assert_status(proc, 3, "incomplete:", f"{len(FAULTS)} failed, 1 missing")
    block = err[err.index("incomplete:"):].splitlines()
    for cid, (kind, reason) in FAULTS.items():
        line = next((b for b in block if b.strip().startswith(f"failed  {cid}:")), None)
        assert line is not None and reason in line and str(pred / cid) in line, (kind, block)
    assert f"missing {MISSING}: no prediction" in err
    assert "INCOMPLETE" in proc.stdout  # the values on stdout carry the marker too
    # resize policy: said on stderr, recorded per clip; the aspect change is a recorded warning
    assert "2 clip(s) resized to the protocol size 256x256 (pred 128x128: 1, pred 254x256: 1)" in err
    assert f"warning: 1 prediction clip(s) have no GT and were not scored: {EXTRA}" in err
    assert "warning: 1 clip(s) have non-square frames" in err and "c13" in err
    (run_dir,) = (tmp_path / "out").iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert not results["complete"] and sorted(results["clips"]["failed"]) == sorted(FAULTS)
    assert results["clips"]["missing"] == [MISSING] and results["clips"]["extra"] == [EXTRA]
    assert sorted(results["clips"]["evaluated"]) == ["c00", "c01", "c12", "c13"]
    assert results["clips"]["resized"]["c12"] == {"pred": [128, 128], "gt": [256, 256], "to": [256, 256]}
    assert results["clips"]["resized"]["c13"]["aspect_changed"] == ["pred"]
    assert any("non-square" in w for w in results["warnings"])
    assert snapshot(pred, gt) == before
    after = snapshot(earlier)
    assert all(after[k] == v for k, v in before_earlier.items())  # earlier results and cache entries untouched


def test_missing_clips_are_an_error_without_allow_missing(faulty, tmp_path):
    pred, gt = faulty
    proc = mmgt_eval("--pred", pred, "--gt", gt, "--out", tmp_path / "out", "--cache-dir", tmp_path / "cache", *CHEAP)
    assert_status(proc, 1, str(pred), "1 GT clip(s) have no prediction", MISSING, "--allow-missing")
    assert not (tmp_path / "out").exists()


def test_check_finds_what_eval_fails_on_and_exits_3(faulty, tmp_path):
    pred, gt = faulty
    before = snapshot(pred, gt)
    proc = mmgt_eval("check", "--pred", pred, "--gt", gt, "--metrics", "psnr,ssim")
    lines = proc.stdout.splitlines()
    assert_status(proc, 3, f"{len(lines)} problem(s)", f"extra prediction (no GT, not scored): {EXTRA}",
                  "c12: pred 128x128, GT 256x256: resized to 256x256", "(aspect ratio changed)")
    assert f"missing prediction: {MISSING}" in lines
    flagged = sorted({line.split(":")[0] for line in lines if line.startswith("c")})
    assert flagged == sorted(FAULTS)  # exactly the clips the run fails on (one code path)
    for cid, (_, reason) in FAULTS.items():
        assert any(line.startswith(f"{cid}:") and reason in line for line in lines), cid
    assert snapshot(pred, gt) == before


def test_check_reads_audio_when_lip_sync_is_scored(sound, tiny_split, tmp_path):
    gt = tmp_path / "gt"
    for clip in Split(tiny_split).clips("test"):
        _copy_clip(clip.dir, gt / clip.clip_id)
    victim = sorted(gt.iterdir())[0]
    (victim / AUDIO).write_text("not audio")
    assert_status(mmgt_eval("check", "--pred", sound, "--gt", gt, "--metrics", "psnr"), 0, "0 problem(s)")
    proc = mmgt_eval("check", "--pred", sound, "--gt", gt)
    assert_status(proc, 3, "1 problem(s)")
    assert proc.stdout.startswith(f"{victim.name}: {victim / AUDIO}: not a readable audio file")


def test_sound_predictions_pass_check(sound, tiny_split):
    assert_status(mmgt_eval("check", "--pred", sound, "--gt", tiny_split), 0, "0 problem(s)")


# ----- options and paths: checked before any work -------------------------------------------------

@pytest.mark.parametrize("args, needles", [
    (["--trim", "foo"], ["--trim", "none, min", "'foo'"]),
    (["--fvd-protocol", "tats"], ["--fvd-protocol", "stylegan-v, common-metrics, windows", "'tats'"]),
    (["--metrics", ""], ["--metrics", "no name given"]),
    (["--metrics", "psnr,bogus"], ["--metrics", "unknown bogus"]),
    (["--shard", "2/2"], ["--shard", "0 <= i < N"]),
    (["--no-such-option"], ["No such option"]),
])
def test_bad_options_are_usage_errors(sound, tiny_split, tmp_path, args, needles):
    proc = mmgt_eval("--pred", sound, "--gt", tiny_split, "--cache-dir", tmp_path / "cache", "--out", tmp_path / "out",
                     "--no-progress", *(["--metrics", "psnr"] if "--metrics" not in args else []), *args)
    assert_status(proc, 2, *needles)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()


def test_eval_cli_checks_options_without_loading_torch():
    """Bad options are answered at once: the CLI module and the option checks stay free of torch."""
    code = "import sys, eval.cli; assert 'torch' not in sys.modules, 'eval.cli imported torch'"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_div_listed_by_ls_is_accepted_by_metrics():
    from eval.cli import _metrics
    from eval.config import ALL_METRICS
    from eval.metrics import available

    assert _metrics("psnr,div") == ("psnr", "fgd") and _metrics("fgd,div") == ("fgd",)
    assert all(set(_metrics(name)) <= set(ALL_METRICS) for name in available())


@pytest.mark.parametrize("option", ["--out", "--cache-dir"])
def test_output_paths_naming_a_file_fail_at_start(sound, tiny_split, tmp_path, option):
    user_file = tmp_path / "notes.txt"
    user_file.write_text("mine")
    paths = {"--out": tmp_path / "out", "--cache-dir": tmp_path / "cache", option: user_file}
    proc = mmgt_eval("--pred", sound, "--gt", tiny_split, *[x for kv in paths.items() for x in kv], *CHEAP)
    assert_status(proc, 1, str(user_file), f"{option} exists and is not a folder")
    assert user_file.read_text() == "mine"
    assert not any(p.exists() for p in paths.values() if p != user_file)  # nothing computed, nothing written


def test_missing_weights_fail_before_any_clip(sound, tiny_split, tmp_path):
    (tmp_path / "weights").mkdir()
    proc = mmgt_eval("--pred", sound, "--gt", tiny_split, "--metrics", "lpips", "--weights-dir", tmp_path / "weights",
                     "--cache-dir", tmp_path / "cache", "--out", tmp_path / "out", "--no-progress")
    assert_status(proc, 1, "missing weights 'alexnet'", str(tmp_path / "weights"), "mmgt weights fetch alexnet")
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()


def test_gt_naming_a_file(sound, tmp_path):
    user_file = tmp_path / "gt.mp4"
    user_file.write_bytes(b"x")
    assert_status(mmgt_eval("--pred", sound, "--gt", user_file, *CHEAP), 1, str(user_file), "is a file, expected a folder")


def test_missing_pred_or_gt_is_bad_usage():
    assert_status(mmgt_eval("--metrics", "psnr"), 2, "--pred/--gt")


# ----- shards, merge, table: other runs' files are never touched ---------------------------------

@pytest.fixture(scope="module")
def shards(sound, tiny_split, tmp_path_factory) -> tuple[Path, list]:
    """Both shards of a 2-way sharded run written to one --out, and the arguments that made them."""
    root = tmp_path_factory.mktemp("shards")
    base = ["--pred", sound, "--gt", tiny_split, "--cache-dir", root / "cache", "--out", root / "out", *CHEAP]
    for i in range(2):
        assert_status(mmgt_eval(*base, "--shard", f"{i}/2"), 0, f"shard-{i}-of-2")
    return root / "out", base


def test_shards_get_their_own_folders_and_refuse_another_runs_state(shards, tmp_path):
    out, base = shards
    assert sorted(p.name for p in out.iterdir()) == ["shard-0-of-2", "shard-1-of-2"]
    before = snapshot(out.parent)
    other = mmgt_eval(*base, "--shard", "0/2", "--trim", "min")  # another run's settings, same --out
    assert_status(other, 1, str(out / "shard-0-of-2"), "another shard run")
    assert snapshot(out.parent) == before
    assert_status(mmgt_eval(*base, "--shard", "0/2"), 0)  # the same shard again may replace its own state
    assert_status(mmgt_eval("merge", out, "--out", tmp_path / "merged"), 0, "results written to")


def test_merge_of_a_corrupt_shard_and_table_of_a_corrupt_results_file(shards, tmp_path):
    out = shutil.copytree(shards[0], tmp_path / "shards")
    partial = out / "shard-1-of-2" / "partial.npz"
    partial.write_bytes(partial.read_bytes()[:100])
    before = snapshot(out)
    assert_status(mmgt_eval("merge", out, "--out", tmp_path / "merged"), 1, str(partial), "corrupt shard state")
    assert snapshot(out) == before and not (tmp_path / "merged").exists()
    bad = tmp_path / "run" / "results.json"
    bad.parent.mkdir()
    bad.write_text('{"schema_version": "1", "metrics": {')
    assert_status(mmgt_eval("table", bad.parent), 1, str(bad), "not a readable results file")
    assert bad.read_text() == '{"schema_version": "1", "metrics": {'


# ----- interrupts -----------------------------------------------------------------------------------

STOP_AFTER_FIRST_CLIP = """
import sys, time
from pathlib import Path
import eval.harness as h
compute, marker = h.Evaluator.contribution, Path(sys.argv.pop(1))
def contribution(self, pred, gt):
    if marker.exists():
        time.sleep(600)  # the test interrupts here, with the first clip finished and cached
    out = compute(self, pred, gt)
    marker.touch()
    return out
h.Evaluator.contribution = contribution
from eval.cli import main
main()
"""


def test_sigint_exits_130_keeps_finished_clips_and_the_rerun_completes(sound, tiny_split, tmp_path):
    marker, cache = tmp_path / "first-clip-done", tmp_path / "cache"
    args = ["--pred", sound, "--gt", tiny_split, "--cache-dir", cache, "--out", tmp_path / "out", *CHEAP]
    # SIGINT as a terminal's Ctrl-C delivers it (a test runner started in the background ignores it)
    proc = subprocess.Popen([sys.executable, "-c", STOP_AFTER_FIRST_CLIP, str(marker), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        while not marker.exists() and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    interrupted = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    assert_status(interrupted, 130, f"interrupted: clips finished so far are cached in {cache}",
                  "rerun the same command to resume")
    assert not (tmp_path / "out").exists() and any(cache.rglob("*.npz"))
    rerun = mmgt_eval(*args)  # resumes and completes: a clean run says nothing more
    assert_status(rerun, 0, "results written to")
    assert "incomplete" not in rerun.stderr and "warning" not in rerun.stderr and "note" not in rerun.stderr
    (run_dir,) = (tmp_path / "out").iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["complete"] and len(results["clips"]["evaluated"]) == 2
    assert results["metrics"]["full"]["psnr"]["value"] == 100.0  # predictions equal GT: the ideal values
    assert results["metrics"]["full"]["ssim"]["value"] == pytest.approx(1.0, abs=1e-12)


# ----- data writers: nothing overwritten ------------------------------------------------------------

SYNTH = ["--speakers", "1", "--train", "1", "--test", "1", "--clips-per-interval", "1", "--workers", "1", "--no-progress"]


def test_synth_refuses_a_user_folder_and_force_removes_stale_clips(tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "manifest.csv").write_text("my own manifest\n")
    (user / "notes.txt").write_text("keep me")
    before = snapshot(user)
    assert_status(run("mmgt.cli", "data", "synth", "--out", user, *SYNTH), 1, str(user), "is not empty", "--force")
    assert snapshot(user) == before

    out = tmp_path / "split"
    assert_status(run("mmgt.cli", "data", "synth", "--out", out, *SYNTH), 0)
    stale = out / "test" / "spk9_old_w00"
    _copy_clip(next((out / "test").iterdir()), stale)
    assert_status(run("mmgt.cli", "data", "synth", "--out", out, *SYNTH), 0)  # its own earlier output: rewritten
    assert not stale.exists()
    assert_status(run("mmgt.cli", "data", "synth", "--out", user, "--force", *SYNTH), 0)
    assert (user / "notes.txt").read_text() == "keep me" and len(Split(user).clips()) == 2


def test_prepare_pats_refuses_a_user_folder(tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "data.csv").write_text("x")
    proc = run("mmgt.cli", "data", "prepare-pats", "--intervals", tmp_path / "iv.csv", "--videos", tmp_path, "--out", user,
               "--no-progress")
    assert_status(proc, 1, str(user), "is not empty", "prepare-pats", "--force")
    assert snapshot(user) == {str(user / "data.csv"): hashlib.sha256(b"x").hexdigest()}


# ----- every command documents the contract -----------------------------------------------------------

CONTRACT = ("Exit status: 0 complete; 1 error", "3 incomplete results", "130 interrupted")


@pytest.mark.parametrize("module, args", [("eval.cli", ["check"]), ("mmgt.cli", ["data", "synth"])])
def test_help_states_the_exit_statuses(module, args):
    proc = run(module, *args, "--help", env={"COLUMNS": "300"})
    assert proc.returncode == 0 and all(c in proc.stdout for c in CONTRACT), proc.stdout


def test_every_command_documents_the_exit_statuses():
    from typer.testing import CliRunner

    from eval.cli import app as eval_app
    from mmgt.cli.main import app as mmgt_app
    from mmgt.cli.common import document_exit_statuses

    def commands(app, path=()):
        yield path
        yield from (path + (c.name or c.callback.__name__.replace("_", "-"),) for c in app.registered_commands)
        for group in app.registered_groups:
            yield from commands(group.typer_instance, path + (group.name,))

    visited = []
    for app in (eval_app, mmgt_app):
        document_exit_statuses(app)  # what run_cli does first
        for path in commands(app):
            result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "300"}, terminal_width=300)
            assert result.exit_code == 0 and all(c in result.output for c in CONTRACT), (path, result.output)
            visited.append(path)
    assert {("check",), ("merge",), ("ls",), ("data", "prepare-pats"), ("weights", "fetch")} <= set(visited)


# ----- console hygiene: each warning one line, once per run -------------------------------------------

WARNING_APP = """
import warnings
import typer
from eval.metrics.frechet import FewSamplesWarning
from mmgt.cli.common import run_cli

app = typer.Typer()

@app.command()
def main() -> None:
    for _ in range(3):
        warnings.warn("fid: pred = 160 < dim 2048;\\n  the distance is biased", FewSamplesWarning)
    warnings.warn("another thing", UserWarning)

run_cli(app)
"""


def test_warnings_are_one_readable_line_each_once_per_run():
    proc = subprocess.run([sys.executable, "-c", WARNING_APP], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "warning: fid: pred = 160 < dim 2048; the distance is biased (FewSamplesWarning)",
        "warning: another thing (UserWarning)",
    ]
