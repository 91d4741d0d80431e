"""Finding clips in a folder and pairing predictions with ground truth by clip id."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmgt.data.layout import AUDIO, KEYPOINTS, MANIFEST, VIDEO, Split
from mmgt.errors import DataError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm")


@dataclass(frozen=True)
class ClipFiles:
    """The files of one clip in a folder: the video and, when present, its audio and keypoints."""

    clip_id: str
    video: Path
    audio: Path | None = None
    keypoints: Path | None = None


def discover(folder: str | Path, split: str = "test") -> dict[str, ClipFiles]:
    """Clips of a folder by id.

    Accepts a split root (``manifest.csv``: the clips of ``split``), per-clip folders
    (``DIR/<id>/video.mp4`` with optional ``audio.wav``/``keypoints.npy``), or flat files
    (``DIR/<id>.mp4`` with optional ``DIR/<id>.wav``/``DIR/<id>.npy``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "is a file, expected a folder of clips or a split root" if folder.exists() else "folder not found")
    if (folder / MANIFEST).is_file():
        clips = Split(folder).clips(split)
        if not clips:
            raise DataError(folder / MANIFEST, f"no clips in split {split!r}")
        return {c.clip_id: _files(c.clip_id, c.video_path, c.dir / AUDIO, c.dir / KEYPOINTS) for c in clips}
    found: dict[str, ClipFiles] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and (entry / VIDEO).is_file():
            found[entry.name] = _files(entry.name, entry / VIDEO, entry / AUDIO, entry / KEYPOINTS)
        elif entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
            stem = entry.stem
            if stem in found:
                raise DataError(entry, f"clip id {stem!r} appears twice in {folder}")
            found[stem] = _files(stem, entry, entry.with_suffix(".wav"), entry.with_suffix(".npy"))
    if not found:
        raise DataError(folder, "no videos found (expected <id>/video.mp4, <id>.mp4 or a split root)")
    return found


def _files(clip_id: str, video: Path, audio: Path, keypoints: Path) -> ClipFiles:
    return ClipFiles(clip_id, video, audio if audio.is_file() else None, keypoints if keypoints.is_file() else None)


@dataclass(frozen=True)
class Pairing:
    """Prediction/ground-truth pairs by clip id, and what could not be paired."""

    pairs: list[tuple[ClipFiles, ClipFiles]]
    missing: list[str]  # in GT, no prediction
    extra: list[str]  # prediction without GT


def pair(pred: dict[str, ClipFiles], gt: dict[str, ClipFiles]) -> Pairing:
    ids = sorted(set(pred) & set(gt))
    return Pairing(
        pairs=[(pred[i], gt[i]) for i in ids],
        missing=sorted(set(gt) - set(pred)),
        extra=sorted(set(pred) - set(gt)),
    )
