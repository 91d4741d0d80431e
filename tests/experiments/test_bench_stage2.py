"""`make bench-stage2`: one timing case renders a clip and accounts for its parts (shrunk preset)."""

from __future__ import annotations

import pytest

from mmgt.experiments.bench_stage2 import time_case
from mmgt.stage2.pipeline import context_windows

SMALL = ("resolution=64", "train.vae.crop=32", "inference.steps=2", "inference.context_frames=6", "inference.context_overlap=2")


@pytest.mark.parametrize("model", ["animate-anyone", "mmgt"])
def test_time_case_reports_speed_memory_and_parts(model, tiny_split, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = time_case(model, "tiny", 1, tiny_split, "cpu", SMALL)
    assert r["frames"] == 80 and r["video_seconds"] == 3.2 and r["inference"]["steps"] == 2
    parts = r["parts"]
    assert parts["reference_net"]["calls"] == 1 and parts["vae_decode"]["calls"] == 10  # 80 frames decoded 8 at a time
    windows = len(context_windows(80, 6, 2))
    assert parts["denoiser"]["calls"] == 2 * -(-windows // 4)  # 2 steps, window_batch 4
    assert sum(p["seconds"] for p in parts.values()) <= r["seconds_total"] + 1e-3
    assert r["seconds_per_video_second"] == pytest.approx(r["seconds_total"] / 3.2, abs=0.01) and r["peak_rss_mib"] > 0


def test_the_baseline_case_samples_with_its_own_settings(tiny_split, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = time_case("animate-anyone@unipc-3", "tiny", 1, tiny_split, "cpu", SMALL)
    assert r["model"] == "animate-anyone@unipc-3" and r["inference"]["sampler"] == "unipc" and r["inference"]["steps"] == 3
    windows = len(context_windows(80, 6, 2))
    assert r["parts"]["denoiser"]["calls"] == 3 * -(-windows // 4)


def test_stopwatch_counts_calls_and_restores_what_it_wrapped():
    from mmgt.experiments.timing import Stopwatch

    class Base:
        @classmethod
        def make(cls):
            return cls()

        def run(self, x):
            return x + 1

    class Child(Base):
        pass

    watch = Stopwatch()
    with watch.wrapping([(Child, "make", "make"), (Child, "run", "run")]):
        assert Child.make().run(1) == 2 and Child().run(2) == 3
    assert watch.report()["make"]["calls"] == 1 and watch.report()["run"]["calls"] == 2
    assert "make" not in vars(Child) and "run" not in vars(Child)  # inherited again, not shadowed
    with watch.wrapping([(Base, "make", "make")]):
        pass
    assert isinstance(vars(Base)["make"], classmethod)


def test_video_benchmark_command_line_runs_every_case_in_its_own_process(monkeypatch, capsys, tmp_path):
    import json

    import mmgt.experiments.bench_common as common

    def fake_case(name, preset, threads, data, device):
        return {"name": name, "preset": preset, "threads": threads, "data": str(data), "device": device,
                "seconds_per_video_second": 1.0, "peak_rss_mib": 1.0, "load_average_1min_at_start": 0.0}

    # a --case process prints its one JSON line and nothing is collected
    assert common.run_video_cases(["--case", "a", "tiny", "2", "cpu", "--data", str(tmp_path)], "doc", "m", "model",
                                  ("a", "b"), fake_case, [("tiny", "cpu")]) is None
    assert json.loads(capsys.readouterr().out) == fake_case("a", "tiny", 2, tmp_path, "cpu")

    spawned = []

    def in_process(module, argv):
        spawned.append((module, argv))
        name, preset, threads, device = argv[1:5]
        return fake_case(name, preset, int(threads), argv[6], device)

    monkeypatch.setattr(common, "run_isolated", in_process)
    args, cases = common.run_video_cases(["--models", "a,b", "--threads", "1,2"], "doc", "mod", "model", ("a",),
                                         fake_case, [("tiny", "cpu"), ("paper", "cuda")])
    assert all(module == "mod" for module, _ in spawned) and args.out.name == "bench"
    assert [(c["preset"], c["name"], c["threads"]) for c in cases] == [
        (p, n, t) for p in ("tiny", "paper") for n in ("a", "b") for t in (1, 2)]
