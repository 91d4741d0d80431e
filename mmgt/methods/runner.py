"""Run a method over clips: build each clip's conditions, generate, write the split layout.

The runner owns what a method sees (:func:`conditions`) and all file handling: it writes
``OUT/<clip_id>/video.mp4`` (the clip's audio muxed in) and ``keypoints.npy``, writes the video last
(a clip whose video exists is complete), and keeps ``OUT/method.json``, the method's provenance.
A folder written by a different method or configuration is never mixed with new outputs: it is
refused, or with ``replace=True`` emptied first.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mmgt.data.layout import AUDIO, KEYPOINTS, VIDEO, Clip
from mmgt.errors import DataError
from mmgt.methods.base import Conditions, Generation, Method
from mmgt.provenance import git_info
from mmgt.video_io import SAMPLE_RATE, atomic_path, write_audio, write_video

METHOD_FILE = "method.json"


def conditions(clip: Clip, driven_by: str) -> Conditions:
    """What a method driven by ``driven_by`` may read of ``clip``: GT pose only when pose-driven."""
    if driven_by not in ("audio", "pose"):
        raise ValueError(f"conditions are built for audio- or pose-driven methods, not {driven_by!r}")
    r = clip.record
    keypoints = clip.keypoints()
    return Conditions(
        clip_id=clip.clip_id, audio=clip.audio(SAMPLE_RATE), sample_rate=SAMPLE_RATE, ref_image=clip.ref(),
        ref_pose=keypoints[0], n_frames=r.n_frames, fps=r.fps, pose=keypoints if driven_by == "pose" else None,
        audio_path=clip.audio_path,
    )


def check_generation(method: Method, gen: Generation, cond: Conditions) -> None:
    """A method's output must match the clip: frame count, frame size, dtype, finite keypoints."""
    w, h = cond.size
    if gen.frames.shape != (cond.n_frames, h, w, 3) or gen.frames.dtype != np.uint8:
        raise RuntimeError(f"method {method.name} returned frames {gen.frames.shape} {gen.frames.dtype} for "
                           f"{cond.clip_id}, expected ({cond.n_frames}, {h}, {w}, 3) uint8")
    if gen.keypoints is not None and (gen.keypoints.shape != (cond.n_frames, 134, 3) or not np.isfinite(gen.keypoints).all()):
        raise RuntimeError(f"method {method.name} returned invalid keypoints {gen.keypoints.shape} for {cond.clip_id}")


def write_clip_output(clip: Clip, gen: Generation, target: Path) -> None:
    """Keypoints and audio first, the video (with the clip's audio muxed) last; each file atomically."""
    audio = clip.audio(SAMPLE_RATE)
    if gen.keypoints is not None:
        with atomic_path(target / KEYPOINTS) as tmp:
            np.save(tmp, gen.keypoints.astype(np.float32))
    write_audio(target / AUDIO, audio, SAMPLE_RATE)
    write_video(target / VIDEO, gen.frames, fps=clip.record.fps, audio=audio, sample_rate=SAMPLE_RATE)


def copy_ground_truth(clip: Clip, target: Path) -> None:
    """The ground-truth row: the clip's files copied byte for byte (video last)."""
    clip.frames()  # validate before copying
    for name in (KEYPOINTS, AUDIO, VIDEO):
        with atomic_path(target / name) as tmp:
            shutil.copyfile(clip.dir / name, tmp)


def prepare_folder(method: Method, out_dir: Path, replace: bool) -> None:
    """Claim ``out_dir`` for ``method``: refuse (or empty, with ``replace``) a folder of other outputs."""
    identity = method.provenance()
    record = out_dir / METHOD_FILE
    if out_dir.is_dir() and any(out_dir.iterdir()):
        try:
            previous = json.loads(record.read_text())["provenance"]
        except (OSError, ValueError, KeyError, TypeError):
            previous = None
        if previous != json.loads(json.dumps(identity)):
            if not replace:
                raise DataError(out_dir, "holds outputs of another method or configuration "
                                         "(method.json differs); choose a new folder or pass replace")
            shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(record) as tmp:
        tmp.write_text(json.dumps({"provenance": identity, "code": git_info()}, indent=2, sort_keys=True) + "\n")


def run_method(method: Method, clips: list[Clip], out_dir: str | Path, *, replace: bool = False, progress: bool = True) -> Path:
    """Write ``method``'s output for every clip to ``out_dir``; finished clips of the same method are kept."""
    out_dir = Path(out_dir)
    prepare_folder(method, out_dir, replace)
    todo = [c for c in clips if not (out_dir / c.clip_id / VIDEO).is_file()]
    for clip in tqdm(todo, desc=f"generate {method.name}", unit="clip", disable=not progress or not todo):
        target = out_dir / clip.clip_id
        if method.driven_by == "ground-truth":
            copy_ground_truth(clip, target)
            continue
        cond = conditions(clip, method.driven_by)
        gen = method.generate(cond)
        check_generation(method, gen, cond)
        write_clip_output(clip, gen, target)
    return out_dir
