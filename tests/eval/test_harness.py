"""The evaluation loop end to end on a tiny synthetic split (pixel metrics: no weights needed)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from eval.bootstrap import add_intervals
from eval.cli import app
from eval.config import EvalConfig
from eval.harness import Evaluator
from eval.merge import merge_shards
from eval.protocol import PROTOCOL_VERSION
from eval.run import evaluate, write_partial
from mmgt.errors import DataError, MMGTError

PIXEL = ("psnr", "ssim")


def config(pred: Path, gt: Path, tmp_path: Path, **kw) -> EvalConfig:
    return EvalConfig(pred=pred, gt=gt, metrics=PIXEL, cache_dir=tmp_path / "cache", progress=False, **kw)


def value(results: dict, region: str, metric: str) -> float:
    return results["metrics"][region][metric]["value"]


def test_gt_scores_ideal_and_still_scores_worse(tiny_split, method_outputs, tmp_path):
    gt, _, _ = evaluate(config(method_outputs["gt"], tiny_split, tmp_path))
    still, _, _ = evaluate(config(method_outputs["still"], tiny_split, tmp_path))
    for region in ("full", "face"):
        assert value(gt, region, "psnr") == 100.0
        assert value(gt, region, "ssim") == pytest.approx(1.0, abs=1e-12)
        assert value(still, region, "psnr") < 40
        assert value(still, region, "ssim") < value(gt, region, "ssim")
    assert gt["complete"] and gt["clips"]["failed"] == {} and gt["clips"]["no_face"] == []
    assert gt["metrics"]["full"]["psnr"]["n_capped"] > 0


def cold_shards(cfg: EvalConfig, n: int, root: Path) -> list[Path]:
    """The ``n`` shards of ``cfg``, each computed cold (its own empty cache), as partial-state folders."""
    shards = []
    for i in range(n):
        shard = replace(cfg, shard=(i, n), cache_dir=root / f"cache-{i}")
        assert not shard.cache_dir.exists()
        res, states, _ = evaluate(shard)
        assert any(shard.cache_dir.rglob("*.npz"))  # computed by the shard itself
        shards.append(write_partial(shard, states, res, root / "shards"))
    return shards


def test_shards_merge_to_the_single_process_result(tiny_split, method_outputs, tmp_path):
    cfg = config(method_outputs["still"], tiny_split, tmp_path)
    whole, _, _ = evaluate(cfg)
    shards = cold_shards(cfg, 2, tmp_path)
    evaluated = [json.loads((s / "partial.json").read_text())["clips"]["evaluated"] for s in shards]
    assert all(evaluated) and not set(evaluated[0]) & set(evaluated[1])  # each shard its own clips
    merged, run_dir = merge_shards(shards[::-1], tmp_path / "merged")
    for region in ("full", "face"):
        for metric in PIXEL:
            assert value(merged, region, metric) == value(whole, region, metric)
    assert sorted(merged["clips"]["evaluated"]) == sorted(whole["clips"]["evaluated"]) == sorted(sum(evaluated, []))
    assert (run_dir / "results.json").is_file() and (run_dir / "per_clip.csv").is_file()


def test_rerun_resumes_from_the_cache(tiny_split, method_outputs, tmp_path, monkeypatch):
    cfg = config(method_outputs["still"], tiny_split, tmp_path)
    first, _, _ = evaluate(cfg)
    ev = Evaluator(cfg)
    monkeypatch.setattr(ev.extractors, "frame_scores", lambda *a: pytest.fail("recomputed a cached clip"))
    second, _, _ = evaluate(cfg, ev)
    assert second["metrics"] == first["metrics"]


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_missing_prediction_is_an_error_unless_allowed(tiny_split, method_outputs, tmp_path):
    pred = _copy(method_outputs["still"], tmp_path / "pred")
    victim = sorted(p for p in pred.iterdir() if p.is_dir())[0]
    shutil.rmtree(victim)
    with pytest.raises(DataError, match="have no prediction"):
        evaluate(config(pred, tiny_split, tmp_path))
    res, _, _ = evaluate(config(pred, tiny_split, tmp_path, allow_missing=True))
    assert res["clips"]["missing"] == [victim.name] and not res["complete"]


def test_corrupt_and_wrong_fps_videos_are_recorded_failures(tiny_split, method_outputs, tmp_path):
    from mmgt.video_io import read_video, write_video

    pred = _copy(method_outputs["still"], tmp_path / "pred")
    a, b = sorted(p for p in pred.iterdir() if p.is_dir())[:2]
    data = (a / "video.mp4").read_bytes()
    (a / "video.mp4").write_bytes(data[: len(data) // 3])
    write_video(b / "video.mp4", read_video(b / "video.mp4"), fps=30)
    res, _, _ = evaluate(config(pred, tiny_split, tmp_path))
    assert set(res["clips"]["failed"]) == {a.name, b.name}
    assert "30 fps" in res["clips"]["failed"][b.name]
    assert not res["complete"]


def test_cli_json_output_and_exit_status(tiny_split, method_outputs, tmp_path):
    runner = CliRunner()
    args = ["--pred", str(method_outputs["gt"]), "--gt", str(tiny_split), "--metrics", "psnr", "--regions", "face",
            "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c"), "--no-progress", "--json",
            "--no-reuse-memory"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{"):])
    assert data["metrics"]["face"]["psnr"]["value"] == 100.0
    assert data["config"]["reuse_memory"] is False and data["extractors"] == {}  # pixel metrics need no network
    assert data["protocol"]["version"] == PROTOCOL_VERSION and data["package"]["git"]["commit"]
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["--pred", str(empty), "--gt", str(tiny_split), "--no-progress"])
    assert result.exit_code != 0


def test_face_track_comes_from_gt_keypoints(tiny_split, method_outputs, tmp_path):
    from eval.pairing import discover
    from eval.regions import track_from_keypoints
    from mmgt.data.layout import load_keypoints

    clip = next(iter(discover(tiny_split).values()))
    kp = load_keypoints(clip.keypoints)
    track = track_from_keypoints(kp, EvalConfig(pred=tmp_path, gt=tmp_path).protocol)
    face = kp[:, 24:92, :2]
    assert np.all(np.abs(track.cx - face[..., 0].mean(1)) < 0.5 * track.s)
    assert np.all(track.s > 3)


@pytest.fixture(scope="module")
def fid_shards(tiny_split, method_outputs, tmp_path_factory):
    """The still row scored on FID (real Inception weights) + PSNR as 2 cold shards (each its own empty
    cache), and whole, from the union of the shards' caches (so nothing is computed twice)."""
    tmp = tmp_path_factory.mktemp("fid_shards")
    cfg = EvalConfig(pred=method_outputs["still"], gt=tiny_split, metrics=("psnr", "fid"), regions=("full",),
                     cache_dir=tmp / "cache", progress=False)
    shards = cold_shards(cfg, 2, tmp)
    for i in range(2):
        shutil.copytree(tmp / f"cache-{i}", cfg.cache_dir, dirs_exist_ok=True)
    whole, whole_states, _ = evaluate(cfg)
    add_intervals(whole, whole_states)
    return whole, shards


def _copy_shards(shards: list[Path], tmp_path: Path) -> list[Path]:
    return [_copy(s, tmp_path / s.name) for s in shards]


def _edit_meta(shard: Path, edit) -> None:
    meta = json.loads((shard / "partial.json").read_text())
    edit(meta)
    (shard / "partial.json").write_text(json.dumps(meta))


def test_fid_shards_merge_exactly(fid_shards, tmp_path):
    whole, shards = fid_shards
    merged, _ = merge_shards(shards, tmp_path / "merged")
    assert value(merged, "full", "fid") == pytest.approx(value(whole, "full", "fid"), rel=1e-9, abs=1e-9)
    assert value(merged, "full", "psnr") == value(whole, "full", "psnr")
    assert merged["extractors"] == whole["extractors"]
    for metric in ("fid", "psnr"):  # the bootstrap of the merged states is the single process's
        assert merged["metrics"]["full"][metric]["ci95"] == pytest.approx(whole["metrics"]["full"][metric]["ci95"], rel=1e-9)


def test_merge_keeps_the_shards_random_init_marks(fid_shards, tmp_path):
    """Shards computed with a random-init Inception elsewhere stay marked when merged here,
    where the real weights exist."""
    shards = _copy_shards(fid_shards[1], tmp_path)

    def untrained(meta):
        meta["untrained_extractors"] = True
        meta["extractors"]["inception"]["weights"] = "random-init(seed=0)"
        meta["metrics"]["full"]["fid"].update(untrained=True, weights="random-init(seed=0)")

    for s in shards:
        _edit_meta(s, untrained)
    merged, run_dir = merge_shards(shards, tmp_path / "merged")
    assert merged["untrained_extractors"] is True
    assert merged["metrics"]["full"]["fid"]["untrained"] is True
    assert merged["extractors"]["inception"]["weights"] == "random-init(seed=0)"


def test_per_clip_csv_marks_random_init_values(tiny_split, method_outputs, tmp_path):
    import csv

    from eval.run import write_run

    cfg = EvalConfig(pred=method_outputs["still"], gt=tiny_split, metrics=("psnr", "lpips"), regions=("full",),
                     cache_dir=tmp_path / "cache", weights_dir=tmp_path / "no-weights", allow_untrained=True, progress=False)
    res, states, _ = evaluate(cfg)
    rows = list(csv.DictReader(open(write_run(res, states, tmp_path / "runs") / "per_clip.csv")))
    marks = {r["metric"]: r["untrained"] for r in rows}
    assert marks == {"psnr": "False", "lpips": "True"}  # LPIPS's AlexNet is random-init without weights


@pytest.mark.parametrize("pick", [(0,), (1,), (0, 0, 1), (0, 1, 1)], ids=["only-0", "only-1", "0-twice", "1-twice"])
def test_merge_needs_every_shard_exactly_once(fid_shards, tmp_path, pick):
    shards = fid_shards[1]
    chosen = [_copy(shards[i], tmp_path / f"{k}" / shards[i].name) for k, i in enumerate(pick)]
    with pytest.raises(MMGTError, match=r"shards 0\.\.1 exactly once, got \[" + ", ".join(map(str, sorted(pick)))):
        merge_shards(chosen, tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


@pytest.mark.parametrize("what", ["extractors", "protocol", "code"])
def test_merge_refuses_shards_of_other_provenance(fid_shards, tmp_path, what):
    shards = _copy_shards(fid_shards[1], tmp_path)

    def edit(meta):
        if what == "extractors":
            meta["extractors"]["inception"]["weights"] = "0" * 64
        elif what == "protocol":
            meta["protocol"]["size"] = 128
        else:
            meta["package"]["git"]["commit"] = "f" * 40

    _edit_meta(shards[1], edit)
    with pytest.raises(DataError, match="shard-1-of-2"):
        merge_shards(shards, tmp_path / "merged")
