"""Regression: every metric on a fixed tiny synthetic subset against committed golden values.

The subset is 3 test clips of the synthetic generator (seed 11, one per speaker, so Div compares
distinct clips) scored for the ``still`` method. Extractors without real weights here (I3D, AlexNet, SyncNet) run seeded
random init, so their golden values guard the pipeline, not a real metric. Regenerate after an
intended change with ``MMGT_REGEN_GOLDEN=1 pytest tests/eval/test_regression.py`` and say why in
the commit.

Tolerances (relative, documented per family): PSNR/SSIM are float64 maths on identical decoded
frames (1e-9); LPIPS, Sync and gesture latents go through float32 networks (1e-4); FID/FVD/KVD add
a matrix square root over few samples, sensitive to BLAS summation order (1e-3). The landmark metrics
come from MediaPipe's float32 TFLite models (deterministic on one machine; 1e-4).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from eval.config import EvalConfig
from eval.protocol import Protocol
from eval.run import evaluate

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "eval_3clips_still.json"
TOLERANCE = {"psnr": 1e-9, "ssim": 1e-9, "lpips": 1e-4, "sync_c": 1e-4, "sync_d": 1e-4, "av_offset": 1e-4,
             "fgd": 1e-3, "div": 1e-4, "div_gt": 1e-4, "fid": 1e-3, "fvd": 1e-3, "kvd": 1e-3,
             "mouth_lmd": 1e-4, "lip_audio_corr": 1e-4, "lip_audio_corr_gt": 1e-4, "pose_err": 1e-4, "pck": 1e-4}


@pytest.fixture(scope="module")
def three_clips(tmp_path_factory) -> tuple[Path, Path]:
    """A 3-clip test split (no train clips) and the still row's outputs on it."""
    from mmgt.data.layout import Split
    from mmgt.data.synth import SynthConfig, generate_split
    from mmgt.methods import build_method, run_method

    root = tmp_path_factory.mktemp("three_clips")
    generate_split(root / "split", SynthConfig(speakers=3, train=0, test=1, seed=11, workers=1, clips_per_interval=1), progress=False)
    still = run_method(build_method("still"), Split(root / "split").clips("test"), root / "still", progress=False)
    return root / "split", still


def test_every_metric_matches_golden(three_clips, tmp_path):
    split, still = three_clips
    results, _, _ = evaluate(EvalConfig(  # FVD/KVD under the windows protocol the golden values were made with
        pred=still, gt=split, allow_untrained=True, cache_dir=tmp_path / "cache",
        progress=False, weights_dir=tmp_path / "no-weights", protocol=Protocol(fvd_protocol="windows"),
    ))
    values = {f"{r}/{m}": e["value"] for r, outs in results["metrics"].items() for m, e in outs.items()}
    if os.environ.get("MMGT_REGEN_GOLDEN"):
        GOLDEN.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert set(values) == set(golden)
    for key, expected in golden.items():
        metric = key.split("/")[1]
        assert values[key] == pytest.approx(expected, rel=TOLERANCE[metric], abs=1e-9), key
    assert results["inputs"]["n_pairs"] == 3 and values["gesture/div"] > 0 and values["gesture/div_gt"] > 0
    assert results["complete"] and results["untrained_extractors"]
    assert results["metrics"]["full"]["fid"]["untrained"] is False  # the FID Inception has real weights
