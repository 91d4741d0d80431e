"""MMGT and Hallo-adapted stage 2 as video generators: masks from the poses, static Hallo masks, YOLO loading."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from baselines.hallo import HalloVideo, _grouped, load_yolo, static_masks
from mmgt.errors import DataError, MMGTError
from mmgt.methods.base import Conditions, MethodConfig
from mmgt.methods.mmgt_video import MMGTNoAudio, MMGTVideo
from mmgt.methods.registry import entry, method_names
from mmgt.stage2.audio_attention import branch_masks, load_audio_config
from mmgt.stage2.mmgt_model import MMGTModel, save_mmgt
from mmgt.stage2.model import make_scheduler

from .conftest import activate, build
from .test_mm_haa import TINY_AUDIO, figure_pose, moving_pose


def conditions(n: int = 4, size: int = 64) -> Conditions:
    kp = moving_pose(n)
    return Conditions(clip_id="c", audio=np.random.default_rng(0).normal(size=16000 * n // 25).astype(np.float32) * 0.1,
                      sample_rate=16000, ref_image=np.full((size, size, 3), 128, np.uint8), ref_pose=kp[0], n_frames=n, fps=25.0)


@pytest.fixture(scope="module")
def folders(small_cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("mmgt_methods")
    scheduler = make_scheduler(small_cfg.scheduler)
    return {name: save_mmgt(out / name, activate(MMGTModel.from_backbone(build(small_cfg), cfg)), scheduler, 0)
            for name, cfg in (("mmgt", TINY_AUDIO), ("hallo", replace(TINY_AUDIO, placement="all", masks="reference")))}


def test_mmgt_renders_one_frame_per_pose_with_masks_from_the_poses(folders, monkeypatch):
    cond = conditions()
    video = MMGTVideo(MethodConfig(checkpoint=folders["mmgt"]))
    seen = {}
    original = video.masks

    def masks(c, poses):
        seen["masks"] = original(c, poses)
        return seen["masks"]

    monkeypatch.setattr(video, "masks", masks)
    frames = video.render(cond, moving_pose(4))
    assert frames.shape == (4, 64, 64, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(seen["masks"], branch_masks(moving_pose(4), cond.size, "motion"))
    assert video.provenance()["checkpoint_sha256"]


def test_mmgt_frames_follow_the_speech_inside_the_masks_and_the_poses(folders, monkeypatch):
    """Trained-like adapters and PoseGuider: another speech or another pose sequence changes the frames;
    with every branch mask zero the speech changes nothing."""
    video = MMGTVideo(MethodConfig(checkpoint=folders["mmgt"], reuse_memory=False))
    poses = figure_pose(4)
    cond = conditions()
    other = replace(cond, audio=np.random.default_rng(1).normal(size=cond.audio.shape).astype(np.float32) * 0.1)
    frames = video.render(cond, poses)
    assert np.abs(frames.astype(int) - video.render(other, poses).astype(int)).mean() > 0.5
    mirrored = poses.copy()
    mirrored[..., 0] = 63 - mirrored[..., 0]
    assert np.abs(frames.astype(int) - video.render(cond, mirrored).astype(int)).mean() > 0.5
    monkeypatch.setattr(video, "masks", lambda c, p: np.zeros_like(branch_masks(p, c.size)))
    np.testing.assert_array_equal(video.render(cond, poses), video.render(other, poses))


def test_a_variant_refuses_a_checkpoint_trained_with_other_switches(folders):
    with pytest.raises(MMGTError, match="audio=false"):
        MMGTNoAudio(MethodConfig(checkpoint=folders["mmgt"])).pipeline


def test_hallo_uses_static_keypoint_masks_of_the_reference_frame_without_yolo(folders, tmp_path):
    cond = conditions()
    hallo = HalloVideo(MethodConfig(checkpoint=folders["hallo"]), yolo_weights=tmp_path / "absent.pt")
    assert hallo.mask_source == "keypoints" and hallo.provenance()["mask_source"] == "keypoints"
    masks = hallo.masks(cond, moving_pose(4))
    assert np.allclose(masks, masks[:1])  # static
    np.testing.assert_array_equal(masks, branch_masks(moving_pose(4), cond.size, "reference"))
    assert hallo.render(cond, moving_pose(4)).shape == (4, 64, 64, 3)


def test_hallo_masks_take_yolo_face_and_hand_boxes_when_detected():
    cond = conditions()
    detections = {"face": np.array([[0, 0, 15, 15]], float), "hand": np.array([[40, 40, 63, 63]], float)}
    masks = static_masks(cond.ref_pose, cond.size, 3, detections)
    face = masks[0, 1]
    assert face[4, 4] > 0.5 and face[55, 55] > 0.5 and face[4, 55] < 0.1  # inside the detected boxes only
    np.testing.assert_allclose(masks[0, 0], 1 - face, atol=1e-6)
    keypoint = static_masks(cond.ref_pose, cond.size, 3)
    np.testing.assert_array_equal(masks[:, 2], keypoint[:, 2])  # lips from the keypoints either way


def test_yolo_detections_group_by_class_name_and_a_missing_package_is_one_error(tmp_path):
    boxes = np.array([[0, 0, 5, 5], [1, 1, 2, 2], [3, 3, 9, 9]], float)
    grouped = _grouped(boxes, np.array([0, 1, 2]), {0: "Face", 1: "hand", 2: "chair"})
    assert set(grouped) == {"face", "hand"} and grouped["hand"].shape == (1, 4)
    import importlib.util

    if importlib.util.find_spec("ultralytics") or importlib.util.find_spec("yolov5"):
        pytest.skip("a YOLO package is installed")
    with pytest.raises(MMGTError, match="ultralytics"):
        load_yolo(tmp_path / "w.pt")


def test_rows_are_registered():
    assert entry("mmgt").kwargs["video"] == "mmgt.methods.mmgt_video:MMGTVideo"
    assert entry("mmgt").kwargs["pose_source"] == "mmgt.methods.stage1_poses:Stage1Poses"
    assert entry("edge+hallo").kwargs == {"pose_source": "baselines.edge:EdgePoses", "video": "baselines.hallo:HalloVideo"}
    assert {"mmgt-still-mask", "mmgt-no-mask", "mmgt-no-audio"} <= set(method_names())


def test_presets_load_and_overrides_apply():
    tiny, paper = load_audio_config("tiny"), load_audio_config("paper")
    assert (tiny.feature_kind, tiny.feature_dim, tiny.tokens) == ("baseline", 35, 32)
    assert (paper.feature_kind, paper.feature_layers, paper.feature_dim, paper.hidden) == ("wav2vec2", 12, 768, 512)
    assert load_audio_config("tiny", HalloVideo.settings).placement == "all"
    with pytest.raises(DataError, match="masks"):
        load_audio_config("tiny", ["masks=sometimes"])


def test_cli_trains_a_variant_that_its_row_loads(trained, tiny_split, tmp_path):
    from typer.testing import CliRunner

    from mmgt.cli.train import app
    from tests.stage2.conftest import SMALL

    sets = [a for s in (*SMALL, "train.video.frames=4") for a in ("--set", s)]
    out = tmp_path / "hallo"
    result = CliRunner().invoke(app, ["stage2-audio", "--variant", "hallo", "--data", str(tiny_split), "--init",
                                      str(trained["image"]), "--out", str(out), "--steps", "1", "--no-progress",
                                      "--cache-dir", str(tmp_path / "cache"), *sets])
    assert result.exit_code == 0, result.output
    hallo = HalloVideo(MethodConfig(checkpoint=out / "video" / "model"))
    assert hallo.pipeline.model.audio_cfg.placement == "all" and hallo.pipeline.model.video


@pytest.mark.parametrize("row", ["mmgt", "edge+hallo"])
def test_two_stage_rows_write_a_video_per_clip_from_the_pose_sources_poses(row, folders, tiny_split, tmp_path, monkeypatch):
    from mmgt.data.layout import VIDEO, Split
    from mmgt.methods import build_method, run_method
    from mmgt.video_io import probe

    monkeypatch.chdir(tmp_path)  # the audio feature cache
    folder = folders["mmgt" if row == "mmgt" else "hallo"]
    method = build_method(row, MethodConfig(checkpoint=folder, pose_checkpoint=tmp_path / "unused"))
    assert method.driven_by == "audio" and isinstance(method.video, MMGTVideo)
    clip = Split(tiny_split).clips("test")[0]
    monkeypatch.setattr(method.pose_source, "poses", lambda cond: clip.keypoints())  # stand-in for a trained stage 1
    out = run_method(method, [clip], tmp_path / "out", progress=False)
    info = probe(out / clip.clip_id / VIDEO)
    assert (info.width, info.height, info.n_frames) == (clip.record.width, clip.record.height, clip.record.n_frames)
    if row == "edge+hallo":
        assert json.loads((out / "method.json").read_text())["provenance"]["video"]["mask_source"] == "keypoints"
