"""`mmgt generate`: speech + image -> video of the speech's duration, through stage 1 and stage 2
(random-init small models; the committed checkpoints are exercised by the tables)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmgt.cli.generate import GenerateRequest, generate_video
from mmgt.data.layout import Split
from mmgt.errors import DataError, UsageError
from mmgt.methods.base import MethodConfig
from mmgt.stage1.checkpoint import save_model
from mmgt.stage1.config import load_config as stage1_config
from mmgt.stage1.smga import SMGA
from mmgt.stage2.mmgt_model import MMGTModel, save_mmgt
from mmgt.stage2.model import make_scheduler
from mmgt.video_io import probe, read_audio, write_audio

from .conftest import activate, build
from .test_mm_haa import TINY_AUDIO


@pytest.fixture(scope="module")
def models(small_cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("generate_models")
    cfg = stage1_config("tiny", ["diffusion.sample_steps=2", "model.dim=32", "model.ff_dim=64", "model.layers=1"])
    torch.manual_seed(0)
    stage1 = save_model(out / "stage1.safetensors", cfg, SMGA(cfg.model).state_dict(), step=0)
    model = build(small_cfg)
    model.add_motion()
    stage2 = save_mmgt(out / "mmgt", activate(MMGTModel.from_backbone(model, TINY_AUDIO)), make_scheduler(small_cfg.scheduler), 0)
    return {"pose_checkpoint": stage1, "checkpoint": stage2}


@pytest.fixture(scope="module")
def inputs(tiny_split, tmp_path_factory):
    """A test clip's reference image and keypoints, and 1.5 s, 3.2 s and 7 s of its speech (looped)."""
    clip = Split(tiny_split).clips("test")[0]
    out = tmp_path_factory.mktemp("generate_inputs")
    wav = read_audio(clip.audio_path)
    speech = {s: write_audio(out / f"speech_{s}.wav", np.resize(wav, round(s * 16000))) for s in (1.5, 3.2, 7.0)}
    return {"image": clip.ref_path, "keypoints": clip.dir / "keypoints.npy", "speech": speech,
            "size": (clip.record.width, clip.record.height)}


AAC_SLACK = 2 * 1024 / 16000  # the muxed AAC stream adds its encoder priming and pads to whole 1024-sample frames


def frames_and_audio_seconds(video) -> tuple[int, float]:
    import av

    with av.open(str(video)) as container:
        stream = container.streams.audio[0]
        seconds = float(stream.duration * stream.time_base)
    return probe(video).n_frames, seconds


@pytest.mark.parametrize("seconds", [1.5, 3.2])
def test_generate_writes_a_video_as_long_as_the_speech(seconds, models, inputs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # feature caches
    req = GenerateRequest(audio=inputs["speech"][seconds], image=inputs["image"], out=tmp_path / "out",
                          keypoints=inputs["keypoints"], config=MethodConfig(**models))
    files = generate_video(req, say=lambda _: None)
    assert {"video", "pose", "keypoints", "mask_lips", "method", "audio"} <= set(files)
    n, audio_seconds = frames_and_audio_seconds(files["video"])
    assert n == round(seconds * 25) and 0 <= audio_seconds - seconds < AAC_SLACK
    assert (probe(files["video"]).width, probe(files["video"]).height) == inputs["size"]
    assert np.load(files["keypoints"]).shape == (n, 134, 3)
    record = json.loads(files["method"].read_text())
    assert record["provenance"]["config"]["seed"] == 0 and record["provenance"]["video"]["checkpoint_sha256"]
    with pytest.raises(DataError, match="--force"):
        generate_video(req, say=lambda _: None)


def test_generate_cli_runs_as_a_script_for_long_speech_with_the_pose_extracted(models, inputs, tmp_path):
    """7 s of speech (stage 1 chains windows), the reference pose extracted from the image by MediaPipe."""
    cmd = [sys.executable, "-m", "mmgt.cli", "generate", "--audio", str(inputs["speech"][7.0]), "--image", str(inputs["image"]),
           "--checkpoint", str(models["checkpoint"]), "--pose-checkpoint", str(models["pose_checkpoint"]),
           "--out", str(tmp_path / "out"), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[1/2] poses" in done.stdout and "[2/2] video" in done.stdout
    n, audio_seconds = frames_and_audio_seconds(tmp_path / "out" / "video.mp4")
    assert n == 175 and 0 <= audio_seconds - 7.0 < AAC_SLACK


def test_pose_driven_rows_need_poses_covering_the_speech(models, inputs, tmp_path):
    base = dict(audio=inputs["speech"][7.0], image=inputs["image"], out=tmp_path / "out", method="mmgt-gt-pose",
                config=MethodConfig(checkpoint=models["checkpoint"]))
    with pytest.raises(UsageError, match="--pose"):
        generate_video(GenerateRequest(**base))
    with pytest.raises(DataError, match="has 80 pose frames; the speech needs 175"):
        generate_video(GenerateRequest(**base, pose=inputs["keypoints"]))
    assert not (tmp_path / "out").exists()  # refused before writing anything
