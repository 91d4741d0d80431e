"""The AnimateAnyone rows through the method layer: GT poses in (Table II), EDGE poses in (Table I)."""

from __future__ import annotations

import json

import pytest

from mmgt.data.layout import KEYPOINTS, VIDEO, Split
from mmgt.errors import MMGTError
from mmgt.methods import MethodConfig, build_method, method_names, run_method
from mmgt.video_io import probe


def test_rows_are_registered_with_their_drivers():
    assert {"animate-anyone", "edge+animate-anyone"} <= set(method_names())


def test_animate_anyone_renders_gt_poses_at_the_clip_size(trained, tiny_split, tmp_path):
    method = build_method("animate-anyone", MethodConfig(checkpoint=trained["video"]))
    assert method.name == "animate-anyone" and method.driven_by == "pose"
    clip = Split(tiny_split).clips("test")[0]
    out = run_method(method, [clip], tmp_path / "aa", progress=False)
    info = probe(out / clip.clip_id / VIDEO)
    assert (info.width, info.height, info.n_frames) == (clip.record.width, clip.record.height, clip.record.n_frames)
    assert (out / clip.clip_id / KEYPOINTS).is_file()
    provenance = json.loads((out / "method.json").read_text())
    video = provenance["provenance"]["video"]
    assert video["checkpoint"] == str(trained["video"]) and video["checkpoint_sha256"]
    # the model card's inference settings are part of the identity: a changed sampler is another method
    assert set(video["checkpoint_sha256"]) >= {"stage2.json", "denoising_unet/diffusion_pytorch_model.safetensors"}
    other = build_method("animate-anyone", MethodConfig(checkpoint=trained["video"], sampler="unipc"))
    assert other.provenance() != method.provenance()


def test_edge_row_is_audio_driven_and_unknown_presets_are_refused(trained, tmp_path):
    from baselines.edge import EdgePoses

    method = build_method("edge+animate-anyone", MethodConfig(checkpoint=trained["video"], pose_checkpoint=tmp_path / "edge"))
    assert method.name == "edge+animate-anyone" and method.driven_by == "audio"
    assert isinstance(method.pose_source, EdgePoses)
    with pytest.raises(MMGTError, match="preset"):
        build_method("animate-anyone", MethodConfig(preset="huge", checkpoint=trained["video"]))


@pytest.mark.parametrize("reuse", [True, False])
def test_loading_asks_for_freed_memory_reuse_per_config_and_the_provenance_ignores_it(trained, monkeypatch, reuse):
    import mmgt.methods.stage2_video as stage2_video

    calls = []
    monkeypatch.setattr(stage2_video, "reuse_freed_memory", lambda: calls.append(True) or True)
    method = build_method("animate-anyone", MethodConfig(checkpoint=trained["video"], reuse_memory=reuse))
    assert calls == []  # building alone changes nothing in the process
    assert method.video.pipeline.config.steps > 0 and calls == [True] * reuse
    other = build_method("animate-anyone", MethodConfig(checkpoint=trained["video"], reuse_memory=not reuse))
    assert other.provenance() == method.provenance()
