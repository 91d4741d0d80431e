"""The clip bootstrap: each family's resampling equals its metric on the resampled clips, degenerate and
one-clip cases, coverage on simulated data, exact merges, and the intervals of a run."""

from __future__ import annotations

import numpy as np
import pytest

import eval.metrics as M
import eval.metrics.frechet as frechet
from eval.bootstrap import bootstrap_states, draw_counts, percentile_interval
from eval.metrics.landmarks import LipAudioMetric, PoseErrorMetric

rng = np.random.default_rng(3)
pytestmark = pytest.mark.filterwarnings("ignore::eval.metrics.frechet.FewSamplesWarning")  # small synthetic sets


def feature_clips(n_clips: int, rows: int, dim: int, shift: float = 0.3) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for c in range(n_clips):
        centre = rng.standard_normal(dim) * 0.5 + 1.0
        out.append((f"c{c}", centre + rng.standard_normal((rows, dim)), centre + shift + rng.standard_normal((rows, dim))))
    return out


def fed(make, clips, copies=None, with_ids=True):
    """A metric fed ``clips`` (each ``copies[i]`` times, as separate samples)."""
    metric = make()
    for i, (cid, pred, gt) in enumerate(clips):
        for _ in range(1 if copies is None else copies[i]):
            metric.update(pred=pred, gt=gt, clip_id=cid if with_ids else None)
    return metric


FEATURE_FAMILIES = {
    "fid, Gram form (rows < dim)": (lambda: M.FrechetMetric("fid", 96), 6, 5, 96),
    "fid, covariance form (rows > dim)": (lambda: M.FrechetMetric("fid", 8), 6, 5, 8),
    "kvd": (lambda: M.create("kvd"), 5, 3, 400),
    "div": (lambda: M.create("div", dim=4), 6, 1, 4),
}


@pytest.mark.parametrize("family", FEATURE_FAMILIES)
def test_a_resample_equals_the_metric_of_the_resampled_clips(family):
    make, n_clips, rows, dim = FEATURE_FAMILIES[family]
    clips = feature_clips(n_clips, rows, dim)
    metric = fed(make, clips)
    counts = np.array([[1] * n_clips, [2, 0, 1, 0, 3] + [0] * (n_clips - 5)])
    replicates = metric.resample(counts)
    for b, row in enumerate(counts):
        explicit = fed(make, clips, row).compute()
        for out, value in explicit.items():
            assert replicates[out][b] == pytest.approx(value, rel=1e-9)


def test_per_clip_families_resample_their_clip_values():
    psnr = M.PSNRMetric()
    for cid, scores in (("a", [20.0, 22.0]), ("b", [30.0]), ("c", [25.0, 25.0, 25.0])):
        psnr.add_scores(np.array(scores), cid)
    assert psnr.clip_ids() == ["a", "b", "c"]
    np.testing.assert_allclose(psnr.resample(np.array([[1, 1, 1], [2, 0, 1]]))["psnr"], [(21 + 30 + 25) / 3, (42 + 25) / 3])
    pose = PoseErrorMetric()
    for cid, error, points, missed in (("a", 0.1, 10, 0), ("b", 0.3, 30, 10), ("c", np.nan, 5, 5)):
        pose.add_row(cid, error=error, pck=0.5, n_frames=4, n_points=points, n_missed=missed, n_no_body_pred=0, n_no_body_gt=0)
    ones = pose.resample(np.ones((1, 3)))
    assert ones["pose_err"][0] == pytest.approx(pose.compute()["pose_err"])  # pooled by scored points, NaN left out
    assert np.isnan(pose.resample(np.array([[0, 0, 2]]))["pose_err"][0])  # only the unscorable clip drawn
    lip = LipAudioMetric()
    for cid, corr in (("a", 0.2), ("b", 0.6)):
        lip.add_row(cid, corr=corr, corr_gt=0.5, n_frames=4, n_no_face_pred=0, n_no_face_gt=0, n_constant_pred=0, n_constant_gt=0)
    assert lip.resample(np.array([[3, 1]]))["lip_audio_corr"][0] == pytest.approx(0.3)
    sync = M.SyncMetric(vshift=1)
    sync.update("a", np.array([[3.0, 1.0, 2.0]]))
    sync.update("b", None)  # no face: not among the resampled clips
    assert sync.clip_ids() == ["a"] and sync.resample(np.array([[2]]))["sync_d"][0] == 1.0


def test_one_clip_resampled_gives_its_own_value_and_identical_inputs_a_degenerate_interval():
    clips = feature_clips(1, 5, 32)
    metric = fed(lambda: M.FrechetMetric("fid", 32), clips)
    boot = bootstrap_states({"full/fid": metric}, ["c0"], B=50, seed=0)
    value = metric.compute()["fid"]
    np.testing.assert_allclose(boot.replicates["full/fid"], value, rtol=1e-9)
    # GT against itself: per-frame metrics exactly at their ideal, distances zero to rounding
    same = [(cid, gt, gt) for cid, _, gt in feature_clips(6, 5, 32)]
    psnr = M.PSNRMetric()
    for cid, _, _ in same:
        psnr.add_scores(np.full(5, 100.0), cid)
    fid = fed(lambda: M.FrechetMetric("fid", 32), same)
    boot = bootstrap_states({"full/fid": fid, "full/psnr": psnr}, [c for c, _, _ in same], B=200, seed=1)
    assert boot.interval("full/psnr", psnr.compute()["psnr"]) == [100.0, 100.0]
    assert np.abs(boot.interval("full/fid", fid.compute()["fid"])).max() < 1e-9


def test_the_interval_is_centred_on_the_value_not_on_the_resampling_bias():
    """A multiset of ~63% distinct clips has a larger FID than the set: the raw replicates lie above the value."""
    metric = fed(lambda: M.FrechetMetric("fid", 64), feature_clips(8, 10, 64, shift=0.1))
    value = metric.compute()["fid"]
    boot = bootstrap_states({"full/fid": metric}, metric.clip_ids(), B=300, seed=0)
    replicates = boot.replicates["full/fid"]
    assert np.quantile(replicates, 0.025) > value  # the raw percentile interval misses the value
    lo, hi = boot.interval("full/fid", value)
    assert lo < value < hi
    assert hi - lo == pytest.approx(np.quantile(replicates, 0.975) - np.quantile(replicates, 0.025))


def test_intervals_cover_a_known_mean_and_narrow_with_more_clips():
    """Per-clip values drawn around a known mean: the 95% interval covers it in ~95% of simulated sets and
    its width falls as 1/sqrt(clips)."""
    mean, spread, trials = 5.0, 2.0, 200
    widths = {}
    for n_clips in (10, 40, 160):
        covered, width = 0, []
        for t in range(trials):
            metric = M.PSNRMetric()
            for c, v in enumerate(rng.normal(mean, spread, n_clips)):
                metric.add_scores(np.array([v]), f"c{c:03d}")
            boot = bootstrap_states({"full/psnr": metric}, metric.clip_ids(), B=400, seed=t)
            lo, hi = boot.interval("full/psnr", metric.compute()["psnr"])
            covered += lo <= mean <= hi
            width.append(hi - lo)
        widths[n_clips] = np.mean(width)
        assert 0.86 <= covered / trials <= 0.99, (n_clips, covered)
    assert widths[10] > widths[40] > widths[160]
    assert widths[10] / widths[160] == pytest.approx(4.0, rel=0.2)  # sqrt(160 / 10)
    assert widths[160] == pytest.approx(2 * 1.96 * spread / np.sqrt(160), rel=0.1)


def test_merged_states_give_the_single_process_replicates(tmp_path):
    clips = feature_clips(6, 4, 16)
    whole = {"full/fid": fed(lambda: M.FrechetMetric("fid", 16), clips), "full/kvd": fed(lambda: M.PolynomialMMDMetric("kvd", 16), clips)}
    merged = {key: type(m)(m.name, 16) for key, m in whole.items()}
    for part in (clips[3:], clips[:3]):  # shards in another order
        for key, metric in merged.items():
            shard = fed(lambda: type(metric)(metric.name, 16), part)
            np.savez(tmp_path / "s.npz", **shard.state_dict())
            loaded = type(metric)(metric.name, 16)
            with np.load(tmp_path / "s.npz") as saved:
                loaded.load_state_dict({k: saved[k] for k in saved.files})
            metric.merge(loaded)
    ids = [c for c, _, _ in clips]
    one, other = bootstrap_states(whole, ids, 100, 5), bootstrap_states(merged, ids[::-1], 100, 5)
    for key in whole:
        np.testing.assert_array_equal(one.replicates[key], other.replicates[key])


def test_feature_rows_beyond_the_cap_or_without_ids_give_no_interval(monkeypatch):
    monkeypatch.setattr(frechet, "MAX_BOOTSTRAP_ROWS", 12)
    clips = feature_clips(4, 4, 8)
    capped = fed(lambda: M.FrechetMetric("fid", 8), clips)
    assert len(capped._get("pred.rows")) == 0  # memory freed
    with pytest.raises(NotImplementedError, match="16 feature rows a side, more than the 12 kept"):
        capped.clip_ids()
    assert capped.compute() == fed(lambda: M.FrechetMetric("fid", 8), clips, with_ids=False).compute()
    small = fed(lambda: M.FrechetMetric("fid", 8), clips[:2])
    assert small.clip_ids() == ["c0", "c1"]
    assert small.merge(fed(lambda: M.FrechetMetric("fid", 8), clips[2:3], with_ids=False)).clip_ids() is None
    boot = bootstrap_states({"full/fid": capped}, [c for c, _, _ in clips], 10, 0)
    assert boot.interval("full/fid", 1.0) is None and "more than the 12 kept" in boot.notes["full/fid"]
    unlabelled = bootstrap_states({"full/fid": fed(lambda: M.FrechetMetric("fid", 8), clips[:2], with_ids=False)}, ["c0", "c1"], 10, 0)
    assert "do not keep each clip apart" in unlabelled.notes["full/fid"]


def test_draws_are_seeded_multisets_of_the_clips():
    counts = draw_counts(8, 1000, seed=4)
    assert counts.shape == (1000, 8) and (counts.sum(axis=1) == 8).all()
    np.testing.assert_array_equal(counts, draw_counts(8, 1000, seed=4))
    assert not np.array_equal(counts, draw_counts(8, 1000, seed=5))
    assert percentile_interval(np.array([1.0, np.nan] * 10), 1.0) is None  # half undefined: no interval


# ----- runs: results.json, shards, mmgt-eval compare ---------------------------------------------------


def run_config(pred, gt, tmp_path, **kw):
    from eval.config import EvalConfig

    return EvalConfig(pred=pred, gt=gt, metrics=("psnr", "ssim"), cache_dir=tmp_path / "cache", progress=False,
                      bootstrap=200, **kw)


def test_every_metric_of_a_written_run_has_an_interval_and_shards_give_the_same(tiny_split, method_outputs, tmp_path):
    from dataclasses import replace

    from eval.merge import merge_shards
    from eval.results import load_results
    from eval.run import evaluate, write_partial, write_run

    cfg = run_config(method_outputs["still"], tiny_split, tmp_path)
    results, states, _ = evaluate(cfg)
    whole = load_results(write_run(results, states, tmp_path / "whole"))
    assert whole["bootstrap"] == {"B": 200, "seed": 0, "unit": "clip", "n_clips": 2, "level": 0.95,
                                  "interval": "percentile, centred on the value", "file": "bootstrap.npz"}
    shards = []
    for i in range(2):
        res, st, _ = evaluate(replace(cfg, shard=(i, 2)))
        shards.append(write_partial(replace(cfg, shard=(i, 2)), st, res, tmp_path / "shards"))
    merged, _ = merge_shards(shards, tmp_path / "merged")
    for region, outs in whole["metrics"].items():
        for out, entry in outs.items():
            lo, hi = entry["ci95"]
            assert lo <= entry["value"] <= hi
            assert merged["metrics"][region][out]["ci95"] == entry["ci95"]


def test_compare_prints_paired_differences_and_a_run_against_itself_ties(tiny_split, method_outputs, tmp_path):
    from typer.testing import CliRunner

    from eval.cli import app
    from eval.run import evaluate, write_run

    runs = {}
    for name in ("gt", "still"):
        results, states, _ = evaluate(run_config(method_outputs[name], tiny_split, tmp_path))
        runs[name] = write_run(results, states, tmp_path / name)
    itself = CliRunner().invoke(app, ["compare", str(runs["still"]), str(runs["still"]), "--fmt", "tsv"])
    assert itself.exit_code == 0, itself.output
    lines = [[cell.strip() for cell in line.split("\t")] for line in itself.output.strip().splitlines()[1:]]
    assert len(lines) == 4 and all(cells[-2:] == ["[0, 0]", "tie"] for cells in lines)
    versus = CliRunner().invoke(app, ["compare", str(runs["gt"]), str(runs["still"]), "--fmt", "tsv"])
    assert versus.exit_code == 0, versus.output
    assert all(line.split("\t")[-1].strip() == "better" for line in versus.output.strip().splitlines()[1:])
    (runs["gt"] / "bootstrap.npz").unlink()
    missing = CliRunner().invoke(app, ["compare", str(runs["gt"]), str(runs["still"])])
    assert missing.exit_code != 0 and "no bootstrap replicates" in str(missing.exception)


def test_cli_bootstrap_option_sets_b_and_refuses_negative(tiny_split, method_outputs, tmp_path):
    import json

    from typer.testing import CliRunner

    from eval.cli import app

    args = ["--pred", str(method_outputs["gt"]), "--gt", str(tiny_split), "--metrics", "psnr", "--regions", "face",
            "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c"), "--no-progress", "--json"]
    result = CliRunner().invoke(app, args + ["--bootstrap", "50", "--bootstrap-seed", "3"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{"):])
    assert data["metrics"]["face"]["psnr"]["ci95"] == [100.0, 100.0]  # gt vs gt: every clip at the cap
    assert (data["bootstrap"]["B"], data["bootstrap"]["seed"]) == (50, 3)
    negative = CliRunner().invoke(app, args + ["--bootstrap", "-1"])
    assert negative.exit_code != 0 and "--bootstrap" in str(negative.exception)
    off = CliRunner().invoke(app, args + ["--bootstrap", "0"])
    entry = json.loads(off.stdout[off.stdout.index("{"):])["metrics"]["face"]["psnr"]
    assert entry["ci95"] is None and "bootstrap off" in entry["ci95_note"]


def test_per_clip_row_families_resample_by_recomputing_on_the_drawn_rows():
    """The generic bootstrap of a family whose value is a function of its per-clip rows (the half-body metrics)
    equals a closed-form resample (mouth LMD's pooled mean) and, on a row of ones, its own value."""
    from eval.metrics.landmarks import ClipRowsMetric, MouthLMDMetric

    rng = np.random.default_rng(0)
    metric = MouthLMDMetric()
    for clip in "abc":
        gt = rng.uniform(0, 100, (10, 468, 2))
        metric.update(clip, gt + rng.normal(0, 1, gt.shape), gt)
    counts = np.array([[1, 1, 1], [2, 0, 1], [0, 0, 3], [0, 0, 0]])
    generic = ClipRowsMetric.resample(metric, counts)["mouth_lmd"]
    np.testing.assert_allclose(generic[:3], metric.resample(counts)["mouth_lmd"][:3], rtol=1e-12)
    assert generic[0] == pytest.approx(metric.compute()["mouth_lmd"], rel=1e-12) and np.isnan(generic[3])
