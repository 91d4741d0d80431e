"""The evaluation loop: decode each clip pair once, compute every region's per-clip contributions,
cache them, and fold them into the metric states.

Per clip, a *contribution* is a small dict of arrays (features of pred and GT frames, per-frame
PSNR/SSIM/LPIPS scores, lip-sync distances, gesture latents, MediaPipe landmarks and the audio
envelope). Contributions are cached on disk keyed by the inputs' content hashes, the extractors'
weights and the protocol, so a rerun resumes; inside a clip, each extractor's output is cached as
soon as it is computed (``self.memo``), so an interrupt loses at most the extractor call in flight.
GT features (and every video's landmarks) are cached separately by content, so that every method
evaluated against the same GT reuses them. Metric states are rebuilt from contributions; they are float64
sufficient statistics, so shards (``--shard i/N`` or torchrun ranks) merge exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

import eval.metrics as M
from eval import fvd_protocols
from eval import human
from eval.cache import FeatureCache, MemoizedCalls, cache_key
from eval.config import (ALL_METRICS, FRAME_METRICS, HUMAN_METRICS, HUMAN_WEIGHTS_METRICS, LANDMARK_METRICS,
                         VIDEO_METRICS, EvalConfig)
from eval.extractor_set import ExtractorSet
from eval.inputs import ClipInputs, PairFiles, read_pair, resize_note
from eval.pairing import ClipFiles, Pairing, discover, pair
from eval.preflight import check_options
from eval.regions import (
    BoxTrack, detect_boxes, face_crops, mouth_crops, sync_span, track_from_boxes, track_from_detector, track_from_keypoints,
    track_from_points,
)
from mmgt.errors import DataError
from mmgt.lip_audio import audio_envelope
from mmgt.video_io import SAMPLE_RATE, probe
from mmgt.weights import sha256_file as file_sha256

LANDMARK_DETECTORS = {"facemesh": ("mouth_lmd", "lip_audio"), "holistic": ("pose_error", "hkc_mp")}
AUDIO_METRICS = ("sync", "lip_audio", "beat_align")  # the metrics that read the clip's audio


@dataclass
class ClipOutcome:
    clip_id: str
    contribution: dict[str, np.ndarray] | None = None
    error: str | None = None
    no_face: bool = False  # GT has no face track: excluded from the face and lip metrics
    resized: dict | None = None  # eval.inputs.resize_note: source sizes when frames were resized
    faces: dict | None = None  # {"frames": T, "pred": frames without a face, "gt": ...} (face region / lip sync)
    resampled: dict | None = None  # the prediction's own frame rate when it was retimed (--fps-resample)

    @property
    def no_face_pred(self) -> bool:
        """The prediction shows no face in any frame: excluded from the face and lip metrics, and listed."""
        return bool(self.faces) and self.faces["pred"] == self.faces["frames"]

    def record(self) -> tuple:
        """What a shard or rank passes on about this clip (everything but the contribution)."""
        return self.clip_id, self.error, self.no_face, self.resized, self.faces, self.resampled


def metric_names(config: EvalConfig) -> list[str]:
    """Validated metric families (eval/preflight.py checks every option); ``sync`` and ``fgd`` bring their companion outputs."""
    check_options(config, ALL_METRICS)
    return list(config.metrics)


class Evaluator:
    """Runs the protocol over paired clips (one decode per clip; cached contributions)."""

    def __init__(self, config: EvalConfig, extractors: ExtractorSet | None = None):
        self.config = config
        self.metrics = metric_names(config)
        self.protocol = config.protocol
        self.cache = FeatureCache(config.cache_dir)
        self.gesture_keypoints = "files"  # set per run by pairing()
        self.extractors = extractors or ExtractorSet(
            weights_dir=config.weights_dir,
            allow_untrained=config.allow_untrained,
            device=config.device,
            gesture_encoder=config.gesture_encoder or self.default_gesture_encoder(),
            fvd_protocol=config.protocol.fvd_protocol,
        )
        # per-clip outputs of every extractor, cached as each is computed (an interrupt loses only the call in flight)
        self.memo = MemoizedCalls(self.extractors, self.cache, lambda: self.extractors.fingerprint(self.metrics))

    def default_gesture_encoder(self) -> Path | None:
        """The committed encoder when FGD/Div are scored against the embedded synthetic split."""
        if not {"fgd", "div"} & set(self.metrics):
            return None
        from eval.gesture_cache import default_encoder

        return default_encoder(self.config.gt)

    # ----- pairing -------------------------------------------------------------------------
    def pairing(self) -> Pairing:
        gt = discover(self.config.gt, self.config.split)
        pred = discover(self.config.pred, self.config.split)
        pairing = pair(pred, gt)
        self.gesture_keypoints = self.gesture_source(pairing)
        if not pairing.pairs:
            raise DataError(self.config.pred, f"no clip ids in common with {self.config.gt}")
        if pairing.missing and not self.config.allow_missing:
            shown = ", ".join(pairing.missing[:5]) + (" ..." if len(pairing.missing) > 5 else "")
            raise DataError(
                self.config.pred,
                f"{len(pairing.missing)} GT clip(s) have no prediction ({shown}); pass --allow-missing to score the rest",
            )
        return pairing

    def gesture_source(self, pairing: Pairing) -> str:
        """Where FGD keypoints come from, for the whole run (never mixed across clips or sides):
        ``"files"`` when every prediction has keypoints (the method's, and GT's own), else
        ``"extractor:<name>"`` for both prediction and GT frames."""
        if all(self._pred_keypoints_path(p) is not None and g.keypoints is not None for p, g in pairing.pairs):
            return "files"
        return f"extractor:{self.protocol.pose_extractor}"

    def shard_pairs(self, pairing: Pairing) -> list[tuple[ClipFiles, ClipFiles]]:
        i, n = self.config.shard
        return pairing.pairs[i::n]

    # ----- per clip ------------------------------------------------------------------------
    def _needs(self, *names: str) -> bool:
        return any(n in self.metrics for n in names)

    def input_hashes(self, pred: ClipFiles, gt: ClipFiles) -> dict[str, str | None]:
        """Content hashes of every input file of a pair (each file is hashed once per clip)."""
        kp = self._pred_keypoints_path(pred)
        return {
            "gt_video": file_sha256(gt.video), "gt_keypoints": gt.keypoints and file_sha256(gt.keypoints),
            "pred_video": file_sha256(pred.video), "pred_keypoints": kp and file_sha256(kp),
            "audio": file_sha256(self._audio_path(pred, gt)) if self._needs(*AUDIO_METRICS) else None,
        }

    def clip_key(self, hashes: dict[str, str | None]) -> str:
        """Cache key of a pair's contribution: both sides' contents, the protocol and the extractors."""
        per_video = self.protocol.face_track == "per-video" and ("face" in self.config.regions or self._needs("sync"))
        return cache_key(
            kind="contribution", protocol=self.protocol.to_dict(), metrics=sorted(self.metrics),
            regions=sorted(self.config.regions), weights=self.extractors.fingerprint(self.metrics),
            face_detector=self._face_detector_id() if per_video else None,
            gesture_keypoints=self.gesture_keypoints, **hashes,
        )

    def _audio_path(self, pred: ClipFiles, gt: ClipFiles) -> Path:
        if self.config.audio is not None:
            for candidate in (self.config.audio / f"{gt.clip_id}.wav", self.config.audio / gt.clip_id / "audio.wav"):
                if candidate.is_file():
                    return candidate
            raise DataError(self.config.audio, f"no audio for clip {gt.clip_id}")
        path = gt.audio or pred.audio
        if path is None:
            raise DataError(gt.video.parent, f"no audio for clip {gt.clip_id} (pass --audio DIR)")
        return path

    def _pred_keypoints_path(self, pred: ClipFiles) -> Path | None:
        if self.config.pred_keypoints is not None:
            for candidate in (self.config.pred_keypoints / f"{pred.clip_id}.npy", self.config.pred_keypoints / pred.clip_id / "keypoints.npy"):
                if candidate.is_file():
                    return candidate
            raise DataError(self.config.pred_keypoints, f"no keypoints for clip {pred.clip_id}")
        return pred.keypoints

    def read_inputs(self, pred: ClipFiles, gt: ClipFiles, problems: list[DataError] | None = None) -> ClipInputs | None:
        """Every input file of a pair, validated (eval/inputs.py); ``problems`` collects instead of raising."""
        before = len(problems) if problems is not None else 0
        paths: dict[str, Path | None] = {}
        for name, resolve in (("keypoints", lambda: self._pred_keypoints_path(pred)),
                              ("audio", lambda: self._audio_path(pred, gt) if self._needs(*AUDIO_METRICS) else None)):
            try:
                paths[name] = resolve()
            except DataError as err:
                if problems is None:
                    raise
                problems.append(err)
                paths[name] = None
        files = PairFiles(pred.video, gt.video, paths["keypoints"], gt.keypoints, paths["audio"])
        inputs = read_pair(files, self.protocol, problems)
        return None if problems is not None and len(problems) > before else inputs

    def _face_tracks(self, inputs: ClipInputs, shas: dict[str, str], gt_kp_sha: str | None) -> tuple[BoxTrack | None, BoxTrack | None, str]:
        """(prediction's track, GT's track, the track source that keys cached face features).

        ``face_track="per-video"``: each video's own detector track; ``"gt"``: GT's track (its keypoints,
        else MTCNN on its frames) on both sides."""
        if self.protocol.face_track == "gt":
            if inputs.gt_keypoints is not None:
                track = track_from_keypoints(inputs.gt_keypoints, self.protocol)
            else:
                track = track_from_detector(inputs.gt_frames, self.protocol, self.extractors.face_detector("mtcnn"))
            return track, track, f"gt:{gt_kp_sha or shas['gt']}"
        tracks = (self._own_track(inputs.pred_frames, shas["pred"]), self._own_track(inputs.gt_frames, shas["gt"]))
        return *tracks, f"per-video:{self.protocol.face_detector}:{self._face_detector_id()}"

    def _face_detector(self):
        """The protocol's per-video detector: the face-mesh extractor or a box detector."""
        name = self.protocol.face_detector
        return self.extractors.get(name) if name == "facemesh" else self.extractors.face_detector(name)

    def _face_detector_id(self) -> str:
        """What keys a per-video track: the detector's weights and settings (its provenance)."""
        return cache_key(**self._face_detector().provenance())

    def face_track_provenance(self) -> dict | None:
        """How the face region and lip sync found faces (None when neither is scored): the track mode and,
        per-video, the detector's provenance (a random-init detector marks every face and lip value)."""
        if "face" not in self.config.regions and not self._needs("sync"):
            return None
        if self.protocol.face_track == "gt":
            return {"face_track": "gt", "source": "GT keypoints (joints 24-91), else MTCNN on GT frames", "untrained": False}
        return {"face_track": "per-video", **self._face_detector().provenance()}

    def _own_track(self, frames: np.ndarray, video_sha: str) -> BoxTrack | None:
        """A video's own face track from the protocol's detector on its protocol-size frames (cached by content)."""
        name = self.protocol.face_detector
        if name == "facemesh":  # the landmarks mouth LMD and lip-audio read too: computed once per video
            return track_from_points(self._landmarks("facemesh", frames, video_sha), self.protocol, name)
        key = cache_key(kind="face-boxes", detector=name, weights=self._face_detector_id(), video=video_sha,
                        frames=len(frames), size=self.protocol.size)
        cached = self.cache.get(key)
        if cached is None:
            boxes, found = detect_boxes(frames, self.extractors.face_detector(name))
            cached = {"boxes": boxes, "found": found}
            self.cache.put(key, cached)
        return track_from_boxes(cached["boxes"], cached["found"], self.protocol, name)

    def _sync_distances(self, frames: np.ndarray, track: BoxTrack | None, audio: np.ndarray) -> np.ndarray | None:
        """SyncNet distances of a video's longest face track (syncnet-python's track rules) with the audio of the
        same frames; None when no track qualifies."""
        span = sync_span(track, self.protocol) if track is not None else None
        if span is None:
            return None
        per_frame = SAMPLE_RATE // self.protocol.fps
        crops = mouth_crops(frames[span], track.frames(span), self.protocol)
        return self.memo.sync_distances(crops, audio[span.start * per_frame : span.stop * per_frame], self.protocol)

    def _video_features(self, region: str, side: str, frames: np.ndarray, video_sha: str,
                        track_id: str) -> dict[str, np.ndarray]:
        """Inception and I3D features of one region's frames, cached by content.

        The key holds the video's content hash (and, for the face region, the box track's source),
        so GT features are computed once for all methods, and a prediction identical to its GT
        reuses them (unless the FVD protocol samples predictions and GT apart: then the side too).
        """
        wanted = [n for n, needed in (("inception", self._needs("fid")), ("i3d", self._needs("fvd", "kvd"))) if needed]
        if not wanted:
            return {}
        key = cache_key(
            kind="features", region=region, video=video_sha, track=track_id if region == "face" else None,
            fvd_sample=fvd_protocols.sample_key(self.protocol, side) if "i3d" in wanted else None,
            protocol=self.protocol.settings(), weights=self.extractors.fingerprint([m for m in ("fid", "fvd") if self._needs(m)]),
        )
        cached = self.cache.get(key)
        if cached is not None and set(wanted) <= set(cached):
            return cached
        out = {}
        if "inception" in wanted:
            out["inception"] = self.extractors.inception(frames, self.config.batch_size)
        if "i3d" in wanted:
            out["i3d"] = self.extractors.i3d(frames, self.protocol, side, video_sha)
        self.cache.put(key, out)
        return out

    def _extracted_pose(self, frames: np.ndarray, video_sha: str) -> np.ndarray:
        """Keypoints of protocol-size frames from the protocol's pose extractor (cached by content)."""
        key = cache_key(kind="pose", extractor=self.protocol.pose_extractor, video=video_sha, size=self.protocol.size)
        cached = self.cache.get(key)
        if cached is None:
            cached = {"keypoints": self.extractors.pose(self.protocol.pose_extractor)(frames)}
            self.cache.put(key, cached)
        return cached["keypoints"]

    def motion_keypoints(self, inputs: ClipInputs, shas: dict[str, str]) -> np.ndarray:
        """``(2, T, 134, 3)`` pred and GT keypoints from the run's source (:meth:`gesture_source`): FGD, jitter, BA."""
        if self.gesture_keypoints == "files":
            return np.stack([inputs.pred_keypoints, inputs.gt_keypoints])
        frames = {"pred": inputs.pred_frames, "gt": inputs.gt_frames}
        return np.stack([self._extracted_pose(frames[side], shas[side]) for side in ("pred", "gt")])

    def _per_video(self, kind: str, metric: str, frames: np.ndarray, video_sha: str, compute, stride: int = 1) -> np.ndarray:
        """``compute(frames[::stride])`` for one video, cached by content and the extractor of ``metric`` (shared by all methods)."""
        key = cache_key(kind=kind, video=video_sha, frames=len(frames), stride=stride, size=self.protocol.size,
                        resize=self.protocol.resize, weights=self.extractors.fingerprint([metric]))
        cached = self.cache.get(key)
        if cached is None:
            cached = {"values": compute(frames[::stride])}
            self.cache.put(key, cached)
        return cached["values"]

    def _landmarks(self, detector: str, frames: np.ndarray, video_sha: str) -> np.ndarray:
        """MediaPipe ``detector``'s landmarks of protocol-size frames, cached by content (shared by all methods)."""
        return self._per_video("landmarks", LANDMARK_DETECTORS[detector][0], frames, video_sha,
                               lambda f: self.extractors.landmarks(detector, f))

    def contribution(self, pred: ClipFiles, gt: ClipFiles) -> ClipOutcome:
        """All per-clip quantities of one pair (cached)."""
        hashes = self.input_hashes(pred, gt)
        key = self.clip_key(hashes)
        cached = self.cache.get(key)
        if cached is not None:
            return self._outcome(pred, gt, cached)
        inputs = self.read_inputs(pred, gt)
        p_frames, g_frames, gt_kp = inputs.pred_frames, inputs.gt_frames, inputs.gt_keypoints
        shas = {"pred": hashes["pred_video"], "gt": hashes["gt_video"]}
        tracks = {"pred": None, "gt": None}
        track_id = ""
        if "face" in self.config.regions or self._needs("sync"):
            tracks["pred"], tracks["gt"], track_id = self._face_tracks(inputs, shas, hashes["gt_keypoints"])
        regions = {"full": (p_frames, g_frames)} if "full" in self.config.regions else {}
        if "face" in self.config.regions and tracks["pred"] is not None and tracks["gt"] is not None:
            regions["face"] = (face_crops(p_frames, tracks["pred"], self.protocol), face_crops(g_frames, tracks["gt"], self.protocol))
        out: dict[str, np.ndarray] = {}
        for region, (pf, gf) in regions.items():
            for side, frames in (("pred", pf), ("gt", gf)):
                for name, feats in self._video_features(region, side, frames, shas[side], track_id).items():
                    out[f"{region}/{name}/{side}"] = feats
            for name in FRAME_METRICS:
                if self._needs(name):
                    out[f"{region}/{name}"] = self.memo.frame_scores(name, pf, gf, self.protocol)
        if self._needs("sync") and tracks["gt"] is not None:
            for side, frames in (("pred", p_frames), ("gt", g_frames)):
                dists = self._sync_distances(frames, tracks[side], inputs.audio)
                if dists is not None:
                    out[f"sync/dists/{side}"] = dists
        kps = self.motion_keypoints(inputs, shas) if self._needs("fgd", *human.MOTION_METRICS) else None
        if self._needs("fgd"):
            latents = self.memo.gesture(kps, self.protocol.size)
            out["gesture/pred"], out["gesture/gt"] = latents[0], latents[1]
        if self._needs(*human.MOTION_METRICS):
            out["motion/keypoints/pred"], out["motion/keypoints/gt"] = kps[0], kps[1]
        if self._needs("beat_align"):
            out |= human.onsets_contribution(inputs.audio, len(g_frames))
        for side, frames in (("pred", p_frames), ("gt", g_frames)):
            if self._needs("hkc"):
                out[f"hands/dwpose/{side}"] = self._per_video("hands", "hkc", frames, shas[side], self.extractors.hand_keypoints)
            for name in human.IDENTITY_METRICS:
                if self._needs(name):
                    out[f"identity/{name}/{side}"] = self._per_video(
                        "identity", name, frames, shas[side], lambda f, m=name: self.extractors.face_embeddings(m, f),
                        self.protocol.identity_stride)
        for detector, names in LANDMARK_DETECTORS.items():
            if self._needs(*names):
                for side, frames in (("pred", p_frames), ("gt", g_frames)):
                    out[f"landmarks/{detector}/{side}"] = self._landmarks(detector, frames, shas[side])
        if self._needs("lip_audio"):
            out["landmarks/envelope"] = audio_envelope(inputs.audio, len(g_frames), SAMPLE_RATE, self.protocol.fps)
        out["no_face"] = np.array(track_id != "" and tracks["gt"] is None)
        if tracks["gt"] is not None and self.protocol.face_track == "per-video":  # frames: all, without a face (pred, GT)
            no_pred = len(p_frames) if tracks["pred"] is None else tracks["pred"].n_missing
            out["faces"] = np.array([len(g_frames), no_pred, tracks["gt"].n_missing])
        out["sizes"] = np.array([inputs.pred_size, inputs.gt_size])
        if inputs.resampled is not None:
            out["resampled"] = np.array([inputs.resampled["fps"], inputs.resampled["frames"], inputs.resampled["variable_rate"]])
        self.cache.put(key, out)
        return self._outcome(pred, gt, out)

    def _outcome(self, pred: ClipFiles, gt: ClipFiles, contribution: dict[str, np.ndarray]) -> ClipOutcome:
        """A computed or cached clip's outcome, with its resize record (probed for entries cached without sizes)."""
        if "sizes" in contribution:
            p_size, g_size = (tuple(int(v) for v in s) for s in contribution["sizes"])
        else:
            p_size, g_size = ((i.width, i.height) for i in (probe(pred.video), probe(gt.video)))
        faces = dict(zip(("frames", "pred", "gt"), map(int, contribution["faces"]))) if "faces" in contribution else None
        resampled = None
        if "resampled" in contribution:
            fps, frames, variable = contribution["resampled"]
            resampled = {"fps": float(fps), "frames": int(frames), "variable_rate": bool(variable)}
        return ClipOutcome(gt.clip_id, contribution, no_face=bool(contribution["no_face"]),
                           resized=resize_note(p_size, g_size, self.protocol.size), faces=faces, resampled=resampled)

    # ----- metrics -------------------------------------------------------------------------
    def new_states(self) -> dict[str, M.Metric]:
        """Fresh metric objects keyed ``region/metric`` (plus ``lip/sync``, ``gesture/fgd``, ``gesture/div``,
        ``landmarks/<name>`` and ``human/<name>``)."""
        states: dict[str, M.Metric] = {}
        for region in self.config.regions:
            for name in FRAME_METRICS + VIDEO_METRICS:
                if self._needs(name):
                    states[f"{region}/{name}"] = self.extractors.metric(name, self.protocol)
        if self._needs("sync"):
            states["lip/sync"] = self.extractors.metric("sync", self.protocol)
            states["lip/sync_gt"] = self.extractors.metric("sync", self.protocol, side="gt")
        if self._needs("fgd"):
            states["gesture/fgd"] = self.extractors.metric("fgd")
            states["gesture/div"] = self.extractors.metric("div")
        for name in LANDMARK_METRICS:
            if self._needs(name):
                states[f"landmarks/{name}"] = self.extractors.metric(name, self.protocol)
        for name in HUMAN_METRICS + HUMAN_WEIGHTS_METRICS:
            if self._needs(name):
                states[f"human/{name}"] = self.extractors.metric(name, self.protocol)
        return states

    def fold(self, states: dict[str, M.Metric], outcome: ClipOutcome) -> None:
        """Add one clip's contribution to the metric states."""
        c, cid = outcome.contribution, outcome.clip_id
        assert c is not None
        for key, metric in states.items():
            region, name = key.split("/")
            if name in FRAME_METRICS and f"{region}/{name}" in c:
                metric.add_scores(c[f"{region}/{name}"], cid)
            elif name == "fid" and f"{region}/inception/pred" in c:
                metric.update(pred=c[f"{region}/inception/pred"], gt=c[f"{region}/inception/gt"], clip_id=cid)
            elif name in ("fvd", "kvd") and f"{region}/i3d/pred" in c:
                metric.update(pred=c[f"{region}/i3d/pred"], gt=c[f"{region}/i3d/gt"], clip_id=cid)
            elif name in ("sync", "sync_gt"):
                metric.update(cid, c.get("sync/dists/" + ("gt" if name == "sync_gt" else "pred")) if not outcome.no_face else None)
            elif name in ("fgd", "div") and "gesture/pred" in c and "gesture/gt" in c:
                metric.update(pred=c["gesture/pred"][None], gt=c["gesture/gt"][None], clip_id=cid)
            elif name in ("mouth_lmd", "lip_audio"):
                extra = (c["landmarks/envelope"],) if name == "lip_audio" else ()
                metric.update(cid, c["landmarks/facemesh/pred"], c["landmarks/facemesh/gt"], *extra)
            elif name == "pose_error":
                metric.update(cid, c["landmarks/holistic/pred"], c["landmarks/holistic/gt"])
            elif region == "human":
                human.fold(metric, name, c, cid)

    def run_clips(self, pairs: list[tuple[ClipFiles, ClipFiles]]) -> tuple[dict[str, M.Metric], list[ClipOutcome]]:
        """Evaluate ``pairs``; failures are recorded per clip, never crash the run."""
        states = self.new_states()
        outcomes = []
        bar = tqdm(pairs, desc="evaluate", unit="clip", disable=not self.config.progress)
        for pred, gt in bar:
            bar.set_postfix_str(gt.clip_id)
            try:
                outcome = self.contribution(pred, gt)
            except DataError as err:
                outcome = ClipOutcome(gt.clip_id, error=str(err))
            outcomes.append(outcome)
            if outcome.contribution is not None:
                self.fold(states, outcome)
        return states, outcomes
