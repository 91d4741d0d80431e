"""What one FVD / KVD sample is, by protocol name: each reproduces its reference tool's sample definition,
frame sampling, network, resize and value range (docs/PROTOCOL.md, "FVD protocols").

- ``stylegan-v`` (StyleGAN-V ``compute_fvd``, FVD16): one 16-frame clip per video. GT videos are its real
  dataset: clip offset uniform in ``[0, T - 16]`` (``random.randint``; here drawn from ``fvd_seed`` and the
  video's content hash, so a rerun draws the same); predictions are its generated videos: the first 16
  frames. Videos shorter than 16 frames give no sample (``discard_short_videos``). The TF-faithful I3D
  (``i3d_torchscript.pt``) gets uint8 ``(N, 3, 16, H, W)`` with ``rescale=True, resize=True``; covariances
  in the population form (``FeatureStats.get_mean_cov``).
- ``common-metrics`` (common_metrics_on_video_quality ``calculate_fvd(method="styleganv", only_final=True)``):
  each video's whole clip is one sample (at least 10 frames); [0, 1] values, the shorter side bilinearly
  resized to 224 (``align_corners=False``, longer side ``ceil``), centre crop 224, ``(x - 0.5) * 2``, into
  the same TorchScript I3D with ``rescale=False, resize=False``; unbiased covariances (``np.cov``).
- ``windows`` (this project's protocols v1-v2): every non-overlapping 16-frame window (5 per 80-frame clip),
  the VideoGPT/TATS I3D port (``i3d_pretrained_400.pt``) with TATS' preprocessing; unbiased covariances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.protocol import FVD_PROTOCOLS, Protocol

SIDES = ("pred", "gt")
MIN_FRAMES_COMMON_METRICS = 10  # calculate_fvd asserts each clip has at least 10 frames


@dataclass(frozen=True)
class FVDProtocol:
    """How one protocol turns a video into samples, and with which network and covariance form."""

    name: str
    network: str  # extractor name in eval.extractors.EXTRACTORS
    covariance: str  # "population" (divide by n) or "unbiased" (n - 1)
    side_dependent: bool  # predictions and GT are sampled differently (their features differ for one video)


PROTOCOLS: dict[str, FVDProtocol] = {
    "stylegan-v": FVDProtocol("stylegan-v", "i3d-torchscript", "population", side_dependent=True),
    "common-metrics": FVDProtocol("common-metrics", "i3d-torchscript", "unbiased", side_dependent=False),
    "windows": FVDProtocol("windows", "i3d", "unbiased", side_dependent=False),
}
assert tuple(PROTOCOLS) == FVD_PROTOCOLS


def of(protocol: Protocol) -> FVDProtocol:
    """The FVD protocol that ``protocol`` names."""
    return PROTOCOLS[protocol.fvd_protocol]


def windows(frames: np.ndarray, window: int) -> np.ndarray:
    """``(T, H, W, 3)`` -> ``(T // window, window, H, W, 3)``: non-overlapping windows, the tail dropped."""
    n = len(frames) // window
    return frames[: n * window].reshape(n, window, *frames.shape[1:])


def stylegan_v_offset(n_frames: int, length: int, seed: int, video_sha: str) -> int:
    """The real (GT) video's clip offset, uniform in ``[0, n_frames - length]`` as StyleGAN-V's
    ``random.randint(0, n - length)``, drawn from ``seed`` and the video's content hash."""
    rng = np.random.default_rng([seed, int(video_sha[:16], 16)])
    return int(rng.integers(0, n_frames - length + 1))


def samples(protocol: Protocol, frames: np.ndarray, side: str, video_sha: str) -> np.ndarray:
    """``(T, H, W, 3)`` frames of one video -> ``(N, T', H, W, 3)``: the protocol's samples of it (``side``:
    ``"pred"`` or ``"gt"``; ``video_sha``: the video's content hash, which seeds GT's stylegan-v offset)."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    name, length = protocol.fvd_protocol, protocol.fvd_window
    if name == "windows":
        return windows(frames, length)
    if name == "common-metrics":
        return frames[None] if len(frames) >= MIN_FRAMES_COMMON_METRICS else np.zeros((0, *frames.shape), frames.dtype)
    if len(frames) < length:
        return np.zeros((0, length, *frames.shape[1:]), frames.dtype)
    start = stylegan_v_offset(len(frames), length, protocol.fvd_seed, video_sha) if side == "gt" else 0
    return frames[start:start + length][None]


def sample_key(protocol: Protocol, side: str) -> str | None:
    """What a feature-cache key needs beyond the video's content: the side, when the protocol samples sides apart."""
    return side if of(protocol).side_dependent else None
