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
from eval.cache import FeatureCache, MemoizedCalls, cache_key
from eval.config import ALL_METRICS, FRAME_METRICS, LANDMARK_METRICS, VIDEO_METRICS, EvalConfig
from eval.extractor_set import ExtractorSet
from eval.inputs import ClipInputs, PairFiles, read_pair, resize_note
from eval.pairing import ClipFiles, Pairing, discover, pair
from eval.preflight import check_options
from eval.regions import BoxTrack, face_crops, mouth_crops, track_from_detector, track_from_keypoints
from mmgt.errors import DataError
from mmgt.lip_audio import audio_envelope
from mmgt.video_io import SAMPLE_RATE, probe
from mmgt.weights import sha256_file as file_sha256

LANDMARK_DETECTORS = {"facemesh": ("mouth_lmd", "lip_audio"), "holistic": ("pose_error",)}


@dataclass
class ClipOutcome:
    clip_id: str
    contribution: dict[str, np.ndarray] | None = None
    error: str | None = None
    no_face: bool = False
    resized: dict | None = None  # eval.inputs.resize_note: source sizes when frames were resized


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
            "audio": file_sha256(self._audio_path(pred, gt)) if self._needs("sync", "lip_audio") else None,
        }

    def clip_key(self, hashes: dict[str, str | None]) -> str:
        """Cache key of a pair's contribution: both sides' contents, the protocol and the extractors."""
        return cache_key(
            kind="contribution", protocol=self.protocol.to_dict(), metrics=sorted(self.metrics),
            regions=sorted(self.config.regions), weights=self.extractors.fingerprint(self.metrics),
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
                              ("audio", lambda: self._audio_path(pred, gt) if self._needs("sync", "lip_audio") else None)):
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

    def _face_track(self, gt_kp: np.ndarray | None, gt_frames: np.ndarray) -> BoxTrack | None:
        if gt_kp is not None:
            return track_from_keypoints(gt_kp, self.protocol)
        return track_from_detector(gt_frames, self.protocol, self.extractors.face_detector())

    def _video_features(self, region: str, frames: np.ndarray, video_sha: str, track_id: str) -> dict[str, np.ndarray]:
        """Inception and I3D features of one region's frames, cached by content.

        The key holds the video's content hash (and, for the face region, the box track's source),
        so GT features are computed once for all methods, and a prediction identical to its GT
        reuses them.
        """
        wanted = [n for n, needed in (("inception", self._needs("fid")), ("i3d", self._needs("fvd", "kvd"))) if needed]
        if not wanted:
            return {}
        key = cache_key(
            kind="features", region=region, video=video_sha, track=track_id if region == "face" else None,
            protocol=self.protocol.settings(), weights=self.extractors.fingerprint([m for m in ("fid", "fvd") if self._needs(m)]),
        )
        cached = self.cache.get(key)
        if cached is not None and set(wanted) <= set(cached):
            return cached
        out = {}
        if "inception" in wanted:
            out["inception"] = self.extractors.inception(frames, self.config.batch_size)
        if "i3d" in wanted:
            out["i3d"] = self.extractors.i3d(frames, self.protocol.fvd_window)
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

    def _landmarks(self, detector: str, frames: np.ndarray, video_sha: str) -> np.ndarray:
        """MediaPipe ``detector``'s landmarks of protocol-size frames, cached by content (shared by all methods)."""
        key = cache_key(
            kind="landmarks", video=video_sha, frames=len(frames), size=self.protocol.size, resize=self.protocol.resize,
            weights=self.extractors.fingerprint(LANDMARK_DETECTORS[detector]),
        )
        cached = self.cache.get(key)
        if cached is None:
            cached = {"landmarks": self.extractors.landmarks(detector, frames)}
            self.cache.put(key, cached)
        return cached["landmarks"]

    def contribution(self, pred: ClipFiles, gt: ClipFiles) -> ClipOutcome:
        """All per-clip quantities of one pair (cached)."""
        hashes = self.input_hashes(pred, gt)
        key = self.clip_key(hashes)
        cached = self.cache.get(key)
        if cached is not None:
            return self._outcome(pred, gt, cached)
        inputs = self.read_inputs(pred, gt)
        p_frames, g_frames, gt_kp = inputs.pred_frames, inputs.gt_frames, inputs.gt_keypoints
        track = self._face_track(gt_kp, g_frames) if ("face" in self.config.regions or self._needs("sync")) else None
        regions = {"full": (p_frames, g_frames)} if "full" in self.config.regions else {}
        if "face" in self.config.regions and track is not None:
            regions["face"] = (face_crops(p_frames, track, self.protocol), face_crops(g_frames, track, self.protocol))
        shas = {"pred": hashes["pred_video"], "gt": hashes["gt_video"]}
        track_id = hashes["gt_keypoints"] or shas["gt"]
        out: dict[str, np.ndarray] = {}
        for region, (pf, gf) in regions.items():
            for side, frames in (("pred", pf), ("gt", gf)):
                for name, feats in self._video_features(region, frames, shas[side], track_id).items():
                    out[f"{region}/{name}/{side}"] = feats
            for name in FRAME_METRICS:
                if self._needs(name):
                    out[f"{region}/{name}"] = self.memo.frame_scores(name, pf, gf, self.protocol)
        if self._needs("sync") and track is not None:
            out["sync/dists"] = self.memo.sync_distances(mouth_crops(p_frames, track, self.protocol), inputs.audio, self.protocol)
        if self._needs("fgd"):
            if self.gesture_keypoints == "files":
                kps = np.stack([inputs.pred_keypoints, gt_kp])
            else:
                kps = np.stack([self._extracted_pose(p_frames, shas["pred"]), self._extracted_pose(g_frames, shas["gt"])])
            latents = self.memo.gesture(kps, self.protocol.size)
            out["gesture/pred"], out["gesture/gt"] = latents[0], latents[1]
        for detector, names in LANDMARK_DETECTORS.items():
            if self._needs(*names):
                for side, frames in (("pred", p_frames), ("gt", g_frames)):
                    out[f"landmarks/{detector}/{side}"] = self._landmarks(detector, frames, shas[side])
        if self._needs("lip_audio"):
            out["landmarks/envelope"] = audio_envelope(inputs.audio, len(g_frames), SAMPLE_RATE, self.protocol.fps)
        out["no_face"] = np.array(track is None)
        out["sizes"] = np.array([inputs.pred_size, inputs.gt_size])
        self.cache.put(key, out)
        return self._outcome(pred, gt, out)

    def _outcome(self, pred: ClipFiles, gt: ClipFiles, contribution: dict[str, np.ndarray]) -> ClipOutcome:
        """A computed or cached clip's outcome, with its resize record (probed for entries cached without sizes)."""
        if "sizes" in contribution:
            p_size, g_size = (tuple(int(v) for v in s) for s in contribution["sizes"])
        else:
            p_size, g_size = ((i.width, i.height) for i in (probe(pred.video), probe(gt.video)))
        return ClipOutcome(gt.clip_id, contribution, no_face=bool(contribution["no_face"]),
                           resized=resize_note(p_size, g_size, self.protocol.size))

    # ----- metrics -------------------------------------------------------------------------
    def new_states(self) -> dict[str, M.Metric]:
        """Fresh metric objects keyed ``region/metric`` (plus ``lip/sync``, ``gesture/fgd``, ``gesture/div`` and
        ``landmarks/<name>``)."""
        states: dict[str, M.Metric] = {}
        for region in self.config.regions:
            for name in FRAME_METRICS + VIDEO_METRICS:
                if self._needs(name):
                    states[f"{region}/{name}"] = self.extractors.metric(name)
        if self._needs("sync"):
            states["lip/sync"] = self.extractors.metric("sync")
        if self._needs("fgd"):
            states["gesture/fgd"] = self.extractors.metric("fgd")
            states["gesture/div"] = self.extractors.metric("div")
        for name in LANDMARK_METRICS:
            if self._needs(name):
                states[f"landmarks/{name}"] = self.extractors.metric(name, self.protocol)
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
            elif name == "sync":
                metric.update(cid, c.get("sync/dists") if not outcome.no_face else None)
            elif name in ("fgd", "div") and "gesture/pred" in c and "gesture/gt" in c:
                metric.update(pred=c["gesture/pred"][None], gt=c["gesture/gt"][None], clip_id=cid)
            elif name in ("mouth_lmd", "lip_audio"):
                extra = (c["landmarks/envelope"],) if name == "lip_audio" else ()
                metric.update(cid, c["landmarks/facemesh/pred"], c["landmarks/facemesh/gt"], *extra)
            elif name == "pose_error":
                metric.update(cid, c["landmarks/holistic/pred"], c["landmarks/holistic/gt"])

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
