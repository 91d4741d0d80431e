"""``mmgt generate``: speech + one image -> a talking upper-body video (any method, any audio length).

Two-stage rows (``mmgt``, ``edge+animate-anyone``, ``edge+hallo``, ...) run stage 1 (poses from the
speech), write the pose and motion-mask videos, then stage 2; one-stage rows (``mm-diffusion``,
``still``) generate directly. Pose-driven rows (``animate-anyone``, ``mmgt-gt-pose``) take the pose
sequence from ``--pose``. The video has one frame per 40 ms of speech, with the speech muxed in.

::

    OUT/video.mp4            the generated video (speech muxed)
    OUT/audio.wav            the speech at 16 kHz (what the models read)
    OUT/keypoints.npy        the pose sequence (two-stage and pose-driven rows)
    OUT/pose.mp4, OUT/mask_{face_hands,lips,background}.mp4   its pose video and motion masks
    OUT/method.json          the method's provenance (weights and their hashes, seed, steps)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import typer

from mmgt.errors import DataError, UsageError
from mmgt.methods.base import MethodConfig

METHOD_FILE = "method.json"


@dataclass(frozen=True)
class GenerateRequest:
    """One generation: inputs, the method (a registered row built from ``config``) and the output folder."""

    audio: Path
    image: Path
    out: Path
    method: str = "mmgt"
    config: MethodConfig = MethodConfig(progress=True)
    keypoints: Path | None = None
    pose: Path | None = None
    extractor: str = "mediapipe"
    force: bool = False


def driving_poses(path: Path, size: tuple[int, int], extractor: str) -> np.ndarray:
    """``(T, 134, 3)`` pixel keypoints in the reference image's frame: a keypoint ``.npy`` as is, or the
    pose extractor run on every frame of a driving video (scaled from its size to the image's)."""
    from mmgt.data.layout import load_keypoints
    from mmgt.keypoints import scale_to
    from mmgt.pose import create
    from mmgt.video_io import read_video

    if path.suffix == ".npy":
        return load_keypoints(path)
    frames = read_video(path)
    kp = create(extractor)(frames)
    return scale_to(kp, (frames.shape[2], frames.shape[1]), size)


def claim(out: Path, force: bool) -> None:
    if (out / "video.mp4").exists() and not force:
        raise DataError(out, "already holds a generated video; choose another --out or pass --force")
    if out.exists() and not out.is_dir():
        raise DataError(out, "is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)


def generate_video(req: GenerateRequest, say=print) -> dict[str, Path]:
    """Run ``req`` and return the written files by name."""
    from mmgt.data.layout import read_image
    from mmgt.methods import build_method
    from mmgt.methods.base import Conditions, Generation
    from mmgt.methods.compose import Composed
    from mmgt.methods.runner import check_generation
    from mmgt.provenance import git_info
    from mmgt.stage1.generate import n_frames_for
    from mmgt.stage1.outputs import reference_pose, write_outputs
    from mmgt.video_io import FPS, SAMPLE_RATE, atomic_path, read_audio, write_audio, write_video

    method = build_method(req.method, req.config)
    if method.driven_by == "ground-truth":
        raise UsageError("--method", f"{req.method!r} copies ground truth; it cannot generate from speech")
    if method.driven_by == "pose" and req.pose is None:
        raise UsageError("--pose", f"method {req.method!r} is pose-driven: pass keypoints .npy or a driving video")
    audio = read_audio(req.audio, SAMPLE_RATE)
    image = read_image(req.image)
    size = (image.shape[1], image.shape[0])
    n = n_frames_for(audio)
    pose = None
    if method.driven_by == "pose":
        pose = driving_poses(req.pose, size, req.extractor)
        if len(pose) < n:
            raise DataError(req.pose, f"has {len(pose)} pose frames; the speech needs {n} ({len(audio) / SAMPLE_RATE:.2f} s at {FPS} fps)")
        pose = pose[:n]
    ref_pose = pose[0] if pose is not None and req.keypoints is None else reference_pose(image, req.keypoints, req.extractor)
    claim(req.out, req.force)
    files = {"audio": write_audio(req.out / "audio.wav", audio, SAMPLE_RATE)}
    cond = Conditions(clip_id=req.out.name, audio=audio, sample_rate=SAMPLE_RATE, ref_image=image, ref_pose=ref_pose,
                      n_frames=n, fps=FPS, pose=pose, audio_path=files["audio"])
    start = time.perf_counter()
    if isinstance(method, Composed):
        say(f"[1/2] poses: {method.pose_source.description} ({n} frames)")
        poses = method.pose_source.poses(cond)
        files |= write_outputs(req.out, poses, size, files["audio"])
        say(f"[2/2] video: {method.video.description}")
        gen = Generation(method.video.render(cond, poses), poses)
    else:
        say(f"[1/1] video: {method.description} ({n} frames)")
        gen = method.generate(cond)
    check_generation(method, gen, cond)
    files["video"] = write_video(req.out / "video.mp4", gen.frames, fps=FPS, audio=audio, sample_rate=SAMPLE_RATE)
    files["method"] = req.out / METHOD_FILE
    record = {"provenance": method.provenance(), "code": git_info(), "inputs": {"audio": str(req.audio), "image": str(req.image)},
              "frames": n, "seconds": round(time.perf_counter() - start, 2)}
    with atomic_path(files["method"]) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return files


def generate(
    audio: Path = typer.Option(..., help="Speech (wav or any soundfile format), any length; the video gets one frame per 40 ms."),
    image: Path = typer.Option(..., help="Reference image of the speaker (png/jpg); sets the output size."),
    method: str = typer.Option("mmgt", help="Registered method (`mmgt methods`): mmgt, edge+animate-anyone, edge+hallo, "
                                            "mm-diffusion, animate-anyone (pose-driven), ..."),
    preset: str = typer.Option("tiny", help="Model size: tiny (CPU, committed checkpoints) or paper (real weights, a GPU)."),
    out: Path = typer.Option(Path("out/generate"), help="Output folder (video.mp4, pose and mask videos, method.json)."),
    keypoints: Path = typer.Option(None, help="Reference pose .npy ((T, 134, 3) pixels of the image; frame 0 used); default: extract it."),
    pose: Path = typer.Option(None, help="Pose-driven methods: keypoints .npy (T, 134, 3) or a driving video of a person."),
    extractor: str = typer.Option("mediapipe", help="Pose extractor for the image and driving videos (mediapipe, dwpose)."),
    checkpoint: Path = typer.Option(None, help="Video model folder (default: the committed checkpoint of the preset)."),
    pose_checkpoint: Path = typer.Option(None, help="Stage-1 model of a two-stage method (default: committed)."),
    steps: int = typer.Option(None, min=1, help="Denoising steps of the stage-2 video model (default: its checkpoint's)."),
    sampler: str = typer.Option(None, help="Stage-2 solver: ddim, dpm-solver++, unipc (default: its checkpoint's)."),
    seed: int = typer.Option(0, help="Sampling seed: same inputs and seed, same video."),
    device: str = typer.Option("cpu", help="Torch device (cpu, cuda, cuda:1)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an earlier generation in --out."),
    progress: bool = typer.Option(True, help="Progress bars per stage."),
) -> None:
    """Speech + one image -> a talking upper-body video (stage 1 poses and masks, then stage 2)."""
    config = MethodConfig(preset=preset, checkpoint=checkpoint, pose_checkpoint=pose_checkpoint, device=device, seed=seed,
                          steps=steps, sampler=sampler, progress=progress)
    req = GenerateRequest(audio=audio, image=image, out=out, method=method, config=config, keypoints=keypoints, pose=pose,
                          extractor=extractor, force=force)
    for name, path in generate_video(req).items():
        print(f"{name}: {path}")
