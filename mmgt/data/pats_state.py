"""What prepare-pats remembers per interval, so that a rerun skips every finished one.

``ROOT/state/<speaker>/<interval>.json`` holds the interval's input key and the clip records it
produced. The key is a sha256 over everything its clips depend on: the table row, the split, the
source file's sha256, the settings (size, windows, cap, lower body), the pose extractor's provenance
and :data:`RECIPE_VERSION`. An interval is done when its state file carries the same key and every
file of its clips exists; a state file is written only after all its clips are, so an interrupted
interval is prepared again.

Hashing a long source costs a read of it: the state file keeps the source's size, mtime and sha256,
and a rerun that finds the same size and mtime takes the recorded sha256.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mmgt.data.layout import AUDIO, KEYPOINTS, REF, VIDEO, ClipRecord
from mmgt.data.pats_intervals import Interval
from mmgt.video_io import atomic_path
from mmgt.weights import sha256_file

STATE_DIR = "state"
RECIPE_VERSION = 1  # bump when prepare_interval writes other clips for the same inputs


@dataclass
class IntervalState:
    """The content of one state file."""

    key: str
    source: dict  # {"path", "stamp": [size, mtime_ns], "sha256"}
    records: list[dict] = field(default_factory=list)  # ClipRecord fields; empty: too short for one window

    def clip_records(self) -> list[ClipRecord]:
        return [ClipRecord(**r) for r in self.records]


class SourceHashes:
    """sha256 of source files, each hashed at most once per run; a size and mtime recorded in an
    earlier state file stand for a hash already taken."""

    def __init__(self):
        self._known: dict[str, tuple[list[int], str]] = {}

    @staticmethod
    def stamp(path: Path) -> list[int]:
        stat = path.stat()
        return [stat.st_size, stat.st_mtime_ns]

    def remember(self, source: dict) -> None:
        self._known.setdefault(source["path"], (source["stamp"], source["sha256"]))

    def describe(self, path: Path) -> dict:
        """``{"path", "stamp", "sha256"}`` of ``path``."""
        key, stamp = str(Path(path).resolve()), self.stamp(path)
        known = self._known.get(key)
        digest = known[1] if known and known[0] == stamp else sha256_file(path)
        self._known[key] = (stamp, digest)
        return {"path": key, "stamp": stamp, "sha256": digest}


def interval_key(interval: Interval, split: str, source_sha256: str, settings: dict, extractor: dict) -> str:
    """The hex sha256 of everything the interval's clips depend on."""
    row = {k: v for k, v in asdict(interval).items() if k not in ("dataset", "video_fn", "video_link")}
    payload = {"recipe": RECIPE_VERSION, "row": row, "split": split, "source": source_sha256,
               "settings": settings, "extractor": extractor}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def state_path(root: Path, interval: Interval) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", interval.interval_id).strip("-") or "interval"
    return root / STATE_DIR / interval.speaker / f"{safe}.json"


def load_state(root: Path, interval: Interval) -> IntervalState | None:
    try:
        return IntervalState(**json.loads(state_path(root, interval).read_text()))
    except (OSError, ValueError, TypeError):
        return None  # never prepared, or a state file from something else: prepare again


def save_state(root: Path, interval: Interval, state: IntervalState) -> None:
    with atomic_path(state_path(root, interval)) as tmp:
        tmp.write_text(json.dumps(asdict(state), sort_keys=True) + "\n")


def is_done(root: Path, state: IntervalState | None, key: str) -> bool:
    """``state`` has ``key`` and every file of its clips is there."""
    return state is not None and state.key == key and all(
        (root / r["split"] / r["clip_id"] / name).is_file() for r in state.records for name in (VIDEO, AUDIO, KEYPOINTS, REF))
