"""The synthetic-speakers generator: determinism, audio-driven motion, frames that follow keypoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mmgt import keypoints as K
from mmgt.cli.data import app as data_app
from mmgt.data import layout
from mmgt.data.layout import Split
from mmgt.data.synth import SynthConfig, generate_split, render_interval
from mmgt.data.synth import generate as gen
from mmgt.data.synth.face import inner_lip_opening
from mmgt.data.synth.speakers import make_speaker
from mmgt.video_io import FPS, SAMPLE_RATE

TINY = dict(speakers=1, train=2, test=1, clips_per_interval=2)
CLI_TINY = ["--speakers", "1", "--train", "2", "--test", "1", "--clips-per-interval", "2"]


@pytest.fixture(scope="module")
def split_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth_a")
    generate_split(root, SynthConfig(seed=0, workers=1, **TINY), progress=False)
    return root


@pytest.fixture(scope="module")
def split_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same seed through the CLI, with two worker processes."""
    root = tmp_path_factory.mktemp("synth_b")
    result = CliRunner().invoke(data_app, ["synth", "--out", str(root), "--seed", "0", "--workers", "2", "--no-progress", *CLI_TINY])
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def split_c(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth_c")
    generate_split(root, SynthConfig(seed=1, workers=1, **TINY), progress=False)
    return root


def _clip_pairs(a: Path, b: Path):
    clips_a, clips_b = Split(a).clips(), Split(b).clips()
    assert [c.clip_id for c in clips_a] == [c.clip_id for c in clips_b]
    return list(zip(clips_a, clips_b))


def test_same_seed_gives_identical_keypoints_audio_and_frames(split_a: Path, split_b: Path) -> None:
    assert (split_a / layout.MANIFEST).read_bytes() == (split_b / layout.MANIFEST).read_bytes()
    for ca, cb in _clip_pairs(split_a, split_b):
        assert ca.keypoints_path.read_bytes() == cb.keypoints_path.read_bytes()
        assert ca.audio_path.read_bytes() == cb.audio_path.read_bytes()
        np.testing.assert_array_equal(ca.frames(), cb.frames())


def test_other_seed_differs(split_a: Path, split_c: Path) -> None:
    for ca, cc in _clip_pairs(split_a, split_c):
        assert np.abs(ca.keypoints()[..., :2] - cc.keypoints()[..., :2]).mean() > 1.0
        assert not np.array_equal(ca.audio(), cc.audio())


def test_split_validates_and_records_its_provenance(split_a: Path) -> None:
    split = Split(split_a)
    assert split.validate() == []
    records = split.records
    assert len(records) == 3 and {r.speaker for r in records} == {"spk0"}
    train = {r.source_id for r in records if r.split == "train"}
    test = {r.source_id for r in records if r.split == "test"}
    assert train and test and not train & test  # disjoint intervals
    for r in records:
        assert r.n_frames == layout.CLIP_FRAMES and (r.fps, r.width, r.height) == (FPS, 256, 256)
        assert r.source_end - r.source_start >= r.frame_end / FPS - 1e-6
    # two windows of one interval overlap by the step: their shared frames carry the same keypoints
    w0, w1 = split.clips("train")
    shift = w1.record.frame_start - w0.record.frame_start
    np.testing.assert_array_equal(w0.keypoints()[shift:], w1.keypoints()[:-shift])
    assert split.meta["generator"] == gen.GENERATOR and split.meta["seed"] == 0
    assert split.meta["settings"]["train"] == 2
    ref, first = w0.ref(), w0.frames()[0]
    assert np.abs(ref.astype(float) - first).mean() < 3.0  # ref.png is frame 0 (before encoding)


def test_keypoint_layout_and_scores(split_a: Path) -> None:
    kp = np.concatenate([c.keypoints() for c in Split(split_a).clips()])
    invisible = list(K.LOWER_BODY) + list(K.FEET)
    assert (kp[:, invisible, 2] == 0).all()
    visible = [j for j in range(K.NUM_JOINTS) if j not in invisible + [8, 11]]
    assert (kp[:, visible, 2] >= 0.8).all()
    xy = kp[:, visible, :2]
    assert (xy >= 0).all() and (xy < 256).all()


def test_mouth_opening_follows_audio_envelope(split_a: Path) -> None:
    openings, rms = [], []
    per_frame = SAMPLE_RATE // FPS
    for clip in Split(split_a).clips():
        openings.append(inner_lip_opening(clip.keypoints()[:, K.FACE, :2]))
        wav = clip.audio()
        rms.append(np.sqrt(np.mean(wav[: len(openings[-1]) * per_frame].reshape(-1, per_frame) ** 2, axis=1)))
    r = float(np.corrcoef(np.concatenate(openings), np.concatenate(rms))[0, 1])
    print(f"Pearson r(inner-lip opening, wav RMS per frame) = {r:.3f}")
    assert r > 0.5


def test_hands_and_fingers_move(split_a: Path) -> None:
    kp = np.concatenate([c.keypoints() for c in Split(split_a).clips("train")])
    for wrist, hand in ((4, K.RIGHT_HAND), (7, K.LEFT_HAND)):
        assert kp[:, wrist, :2].std(axis=0).max() > 3.0  # pixels
        np.testing.assert_allclose(kp[:, hand[0], :2], kp[:, wrist, :2], atol=1e-4)  # hand hangs on the wrist
        fingers = kp[:, hand[1:], :2] - kp[:, hand[:1], :2]
        assert fingers.std(axis=0).mean() > 1.0  # articulation, not a rigid hand


@pytest.fixture(scope="module")
def intervals() -> list[gen.Interval]:
    """10 s of two speakers with different voices and gesture styles, in memory."""
    return [gen.generate_interval(make_speaker(i, 0), 250, np.random.default_rng(i)) for i in (0, 1)]


def test_gestures_and_nods_follow_stress(intervals: list[gen.Interval]) -> None:
    for it in intervals:
        kp, stress = it.keypoints, it.signals.stress
        events = np.flatnonzero(stress[:-10])
        assert len(events) >= 3
        after = np.concatenate([np.arange(e + 1, e + 9) for e in events])
        wrist_speed = np.linalg.norm(np.diff(kp[:, [4, 7], :2], axis=0), axis=-1).sum(-1)
        assert wrist_speed[after].mean() > 1.2 * wrist_speed.mean()
        nose_below_eyes = kp[:, 0, 1] - kp[:, [14, 15], 1].mean(-1)  # grows when the head nods down
        assert np.mean(nose_below_eyes[events + 3]) > np.mean(nose_below_eyes)


def test_voice_pitch_matches_the_speaker(intervals: list[gen.Interval]) -> None:
    from mmgt.features.librosa_baseline import import_librosa, numba_lock

    librosa = import_librosa()
    medians = []
    for it in intervals:
        with numba_lock:  # yin compiles a float64 numba kernel that other workers share
            f0 = librosa.yin(it.audio.astype(np.float64), fmin=60, fmax=400, sr=it.sample_rate, frame_length=1024, hop_length=640)
        loud = it.signals.envelope[: len(f0)] > 0.6
        medians.append(float(np.median(f0[: len(loud)][loud])))
        assert medians[-1] == pytest.approx(it.speaker.voice.f0, rel=0.2)
    assert medians[1] > 1.5 * medians[0]  # spk1 has the higher voice


def test_rendered_mouth_is_darker_when_open(split_a: Path) -> None:
    clip = Split(split_a).clips("train")[0]
    frames, kp = clip.frames().astype(float), clip.keypoints()
    opening = inner_lip_opening(kp[:, K.FACE, :2])
    luma = []
    for frame, lips in zip(frames, kp[:, K.LIPS, :2]):
        cx, cy = np.round(lips[12:].mean(0)).astype(int)  # inner-lip centre
        luma.append(frame[cy - 2 : cy + 3, cx - 3 : cx + 4].mean())
    luma = np.array(luma)
    order = np.argsort(opening)
    k = len(order) // 4
    assert luma[order[-k:]].mean() < luma[order[:k]].mean() - 20.0
    assert np.corrcoef(opening, luma)[0, 1] < -0.5


def test_render_interval_makes_raw_landscape_recordings() -> None:
    it = render_interval(1, 1.0, seed=3, fps=30.0, size=(456, 256))
    assert it.frames.shape == (30, 256, 456, 3) and it.frames.dtype == np.uint8
    assert it.audio.shape == (SAMPLE_RATE,) and it.keypoints.shape == (30, K.NUM_JOINTS, 3)
    neck = it.keypoints[:, 1, 0]
    assert abs(neck.mean() - 228) < 10  # the figure is centred on the wide canvas
    again = render_interval(1, 1.0, seed=3, fps=30.0, size=(456, 256))
    np.testing.assert_array_equal(it.frames, again.frames)


def test_interrupted_run_leaves_no_manifest_and_no_partial_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / layout.MANIFEST).write_text("stale\n")
    calls = []

    def failing_write_clip(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return layout.write_clip(*args, **kwargs)

    monkeypatch.setattr(gen, "write_clip", failing_write_clip)
    with pytest.raises(KeyboardInterrupt):
        generate_split(tmp_path, SynthConfig(workers=1, **TINY), progress=False, force=True)  # a foreign manifest
    assert not (tmp_path / layout.MANIFEST).exists()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert sorted(p.name for p in written) == sorted([layout.VIDEO, layout.AUDIO, layout.KEYPOINTS, layout.REF])


@pytest.mark.parametrize("bad", [dict(speakers=0), dict(train=0, test=0), dict(train=-1), dict(size=255)])
def test_config_rejects_bad_settings(bad: dict) -> None:
    with pytest.raises(ValueError):
        SynthConfig(**bad)


def test_cli_reports_bad_settings_without_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(data_app, ["synth", "--out", str(tmp_path), "--speakers", "0"])
    assert result.exit_code != 0 and "speakers must be at least 1" in result.output
    assert not (tmp_path / layout.MANIFEST).exists()
