"""The method layer: built from a name and a config, fed only its declared inputs, never mixing outputs."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from mmgt.data.layout import VIDEO, Clip, Split
from mmgt.errors import DataError, MMGTError
from mmgt.methods import Conditions, Generation, Method, MethodConfig, VideoGenerator, build_method, method_names, register, run_method
from mmgt.methods.compose import Composed
from mmgt.methods.registry import _REGISTRY


class Spy(Method):
    """Records the conditions it was given; draws a constant grey video of the right size."""

    name = "spy"
    seen: list[Conditions] = []

    def generate(self, cond: Conditions) -> Generation:
        Spy.seen.append(cond)
        w, h = cond.size
        return Generation(np.full((cond.n_frames, h, w, 3), 128 + self.config.seed, np.uint8))


class PoseSpy(Spy):
    name = "pose-spy"
    driven_by = "pose"


class Grey(VideoGenerator):
    """A video generator that ignores poses (enough to test composition)."""

    name = "grey"

    def render(self, cond: Conditions, poses: np.ndarray) -> np.ndarray:
        assert poses.shape == (cond.n_frames, 134, 3)
        w, h = cond.size
        return np.full((cond.n_frames, h, w, 3), 90, np.uint8)


@pytest.fixture
def registered():
    names = {"spy": f"{__name__}:Spy", "pose-spy": f"{__name__}:PoseSpy"}
    for name, target in names.items():
        register(name, target)
    register("gt-pose+grey", "mmgt.methods.compose:Composed",
             pose_source="mmgt.methods.reference:GroundTruthPoses", video=f"{__name__}:Grey")
    Spy.seen.clear()
    yield
    for name in (*names, "gt-pose+grey"):
        _REGISTRY.pop(name)


@pytest.fixture
def clips(tiny_split: Path) -> list[Clip]:
    return Split(tiny_split).clips("test")


@pytest.fixture
def no_gt_video(monkeypatch):
    """Reading a clip's GT video fails: only the reference frame (ref.png) may be read."""
    def refuse(self):
        raise AssertionError(f"GT video of {self.clip_id} read")
    monkeypatch.setattr(Clip, "frames", refuse)


def test_conditions_have_no_video_field():
    assert not {"video", "frames"} & {f.name for f in fields(Conditions)}


def test_build_method_passes_config_and_names_the_row(registered):
    cfg = MethodConfig(preset="tiny", seed=3)
    method = build_method("spy", cfg)
    assert isinstance(method, Spy) and method.config is cfg and method.name == "spy"
    assert method.provenance()["config"]["seed"] == 3


def test_unknown_and_duplicate_names(registered):
    with pytest.raises(MMGTError, match="choose from .*gt.*still"):
        build_method("nope")
    with pytest.raises(ValueError, match="already registered"):
        register("spy", "mmgt.methods.reference:Still")
    with pytest.raises(ValueError, match="module:Class"):
        register("bad", "mmgt.methods.reference.Still")


def test_baselines_register_through_the_plugin_module():
    from mmgt.methods import registry

    assert "baselines.methods" in registry.PLUGINS
    method_names()  # imports the plugin module
    import sys

    assert "baselines.methods" in sys.modules


def test_audio_driven_method_gets_no_pose_and_no_gt_video(registered, clips, tmp_path, no_gt_video):
    run_method(build_method("spy"), clips, tmp_path / "spy", progress=False)
    assert [c.clip_id for c in Spy.seen] == [c.clip_id for c in clips]
    for cond, clip in zip(Spy.seen, clips):
        assert cond.pose is None
        np.testing.assert_array_equal(cond.ref_pose, clip.keypoints()[0])
        assert cond.n_frames == clip.record.n_frames and cond.sample_rate == 16000


def test_pose_driven_method_gets_the_gt_pose(registered, clips, tmp_path, no_gt_video):
    run_method(build_method("pose-spy"), clips, tmp_path / "p", progress=False)
    for cond, clip in zip(Spy.seen, clips):
        np.testing.assert_array_equal(cond.pose, clip.keypoints())


def test_composed_row_is_driven_like_its_pose_source(registered, clips, tmp_path, no_gt_video):
    method = build_method("gt-pose+grey")
    assert isinstance(method, Composed) and method.driven_by == "pose" and method.name == "gt-pose+grey"
    out = run_method(method, clips[:1], tmp_path / "c", progress=False)
    kp = np.load(out / clips[0].clip_id / "keypoints.npy")
    np.testing.assert_allclose(kp, clips[0].keypoints(), atol=1e-4)
    prov = json.loads((out / "method.json").read_text())["provenance"]
    assert prov["pose_source"]["name"] == "gt-pose" and prov["video"]["name"] == "grey"


def test_rerun_with_another_config_refuses_or_replaces(registered, clips, tmp_path):
    out = tmp_path / "row"
    run_method(build_method("spy", MethodConfig(seed=0)), clips, out, progress=False)
    first = (out / clips[0].clip_id / VIDEO).read_bytes()
    Spy.seen.clear()
    run_method(build_method("spy", MethodConfig(seed=0)), clips, out, progress=False)
    assert Spy.seen == []  # same method and config: finished clips kept
    with pytest.raises(DataError, match="another method or configuration"):
        run_method(build_method("spy", MethodConfig(seed=1)), clips, out, progress=False)
    assert (out / clips[0].clip_id / VIDEO).read_bytes() == first  # refused: nothing touched
    run_method(build_method("spy", MethodConfig(seed=1)), clips, out, replace=True, progress=False)
    assert len(Spy.seen) == len(clips)  # every clip regenerated under the new provenance
    assert json.loads((out / "method.json").read_text())["provenance"]["config"]["seed"] == 1


def test_wrong_output_shape_is_an_error(registered, clips, tmp_path):
    class Short(Spy):
        def generate(self, cond):
            return Generation(super().generate(cond).frames[:-1])

    with pytest.raises(RuntimeError, match="expected"):
        run_method(Short(), clips[:1], tmp_path / "s", progress=False)
    assert not (tmp_path / "s" / clips[0].clip_id / VIDEO).exists()
