"""The networks one evaluation run needs, built lazily once and shared by all clips.

Each network comes from ``eval.extractors`` with real weights, or (only with
``allow_untrained``) seeded random init of the same architecture; the provenance of every
network (weights sha256 or ``"random-init"``) goes into each metric's entry in results.json.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

import eval.metrics as M
from eval import fvd_protocols
from eval.face_detector import BOX_DETECTORS, FaceDetector, MTCNNFaceDetector, S3FDFaceDetector, S3FDSettings
from eval.protocol import DEFAULT_FVD_PROTOCOL, Protocol
from mmgt.errors import MMGTError

METRIC_EXTRACTOR = {
    "fid": "inception", "fvd": "i3d", "kvd": "i3d", "lpips": "lpips-alex", "sync": "syncnet",
    "fgd": "gesture", "div": "gesture", "psnr": None, "ssim": None,
    "mouth_lmd": "facemesh", "lip_audio": "facemesh", "pose_error": "holistic",
    "jitter": None, "beat_align": None, "hkc_mp": "holistic", "hkc": "dwpose", "csim_dlib": "dlib-resnet", "csim": "arcface",
}


class ExtractorSet:
    """Lazily built feature extractors and metric objects for one run."""

    def __init__(self, weights_dir: Path | None = None, allow_untrained: bool = False, device: str = "cpu",
                 gesture_encoder: Path | None = None, fvd_protocol: str = DEFAULT_FVD_PROTOCOL):
        self.weights_dir = weights_dir
        self.fvd_network = fvd_protocols.PROTOCOLS[fvd_protocol].network  # the I3D that FVD/KVD's protocol names
        self.allow_untrained = allow_untrained
        self.device = torch.device(device)
        self.gesture_encoder_path = gesture_encoder
        self._built: dict[str, object] = {}
        self._frame_metrics: dict[str, M.Metric] = {}  # scorers for per-frame metrics (states unused)
        self.seconds: dict[str, float] = {}  # wall time spent in each network / metric, for results and benches

    @contextmanager
    def timed(self, name: str):
        """Run one extractor call: timed, and in exact numerics (TF32 off, deterministic algorithms)."""
        from eval.extractors.base import exact_numerics

        start = time.perf_counter()
        try:
            with exact_numerics():
                yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def get(self, name: str):
        """The extractor ``name`` (built on first use)."""
        if name not in self._built:
            if name == "gesture":
                from eval.extractors.gesture_ae import build

                self._built[name] = build(self.gesture_encoder_path, weights_dir=self.weights_dir,
                                          allow_untrained=self.allow_untrained, device=self.device)
            else:
                from eval import extractors
                from mmgt.weights import WeightsStore

                self._built[name] = extractors.create(name, WeightsStore(self.weights_dir),
                                                      allow_untrained=self.allow_untrained, device=self.device)
        return self._built[name]

    # ----- provenance ----------------------------------------------------------------------
    def extractor_of(self, metric: str) -> str | None:
        """The network ``metric`` needs (FVD/KVD: the one their protocol names), None for pixel metrics."""
        return self.fvd_network if metric in ("fvd", "kvd") else METRIC_EXTRACTOR.get(metric)

    def provenance(self, metric: str) -> dict:
        ext = self.extractor_of(metric)
        if ext is None:
            return {"extractor": None, "weights": None, "untrained": False}
        e = self.get(ext)
        return {"extractor": e.name, "weights": e.weights, "untrained": e.untrained}

    def extractor_names(self, metrics) -> list[str]:
        """The networks ``metrics`` need, sorted."""
        return sorted({self.extractor_of(m) for m in metrics if self.extractor_of(m)})

    def provenance_all(self, metrics) -> dict:
        """Each network ``metrics`` need: weights sha256 (or random-init), source file, preprocessing, layout."""
        return {n: self.get(n).provenance() for n in self.extractor_names(metrics)}

    def fingerprint(self, metrics) -> dict:
        """What changes cached features and contributions: each needed extractor's weights, preprocessing, layout,
        device (hardware), dtype and numerics."""
        fields = ("weights", "preprocessing", "layout", "device", "dtype", "numerics")
        return {n: [p.get(f) for f in fields] for n, p in self.provenance_all(metrics).items()}

    # ----- features ------------------------------------------------------------------------
    def inception(self, frames: np.ndarray, batch_size: int) -> np.ndarray:
        extractor = self.get("inception")
        with self.timed("inception"):
            return extractor.features(frames, batch_size=batch_size)

    def i3d(self, frames: np.ndarray, protocol: Protocol, side: str, video_sha: str) -> np.ndarray:
        """I3D features of one video's samples under the protocol's FVD protocol (``side``: "pred" or "gt";
        ``video_sha`` seeds GT's stylegan-v clip offset)."""
        extractor = self.get(fvd_protocols.of(protocol).network)
        clips = fvd_protocols.samples(protocol, frames, side, video_sha)
        with self.timed("i3d"):
            return extractor.fvd_features(clips, protocol.fvd_protocol)

    def gesture(self, keypoints: np.ndarray, size: int) -> np.ndarray:
        extractor = self.get("gesture")
        with self.timed("gesture"):
            return extractor.features(keypoints, (size, size))

    def frame_scores(self, name: str, pred: np.ndarray, gt: np.ndarray, protocol: Protocol) -> np.ndarray:
        """Per-frame scores of one clip for psnr/ssim/lpips (the metric classes' own maths)."""
        if name not in self._frame_metrics:
            self._frame_metrics[name] = self.metric(name, protocol)
        if name == "lpips":
            self.get("lpips-alex")  # load outside the timer
        with self.timed(name):
            return self._frame_metrics[name].scores(pred, gt)

    def sync_distances(self, mouth_crops: np.ndarray, audio: np.ndarray, protocol: Protocol) -> np.ndarray:
        extractor = self.get("syncnet")
        with self.timed("syncnet"):
            return extractor.distances(mouth_crops, audio, vshift=protocol.sync_vshift)

    def landmarks(self, name: str, frames: np.ndarray) -> np.ndarray:
        """MediaPipe landmarks of one video's frames (``facemesh`` or ``holistic``)."""
        extractor = self.get(name)
        with self.timed(name):
            return extractor.landmarks(frames)

    def hand_keypoints(self, frames: np.ndarray) -> np.ndarray:
        """DWPose keypoints of one video's frames (HKC/HKV; weights from the run's weights dir)."""
        extractor = self.get("dwpose")
        with self.timed("dwpose"):
            return extractor.keypoints(frames)

    def face_embeddings(self, metric: str, frames: np.ndarray) -> np.ndarray:
        """Per-frame face-identity embeddings for ``csim`` (ArcFace) or ``csim_dlib``, NaN where no face is found."""
        name = METRIC_EXTRACTOR[metric]
        extractor = self.get(name)
        with self.timed(name):
            return extractor.embeddings(frames)

    def pose(self, name: str):
        """A pose extractor from mmgt.pose (for FGD keypoints of predictions that wrote none)."""
        key = f"pose:{name}"
        if key not in self._built:
            from mmgt import pose

            self._built[key] = pose.create(name)
        return self._built[key]

    def face_detector(self, name: str = "mtcnn", settings: S3FDSettings | None = None) -> FaceDetector:
        """The face detector ``name`` (``eval.face_detector.BOX_DETECTORS``), built on first use.

        ``mtcnn``: real weights shipped in facenet-pytorch. ``s3fd``: syncnet_python's S3FD with
        ``settings`` (default: its pipeline's) on the ``s3fd`` extractor: real ``sfd_face.pth``, or a
        seeded random init only with ``allow_untrained``. ``provenance()`` of the result says which.
        """
        if name not in BOX_DETECTORS:
            raise MMGTError(f"unknown face detector '{name}'; valid: {', '.join(BOX_DETECTORS)}")
        if name == "mtcnn" and settings is not None:
            raise ValueError("mtcnn takes no settings")
        key = f"face:{name}:{settings or ''}"
        if key not in self._built:
            if name == "mtcnn":
                self._built[key] = MTCNNFaceDetector(self.device)
            else:
                self._built[key] = S3FDFaceDetector(self.get("s3fd"), settings)
        return self._built[key]

    # ----- metrics -------------------------------------------------------------------------
    def metric(self, name: str, protocol: Protocol | None = None, **options: str) -> M.Metric:
        """A fresh metric object; lpips gets the LPIPS network (loaded only when scores are computed);
        ``options`` go to the metric (e.g. ``side="gt"`` for sync)."""
        protocol = protocol or Protocol()
        if name == "lpips":
            return M.create("lpips", net=_Lazy(lambda: self.get("lpips-alex")), device=self.device)
        if name == "psnr":
            return M.create("psnr", cap=protocol.psnr_cap)
        if name == "fvd":
            return M.create("fvd", covariance=fvd_protocols.of(protocol).covariance)
        if name in ("fgd", "div"):
            dim = self.get("gesture").dim
            return M.create(name, dim=dim, **({"seed": protocol.div_seed} if name == "div" else {}))
        if name == "sync":
            return M.create("sync", vshift=protocol.sync_vshift, **options)
        if name == "lip_audio":
            return M.create(name, motion_floor=protocol.lip_motion_floor)
        if name == "pose_error":
            return M.create(name, pck=protocol.pck_threshold, visibility=protocol.pose_visibility)
        if name == "jitter":
            return M.create(name, threshold=protocol.score_threshold)
        if name == "beat_align":
            return M.create(name, sigma=protocol.beat_sigma, smooth=protocol.beat_smooth, threshold=protocol.score_threshold)
        if name in ("hkc", "hkc_mp"):
            return M.create(name, size=protocol.size, threshold=protocol.score_threshold)
        return M.create(name)


class _Lazy:
    """Calls through to an object built on first call (merging saved states never builds it)."""

    def __init__(self, build):
        self._build, self._obj = build, None

    def __call__(self, *args):
        if self._obj is None:
            self._obj = self._build()
        return self._obj(*args)


def describe(weights_dir: Path | None = None) -> str:
    """``mmgt-eval ls``: metrics, extractors and the state of their weights."""
    from tabulate import tabulate

    from eval import extractors

    rows = [[m, "i3d (windows) / i3d-torchscript (stylegan-v, common-metrics)" if m in ("fvd", "kvd")
             else METRIC_EXTRACTOR.get(m) or "—"] for m in M.available()]
    text = tabulate(rows, headers=["metric", "extractor"], tablefmt="github")
    return text + "\n\n" + extractors.describe(weights_dir)
