"""Metric classes and the registry of metric names the harness accepts.

``create("fid")`` builds a metric; other modules (eval/metrics/sync.py) add names with
:func:`register`. Unknown names raise one line listing the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from mmgt.errors import MMGTError

from eval.metrics.base import Direction, Metric
from eval.metrics.beats import BeatAlignMetric
from eval.metrics.fgd import DiversityMetric, FGDMetric
from eval.metrics.frechet import FewSamplesWarning, FrechetMetric, GaussianStats, frechet_distance
from eval.metrics.hands import HandKeypointMetric
from eval.metrics.identity import CSIMMetric
from eval.metrics.jitter import JitterMetric
from eval.metrics.landmarks import LipAudioMetric, MouthLMDMetric, PoseErrorMetric
from eval.metrics.lpips_metric import LPIPSMetric
from eval.metrics.mmd import PolynomialMMDMetric, polynomial_mmd
from eval.metrics.pixel import PSNRMetric, SSIMMetric
from eval.metrics.sync import SyncMetric

MetricFactory = Callable[..., Metric]
_REGISTRY: dict[str, MetricFactory] = {}


def register(name: str, factory: MetricFactory) -> None:
    """Make ``name`` valid; ``factory(**kwargs)`` builds its metric."""
    if name in _REGISTRY:
        raise ValueError(f"metric '{name}' is already registered")
    _REGISTRY[name] = factory


def available() -> tuple[str, ...]:
    """The valid metric names, in registration order."""
    return tuple(_REGISTRY)


def validate(names: Iterable[str]) -> list[str]:
    """``names`` as a list, or one error naming every unknown one and listing the valid ones."""
    names = list(names)
    unknown = [name for name in names if name not in _REGISTRY]
    if unknown:
        raise MMGTError(f"unknown metric(s) {', '.join(unknown)}; valid: {', '.join(_REGISTRY)}")
    return names


def create(name: str, **kwargs: object) -> Metric:
    """A fresh metric for ``name``; ``kwargs`` go to its factory (e.g. ``dim`` for fgd, ``net`` for lpips)."""
    return _REGISTRY[validate([name])[0]](**kwargs)


register("fid", partial(FrechetMetric, "fid", 2048))
register("fvd", partial(FrechetMetric, "fvd", 400))
register("kvd", partial(PolynomialMMDMetric, "kvd", 400))
register("psnr", PSNRMetric)
register("ssim", SSIMMetric)
register("lpips", LPIPSMetric)
register("fgd", FGDMetric)
register("div", DiversityMetric)
register("sync", SyncMetric)
register("mouth_lmd", MouthLMDMetric)
register("lip_audio", LipAudioMetric)
register("pose_error", PoseErrorMetric)
register("jitter", JitterMetric)
register("beat_align", BeatAlignMetric)
register("hkc_mp", partial(HandKeypointMetric, "hkc_mp"))
register("csim_dlib", partial(CSIMMetric, "csim_dlib"))
register("hkc", partial(HandKeypointMetric, "hkc"))
register("csim", partial(CSIMMetric, "csim"))

__all__ = [
    "BeatAlignMetric",
    "CSIMMetric",
    "Direction",
    "DiversityMetric",
    "FGDMetric",
    "FewSamplesWarning",
    "FrechetMetric",
    "GaussianStats",
    "HandKeypointMetric",
    "JitterMetric",
    "LPIPSMetric",
    "LipAudioMetric",
    "Metric",
    "MetricFactory",
    "MouthLMDMetric",
    "PSNRMetric",
    "PolynomialMMDMetric",
    "PoseErrorMetric",
    "SSIMMetric",
    "SyncMetric",
    "available",
    "create",
    "frechet_distance",
    "polynomial_mmd",
    "register",
    "validate",
]
