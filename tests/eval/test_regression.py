"""Regression of a whole evaluation run on a fixed tiny synthetic subset.

The subset is 3 test clips of the synthetic generator (seed 11, one per speaker, so Div compares
distinct clips) scored for the ``still`` method.

* Fast (default run): the float64 pixel families (PSNR, SSIM) through the whole harness (decode,
  pairing, per-frame scores, per-clip then clip means) equal an independent computation with
  scikit-image on the decoded frames, to 1e-9 (PSNR) and 1e-6 (SSIM: skimage's float64 filters vs ours).
* Slow (``make test-slow``): every metric against golden values. Networks without real weights here (I3D,
  AlexNet, SyncNet) run seeded random init, MediaPipe's TFLite models are float32, and torch picks CPU
  kernels per instruction set, so these values are exact only on one kind of CPU: the golden file
  records ``torch.backends.cpu.get_cpu_capability()`` and the test skips (saying so) on another. Values
  near zero (KVD, FGD, a constant mouth's lip-audio 0) are compared with absolute tolerances; discrete
  ones (AV offset, PCK) only where the same kernels make them exact, i.e. on the recorded capability.

Regenerate the golden file with ``MMGT_REGEN_GOLDEN=1 pytest -m slow tests/eval/test_regression.py``,
and only for an intended change of a metric's computation (a protocol version) or of an extractor
(weights, preprocessing); the commit names the values that moved and why.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from eval.config import EvalConfig
from eval.protocol import PROTOCOL_VERSION
from eval.run import evaluate
from mmgt.video_io import read_video

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "eval_3clips_still.json"
RELATIVE = {"lpips": 1e-4, "sync_c": 1e-4, "sync_d": 1e-4, "div": 1e-4, "fid": 1e-3, "fvd": 1e-3}
ABSOLUTE = 1e-6  # for every value: near-zero ones (kvd, fgd, a constant mouth's correlation) rest on it


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


def test_pixel_metrics_of_a_run_equal_scikit_image_on_the_decoded_frames(three_clips, tmp_path):
    split, still = three_clips
    results, _, _ = evaluate(EvalConfig(pred=still, gt=split, metrics=("psnr", "ssim"), regions=("full",),
                                        cache_dir=tmp_path / "cache", progress=False))
    psnr, ssim = [], []
    for clip in sorted((split / "test").iterdir()):
        pred, gt = (read_video(d / "video.mp4").astype(np.float64) / 255 for d in (still / clip.name, clip))
        psnr.append(np.mean([peak_signal_noise_ratio(g, p, data_range=1.0) for p, g in zip(pred, gt)]))
        ssim.append(np.mean([structural_similarity(p, g, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                                   data_range=1.0, channel_axis=-1) for p, g in zip(pred, gt)]))
    full = results["metrics"]["full"]
    assert full["psnr"]["value"] == pytest.approx(np.mean(psnr), rel=1e-9)
    assert full["ssim"]["value"] == pytest.approx(np.mean(ssim), abs=1e-6)
    assert results["inputs"]["n_pairs"] == 3 and full["psnr"]["n_capped"] == 0


@pytest.mark.slow
def test_every_metric_matches_golden_on_its_cpu_capability(three_clips, tmp_path):
    split, still = three_clips
    results, _, _ = evaluate(EvalConfig(  # FVD/KVD under the windows protocol the golden values were made with
        pred=still, gt=split, allow_untrained=True, cache_dir=tmp_path / "cache",
        progress=False, weights_dir=tmp_path / "no-weights",
    ))
    values = {f"{r}/{m}": e["value"] for r, outs in results["metrics"].items() for m, e in outs.items()}
    capability = torch.backends.cpu.get_cpu_capability()
    if os.environ.get("MMGT_REGEN_GOLDEN"):
        GOLDEN.write_text(json.dumps({"cpu_capability": capability, "protocol": PROTOCOL_VERSION, "values": values},
                                     indent=2, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert golden["protocol"] == PROTOCOL_VERSION, "golden values of another protocol version: regenerate them"
    assert set(values) == set(golden["values"])
    if golden["cpu_capability"] != capability:
        pytest.skip(f"golden values were made on a {golden['cpu_capability']} CPU, this one is {capability}")
    for key, expected in golden["values"].items():
        if expected is None:
            assert values[key] is None, key
            continue
        assert values[key] == pytest.approx(expected, rel=RELATIVE.get(key.split("/")[1], 1e-9), abs=ABSOLUTE), key
    assert values["gesture/div"] > 0 and values["gesture/div_gt"] > 0
    assert results["complete"] and results["untrained_extractors"]
    assert results["metrics"]["full"]["fid"]["untrained"] is False  # the FID Inception has real weights
