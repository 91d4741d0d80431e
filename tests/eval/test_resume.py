"""Finer resume: every extractor output of a clip is cached as soon as it is computed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from eval.cache import FeatureCache, MemoizedCalls
from eval.config import EvalConfig
from eval.harness import Evaluator
from eval.run import evaluate
from mmgt.data.layout import Split


class Doubler:
    def __init__(self):
        self.calls = 0

    def double(self, x: np.ndarray, scale: int = 2) -> np.ndarray:
        self.calls += 1
        return x * scale


def test_memoized_calls_key_on_argument_contents_and_salt(tmp_path):
    target, salt = Doubler(), ["weights-a"]
    memo = MemoizedCalls(target, FeatureCache(tmp_path), lambda: salt[0])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(memo.double(x), x * 2)
    np.testing.assert_array_equal(memo.double(x.copy()), x * 2)  # same contents, another object: cached
    assert target.calls == 1
    memo.double(x, scale=3)
    memo.double(x + 1)
    memo.double(x.astype(np.float64))
    salt[0] = "weights-b"
    memo.double(x)
    assert target.calls == 5
    assert MemoizedCalls(target, FeatureCache(None), lambda: salt[0]).double == target.double  # no cache: plain calls


def test_an_interrupted_clip_keeps_the_extractor_outputs_it_finished(tiny_split: Path, tmp_path: Path, monkeypatch):
    pred = tmp_path / "pred"
    for clip in Split(tiny_split).clips("test"):
        shutil.copytree(clip.dir, pred / clip.clip_id)
    cfg = EvalConfig(pred=pred, gt=tiny_split, metrics=("psnr", "ssim"), regions=("full",),
                     cache_dir=tmp_path / "cache", progress=False)
    ev = Evaluator(cfg)
    real, calls = ev.extractors.frame_scores, []

    def interrupted(name, *args):
        calls.append(name)
        if name == "ssim":
            raise KeyboardInterrupt  # Ctrl-C during the first clip's second extractor
        return real(name, *args)

    monkeypatch.setattr(ev.extractors, "frame_scores", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluate(cfg, ev)
    assert calls == ["psnr", "ssim"]

    resumed = Evaluator(cfg)
    real2, recomputed = resumed.extractors.frame_scores, []

    def recording(name, *args):
        recomputed.append(name)
        return real2(name, *args)

    monkeypatch.setattr(resumed.extractors, "frame_scores", recording)
    results, _, _ = evaluate(cfg, resumed)
    assert recomputed == ["ssim", "psnr", "ssim"]  # the interrupted clip's PSNR came from the cache
    fresh, _, _ = evaluate(EvalConfig(pred=pred, gt=tiny_split, metrics=("psnr", "ssim"), regions=("full",),
                                      cache_dir=tmp_path / "fresh", progress=False))
    assert results["metrics"] == fresh["metrics"] and results["complete"]
