"""The on-disk split layout (the data contract every tool reads and writes).

::

    ROOT/
      meta.json                 how the split was made (generator, version, seed, settings)
      manifest.csv              one row per clip (see ``ClipRecord``)
      <split>/<clip_id>/
        video.mp4               25 fps H.264, audio track muxed in
        audio.wav               16 kHz mono
        keypoints.npy           (T, 134, 3) float32, x and y in pixels of video.mp4, score in [0, 1]
        ref.png                 the reference image (= frame 0)

A folder of predictions uses the same per-clip folders (``PRED/<clip_id>/video.mp4`` and optional
``keypoints.npy``), so every tool pairs files by clip id.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from mmgt import keypoints as K
from mmgt.errors import DataError
from mmgt.video_io import FPS, SAMPLE_RATE, atomic_path, read_audio, read_video, write_audio, write_video

CLIP_FRAMES = 80  # 3.2 s at 25 fps
MANIFEST = "manifest.csv"
META = "meta.json"
VIDEO, AUDIO, KEYPOINTS, REF = "video.mp4", "audio.wav", "keypoints.npy", "ref.png"


@dataclass(frozen=True)
class ClipRecord:
    """One manifest row: where a clip comes from and what it must look like."""

    clip_id: str
    split: str
    speaker: str
    source_id: str  # the long interval (PATS interval id) the clip was cut from
    source_start: float  # interval start in the source video, seconds
    source_end: float
    frame_start: int  # clip frames [frame_start, frame_end) on the interval's 25 fps timeline
    frame_end: int
    fps: int
    width: int
    height: int

    @property
    def n_frames(self) -> int:
        return self.frame_end - self.frame_start


@dataclass(frozen=True)
class Clip:
    """A clip record bound to its folder, with validated loaders."""

    record: ClipRecord
    dir: Path

    @property
    def clip_id(self) -> str:
        return self.record.clip_id

    @property
    def video_path(self) -> Path:
        return self.dir / VIDEO

    @property
    def audio_path(self) -> Path:
        return self.dir / AUDIO

    @property
    def keypoints_path(self) -> Path:
        return self.dir / KEYPOINTS

    @property
    def ref_path(self) -> Path:
        return self.dir / REF

    def frames(self) -> np.ndarray:
        r = self.record
        return read_video(self.video_path, expect_fps=r.fps, expect_size=(r.width, r.height), expect_frames=r.n_frames)

    def audio(self, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        return read_audio(self.audio_path, sample_rate)

    def keypoints(self) -> np.ndarray:
        return load_keypoints(self.keypoints_path, self.record.n_frames)

    def ref(self) -> np.ndarray:
        return read_image(self.ref_path, (self.record.width, self.record.height))


def load_keypoints(path: str | Path, n_frames: int | None = None) -> np.ndarray:
    """Load ``(T, 134, 3)`` keypoints, checking shape, frame count and finiteness."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise DataError(path, "not a .npy file (expected a float (T, 134, 3) NumPy array)")
    try:
        kp = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        pickled = "allow_pickle" in str(exc)  # numpy's advice to unpickle untrusted data is not ours to give
        raise DataError(path, "holds Python objects, expected a float (T, 134, 3) array" if pickled
                        else "unreadable .npy file (truncated or corrupt)") from None
    if not np.issubdtype(kp.dtype, np.number):
        raise DataError(path, f"holds {kp.dtype} values, expected a float (T, 134, 3) array")
    if kp.ndim != 3 or kp.shape[1:] != (K.NUM_JOINTS, 3):
        raise DataError(path, f"keypoints have shape {kp.shape}, expected (T, {K.NUM_JOINTS}, 3)")
    if n_frames is not None and kp.shape[0] != n_frames:
        raise DataError(path, f"keypoints have {kp.shape[0]} frames, expected {n_frames}")
    if not np.isfinite(kp).all():
        raise DataError(path, "keypoints contain NaN or infinite values")
    return kp.astype(np.float32, copy=False)


def read_image(path: str | Path, expect_size: tuple[int, int] | None = None) -> np.ndarray:
    """Read an RGB image as ``(H, W, 3)`` uint8, checking its ``(w, h)``."""
    import imageio.v3 as iio

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    try:
        img = iio.imread(path)
    except Exception as exc:  # imageio raises many backend-specific types
        raise DataError(path, f"not a readable image ({exc.__class__.__name__})") from None
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3].astype(np.uint8, copy=False)
    if expect_size is not None and (img.shape[1], img.shape[0]) != tuple(expect_size):
        raise DataError(path, f"image is {img.shape[1]}x{img.shape[0]}, expected {expect_size[0]}x{expect_size[1]}")
    return img


def write_image(path: str | Path, img: np.ndarray) -> Path:
    import imageio.v3 as iio

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, img, extension=".png")
    return Path(path)


class Split:
    """A split root on disk: its manifest, metadata and clips."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        manifest = self.root / MANIFEST
        if not self.root.is_dir():
            raise DataError(self.root, "split root not found (build the default one with `mmgt data synth`)")
        if not manifest.is_file():
            raise DataError(manifest, "manifest not found: not a split root")
        self.records = read_manifest(manifest)
        meta = self.root / META
        try:
            self.meta: dict = json.loads(meta.read_text()) if meta.is_file() else {}
        except ValueError as exc:
            raise DataError(meta, f"not readable JSON ({exc})") from None

    def clips(self, split: str | None = None, speakers: list[str] | None = None) -> list[Clip]:
        """Clips of one split (``train``/``test``; all when None), sorted by clip id."""
        chosen = [
            r for r in self.records
            if (split is None or r.split == split) and (speakers is None or r.speaker in speakers)
        ]
        return [Clip(r, self.root / r.split / r.clip_id) for r in sorted(chosen, key=lambda r: r.clip_id)]

    def clip(self, clip_id: str) -> Clip:
        for c in self.clips():
            if c.clip_id == clip_id:
                return c
        raise DataError(self.root / MANIFEST, f"no clip named {clip_id!r}")

    def validate(self, split: str | None = None) -> list[DataError]:
        """Load every file of every clip; return the problems found (empty when the split is sound)."""
        problems: list[DataError] = []
        for clip in self.clips(split):
            for load in (clip.frames, clip.audio, clip.keypoints, clip.ref):
                try:
                    load()
                except DataError as err:
                    problems.append(err)
        return problems


def read_manifest(path: str | Path) -> list[ClipRecord]:
    path = Path(path)
    types = {f.name: f.type for f in fields(ClipRecord)}
    cast = {"str": str, "float": float, "int": int}
    records = []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(types) - set(reader.fieldnames or [])
        if missing:
            raise DataError(path, f"manifest lacks columns {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            try:
                records.append(ClipRecord(**{k: cast[t](row[k]) for k, t in types.items()}))
            except (TypeError, ValueError) as exc:
                raise DataError(path, f"line {line}: {exc}") from None
    ids = [r.clip_id for r in records]
    if len(set(ids)) != len(ids):
        raise DataError(path, "duplicate clip ids")
    return records


def write_manifest(root: str | Path, records: list[ClipRecord], meta: dict | None = None) -> None:
    """Write ``manifest.csv`` (sorted by clip id) and optionally ``meta.json``, atomically."""
    root = Path(root)
    names = [f.name for f in fields(ClipRecord)]
    with atomic_path(root / MANIFEST) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        for r in sorted(records, key=lambda r: r.clip_id):
            writer.writerow(asdict(r))
    if meta is not None:
        write_meta(root, meta)


def write_meta(root: str | Path, meta: dict) -> None:
    """Write ``meta.json`` atomically."""
    with atomic_path(Path(root) / META) as tmp:
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def claim_output(root: str | Path, generator: str, force: bool = False) -> None:
    """Refuse to write a split into a non-empty folder that is not ``generator``'s earlier output
    (recognised by the ``generator`` field of its meta.json), unless ``force``."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DataError(root, "exists and is not a folder")
    if force or not root.exists() or not any(root.iterdir()):
        return
    try:
        ours = json.loads((root / META).read_text()).get("generator") == generator
    except (OSError, ValueError, AttributeError):
        ours = False
    if not ours:
        raise DataError(root, f"is not empty and holds no earlier output of {generator} (its {META}); "
                              "choose an empty folder, or pass --force to write there (stale clip folders are removed)")


def remove_stale_clips(root: str | Path, records: list[ClipRecord]) -> list[Path]:
    """Delete clip folders (``root/<split>/<id>/`` holding layout files) that ``records`` do not list."""
    import shutil

    keep = {(r.split, r.clip_id) for r in records}
    stale = [
        clip for split_dir in sorted(Path(root).iterdir()) if split_dir.is_dir()
        for clip in sorted(split_dir.iterdir())
        if clip.is_dir() and (split_dir.name, clip.name) not in keep
        and any((clip / name).exists() for name in (VIDEO, AUDIO, KEYPOINTS, REF))
    ]
    for clip in stale:
        shutil.rmtree(clip)
    return stale


def write_clip(
    root: str | Path,
    record: ClipRecord,
    frames: np.ndarray,
    audio: np.ndarray,
    keypoints: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
) -> Clip:
    """Write one clip's files in the layout (the manifest is written separately)."""
    if frames.shape[0] != record.n_frames or keypoints.shape[0] != record.n_frames:
        raise ValueError(f"{record.clip_id}: frames/keypoints must have {record.n_frames} frames")
    K.check_shape(keypoints)
    clip_dir = Path(root) / record.split / record.clip_id
    write_video(clip_dir / VIDEO, frames, fps=record.fps, audio=audio, sample_rate=sample_rate)
    write_audio(clip_dir / AUDIO, audio, sample_rate)
    with atomic_path(clip_dir / KEYPOINTS) as tmp:
        np.save(tmp, keypoints.astype(np.float32))
    write_image(clip_dir / REF, frames[0])
    return Clip(record, clip_dir)


__all__ = [
    "CLIP_FRAMES", "FPS", "SAMPLE_RATE", "Clip", "ClipRecord", "Split", "claim_output", "load_keypoints", "read_image",
    "read_manifest", "remove_stale_clips", "write_clip", "write_image", "write_manifest", "write_meta",
]
