"""Long synthetic intervals, and the split writer that cuts them into PATS-style clips.

A split has, per speaker, train and test intervals (disjoint: each interval belongs to one split),
each long enough for ``clips_per_interval`` 80-frame windows at ``step_s``. Every interval is
generated from its own seed ``(seed, speaker, split, interval)``, so the output does not depend on
the worker count or on scheduling.
"""

from __future__ import annotations

import math
import sys
from contextlib import nullcontext
from itertools import repeat
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mmgt.data.layout import (
    CLIP_FRAMES, MANIFEST, META, ClipRecord, claim_output, remove_stale_clips, write_clip, write_manifest,
)
from mmgt.data.synth.backdrop import backdrop
from mmgt.data.synth.figure import render
from mmgt.data.synth.motion import animate, place
from mmgt.data.synth.speakers import Speaker, make_speaker
from mmgt.data.synth.speech import DrivingSignals, driving_signals, plan_speech, synthesize
from mmgt.data.windows import WindowSpec, windows
from mmgt.video_io import FPS, SAMPLE_RATE

GENERATOR = "mmgt.data.synth"
VERSION = "1"
SPLITS = ("train", "test")
SOURCE_GAP_S = 4.0  # silence between consecutive intervals of one speaker's virtual source video


@dataclass(frozen=True)
class Interval:
    """A long synthetic recording: frames, audio and exact keypoints."""

    speaker: Speaker
    frames: np.ndarray  # (T, h, w, 3) uint8 RGB
    audio: np.ndarray  # (N,) float32 mono
    keypoints: np.ndarray  # (T, 134, 3) float32, pixels of the frames
    signals: DrivingSignals
    fps: float
    sample_rate: int


def generate_interval(
    speaker: Speaker, n_frames: int, rng: np.random.Generator, *, fps: float = FPS,
    size: tuple[int, int] = (256, 256), sample_rate: int = SAMPLE_RATE,
) -> Interval:
    """Speech, motion and frames of one interval of ``n_frames`` on a ``(w, h)`` canvas."""
    n_samples = int(round(n_frames * sample_rate / fps))
    syllables = plan_speech(rng, speaker.voice, n_samples / sample_rate)
    speech = synthesize(syllables, speaker.voice, n_samples, sample_rate, rng)
    signals = driving_signals(speech, fps, n_frames)
    kp, scale = place(animate(signals, speaker, fps, rng), size)
    frames = render(kp, speaker.look, backdrop(speaker.look, size, speaker.texture_seed), scale)
    return Interval(speaker, frames, speech.wav, kp, signals, fps, sample_rate)


def render_interval(
    speaker: int = 0, duration_s: float = 8.0, *, seed: int = 0, index: int = 0, fps: float = 30.0,
    size: tuple[int, int] = (456, 256), sample_rate: int = SAMPLE_RATE,
) -> Interval:
    """A raw-style long interval (landscape, any fps) of speaker ``spk{speaker}`` for PATS-preparation tests.

    The figure is centred and fills the canvas height; ``index`` picks another interval of the same
    speaker. Write it with ``mmgt.video_io.write_video(path, it.frames, fps=it.fps, audio=it.audio)``.
    """
    rng = np.random.default_rng([seed, speaker, len(SPLITS), index])
    return generate_interval(make_speaker(speaker, seed), int(round(duration_s * fps)), rng,
                             fps=fps, size=size, sample_rate=sample_rate)


@dataclass(frozen=True)
class SynthConfig:
    """Settings of a synthetic split (recorded in meta.json)."""

    speakers: int = 4
    train: int = 12  # clips per speaker
    test: int = 2  # clips per speaker (8 test clips by default: evaluation on CPU stays minutes)
    seed: int = 0
    size: int = 256
    clips_per_interval: int = 4
    step_s: float = 1.6  # window step inside an interval (paper: 0.5 s; larger -> less overlap)
    workers: int = 2  # processes; the output does not depend on it
    window: WindowSpec = field(init=False)

    def __post_init__(self) -> None:
        for name in ("speakers", "size", "clips_per_interval", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.train < 0 or self.test < 0 or self.train + self.test == 0:
            raise ValueError(f"need a non-negative number of train and test clips, not both 0 (got {self.train}, {self.test})")
        if self.size % 2:
            raise ValueError(f"size must be even for H.264, got {self.size}")
        object.__setattr__(self, "window", WindowSpec(length_s=CLIP_FRAMES / FPS, step_s=self.step_s, fps=FPS))


@dataclass(frozen=True)
class IntervalJob:
    """One interval to generate and the clips to cut from it."""

    speaker: int
    split: str
    index: int
    n_clips: int
    n_frames: int
    source_start: float


def plan_jobs(config: SynthConfig) -> list[IntervalJob]:
    """Every interval of the split, with its place on its speaker's virtual source timeline."""
    spec = config.window
    jobs = []
    for speaker in range(config.speakers):
        clock = 10.0
        for split, count in zip(SPLITS, (config.train, config.test)):
            for index in range(math.ceil(count / config.clips_per_interval)):
                n_clips = min(config.clips_per_interval, count - index * config.clips_per_interval)
                n_frames = math.floor((n_clips - 1) * spec.step_s * spec.fps + 0.5) + spec.length
                jobs.append(IntervalJob(speaker, split, index, n_clips, n_frames, clock))
                clock += n_frames / FPS + SOURCE_GAP_S
    return jobs


def run_job(job: IntervalJob, config: SynthConfig, root: Path) -> list[ClipRecord]:
    """Generate one interval and write its clips; return their manifest rows."""
    speaker = make_speaker(job.speaker, config.seed)
    rng = np.random.default_rng([config.seed, job.speaker, SPLITS.index(job.split), job.index])
    interval = generate_interval(speaker, job.n_frames, rng, size=(config.size, config.size))
    source_id = f"{speaker.id}_{job.split}{job.index:02d}"
    per_frame = SAMPLE_RATE // FPS
    records = []
    for k, (start, stop) in enumerate(windows(job.n_frames, config.window)):
        record = ClipRecord(
            clip_id=f"{source_id}_w{k:02d}", split=job.split, speaker=speaker.id, source_id=source_id,
            source_start=round(job.source_start, 3), source_end=round(job.source_start + job.n_frames / FPS, 3),
            frame_start=start, frame_end=stop, fps=FPS, width=config.size, height=config.size,
        )
        write_clip(root, record, interval.frames[start:stop], interval.audio[start * per_frame : stop * per_frame],
                   interval.keypoints[start:stop])
        records.append(record)
    return records


def _meta(config: SynthConfig) -> dict:
    settings = asdict(config)
    settings["window"] = asdict(config.window)
    return {
        "generator": GENERATOR,
        "version": VERSION,
        "seed": config.seed,
        "settings": settings,
        "speakers": [asdict(make_speaker(i, config.seed)) for i in range(config.speakers)],
    }


def generate_split(
    out: str | Path, config: SynthConfig = SynthConfig(), progress: bool = True, force: bool = False,
) -> list[ClipRecord]:
    """Write the synthetic split under ``out``; the manifest and meta.json are written last.

    ``out`` must be empty, missing or an earlier synthetic split, unless ``force``; clip folders
    of an earlier split that this one does not have are removed.
    """
    root = Path(out)
    claim_output(root, GENERATOR, force)
    root.mkdir(parents=True, exist_ok=True)
    for stale in (MANIFEST, META):  # a run that stops early must not look like a complete split
        (root / stale).unlink(missing_ok=True)
    jobs = plan_jobs(config)
    records: list[ClipRecord] = []
    pool = ProcessPoolExecutor(config.workers, mp_context=get_context("fork")) if config.workers > 1 else None
    with pool or nullcontext():
        # workers fork when the jobs are submitted, before the progress bar starts its thread
        results = (pool.map if pool else map)(run_job, jobs, repeat(config), repeat(root))
        with tqdm(total=sum(j.n_clips for j in jobs), unit="clip", desc="synth", file=sys.stderr,
                  disable=not progress) as bar:
            for done in results:
                records += done
                bar.update(len(done))
    remove_stale_clips(root, records)
    write_manifest(root, records, _meta(config))
    return records
