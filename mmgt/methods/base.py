"""The interface every row of a benchmark table implements, and the runner that writes its outputs.

A method turns one test clip's conditions (speech audio, reference image, and for pose-driven
methods the ground-truth pose) into an 80-frame video, optionally with the keypoints it drove the
video with. The runner owns all file handling: it writes ``OUT/<clip_id>/video.mp4`` (the clip's
audio muxed in) and ``keypoints.npy`` in the split layout, skips clips already written, and never
leaves a half-written clip.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mmgt.data.layout import AUDIO, KEYPOINTS, VIDEO, Clip
from mmgt.video_io import SAMPLE_RATE, atomic_path, write_audio, write_video


@dataclass
class Generation:
    """A method's output for one clip: ``(T, H, W, 3)`` uint8 frames and optional pixel keypoints."""

    frames: np.ndarray
    keypoints: np.ndarray | None = None


class Method(ABC):
    """A generation method. ``inputs`` lists which clip fields it reads (recorded with results)."""

    name: str = ""
    inputs: tuple[str, ...] = ("audio", "ref")
    description: str = ""

    @abstractmethod
    def generate(self, clip: Clip) -> Generation:
        """Generate the clip's video from the fields named in ``inputs``."""

    def write(self, clip: Clip, target: Path) -> None:
        """Generate ``clip`` and write it in the split layout under ``target`` (each file atomically)."""
        gen = self.generate(clip)
        n = clip.record.n_frames
        if gen.frames.shape[0] != n:
            raise RuntimeError(f"method {self.name} returned {gen.frames.shape[0]} frames for {clip.clip_id}, expected {n}")
        audio = clip.audio(SAMPLE_RATE)
        if gen.keypoints is not None:
            with atomic_path(target / KEYPOINTS) as tmp:
                np.save(tmp, gen.keypoints.astype(np.float32))
        write_audio(target / AUDIO, audio, SAMPLE_RATE)
        write_video(target / VIDEO, gen.frames, fps=clip.record.fps, audio=audio, sample_rate=SAMPLE_RATE)

    def provenance(self) -> dict:
        """What produced the outputs (weights, checkpoints, settings); stored beside them."""
        return {"method": self.name, "inputs": list(self.inputs)}


def run_method(method: Method, clips: list[Clip], out_dir: str | Path, *, progress: bool = True) -> Path:
    """Write ``method``'s output for every clip to ``out_dir``; clips already complete are kept.

    The video is written last, so a clip whose ``video.mp4`` exists is complete.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "method.json") as tmp:
        tmp.write_text(json.dumps(method.provenance(), indent=2, sort_keys=True) + "\n")
    todo = [c for c in clips if not (out_dir / c.clip_id / VIDEO).is_file()]
    for clip in tqdm(todo, desc=f"generate {method.name}", unit="clip", disable=not progress or not todo):
        method.write(clip, out_dir / clip.clip_id)
    return out_dir
