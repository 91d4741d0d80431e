"""The evaluation protocol: every setting that moves a number, in one typed config recorded with each result."""

from __future__ import annotations

from dataclasses import asdict, dataclass

PROTOCOL_VERSION = "3"  # docs/PROTOCOL.md: what each version changed
REGIONS = ("full", "face")
FACE_TRACKS = ("per-video", "gt")  # each video's own detected face, or GT's track applied to both sides
FACE_DETECTORS = ("facemesh", "s3fd", "mtcnn")  # per-video detectors (facemesh: shipped; s3fd: syncnet-python's)
# what one FVD/KVD sample is, as each reference tool defines it (eval/fvd_protocols.py, docs/PROTOCOL.md)
FVD_PROTOCOLS = ("stylegan-v", "common-metrics", "windows")
DEFAULT_FVD_PROTOCOL = "common-metrics"


@dataclass(frozen=True)
class Protocol:
    """The evaluation protocol. Defaults are the current protocol version (docs/PROTOCOL.md)."""

    version: str = PROTOCOL_VERSION
    size: int = 256  # every frame is brought to size x size RGB first
    resize: str = "bilinear-antialias"  # torch interpolate(bilinear, antialias=True, align_corners=False)
    fps: int = 25
    trim: str = "none"  # frame counts must match; "min" trims both to the shorter (recorded)
    fps_resample: bool = False  # predictions at another frame rate: retimed to fps by nearest frame (else refused)
    # face region and lip sync: one square box track per video
    face_track: str = "per-video"  # "per-video": each video's own detector track; "gt": GT's track on both sides
    face_detector: str = "facemesh"  # per-video detector; "gt" tracks use GT keypoints, else MTCNN on GT frames
    face_expand: float = 1.6  # side = expand * max(w, h) of the tight face-landmark box
    face_smooth: int = 13  # median filter length over time for the box track (frames)
    face_size: int = 128  # face crops are resized to face_size x face_size
    # FVD / KVD
    fvd_protocol: str = DEFAULT_FVD_PROTOCOL  # one of FVD_PROTOCOLS: sample definition, network, resize, value range
    fvd_window: int = 16  # frames per sample of "stylegan-v" (FVD16) and "windows" (non-overlapping windows)
    fvd_seed: int = 0  # "stylegan-v": seeds each GT video's random clip offset (with the video's content hash)
    # PSNR
    psnr_cap: float = 100.0
    # lip sync (syncnet-python geometry)
    sync_crop_scale: float = 0.4
    sync_vshift: int = 15
    sync_max_gap: int = 25  # syncnet-python's num_failed_det: detections this many frames apart stay one track
    sync_min_track: int = 25  # frames (syncnet-python's min_track is 100, longer than a protocol clip)
    # FGD / Div
    div_seed: int = 0
    # keypoints of predictions that wrote none are extracted with this, and then GT's are too
    pose_extractor: str = "mediapipe"
    score_threshold: float = 0.3
    # landmark metrics (this project's additions; MediaPipe face mesh and holistic on the protocol-size frames)
    lip_motion_floor: float = 0.005  # inner-lip opening std (inter-ocular distances) below which a mouth is constant
    pose_visibility: float = 0.5  # GT body points count above this MediaPipe visibility
    pck_threshold: float = 0.1  # PCK radius in GT shoulder widths
    # beat alignment (Bailando/EDGE form; kinematic beats vs librosa onsets on the 25 fps grid)
    beat_sigma: float = 3.0  # frames: exp(-d^2 / 2 sigma^2)
    beat_smooth: float = 2.0  # frames: Gaussian smoothing of the joint speed before its local minima
    # CSIM: face embeddings of every identity_stride-th frame (0, k, 2k, ...; frame 0 is the reference)
    identity_stride: int = 4

    def to_dict(self) -> dict:
        return asdict(self)

    def settings(self) -> dict:
        """Every field but the version: what keys cached features, which a version change that only
        changes how values are aggregated leaves valid."""
        return {k: v for k, v in self.to_dict().items() if k != "version"}
