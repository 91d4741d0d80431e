"""Trained tiny-preset checkpoints committed with the repository (``checkpoints/``), hash-pinned.

``checkpoints/manifest.json`` lists every committed file: its sha256, size and the make target that
retrains it. A method's default model is the committed one when present (so `make reproduce-table1`
needs no training), else its ``runs/`` folder; a committed file whose hash differs is refused with one
line. ``python -m mmgt.checkpoints add RUN_DIR --name NAME --make TARGET [--fp16]`` copies a trained run in;
a weights file whose bytes are committed already (an MMGT variant's frozen VAE, ReferenceNet, image
encoder and PoseGuider are the backbone's) becomes a relative symlink to them, so it is stored once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from safetensors.torch import load_file, safe_open, save_file

from mmgt.errors import DataError
from mmgt.provenance import ROOT, git_info
from mmgt.video_io import atomic_path
from mmgt.weights import sha256_file

CHECKPOINTS = Path(os.environ.get("MMGT_CHECKPOINTS", ROOT / "checkpoints"))  # tests point it at an empty folder
SHARE_ABOVE = 64 * 1024  # a file this large whose bytes are committed already becomes a relative symlink to them
MANIFEST = CHECKPOINTS / "manifest.json"


def manifest() -> dict[str, dict]:
    """``{relative path: {"sha256", "bytes", "make", "commit"}}`` (empty when nothing is committed)."""
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}


def verify(path: Path) -> None:
    """Refuse a committed file whose bytes differ from the manifest."""
    entry = manifest().get(path.relative_to(CHECKPOINTS).as_posix())
    if entry is None:
        raise DataError(path, "is not listed in checkpoints/manifest.json")
    if sha256_file(path) != entry["sha256"]:
        raise DataError(path, f"sha256 differs from checkpoints/manifest.json (restore it with git, or retrain: make {entry['make']})")


def committed(name: str) -> Path | None:
    """The committed checkpoint folder ``checkpoints/<name>`` with every listed file verified, or None."""
    folder = CHECKPOINTS / name
    listed = [CHECKPOINTS / rel for rel in manifest() if rel.startswith(f"{name}/")]
    if not listed:
        return None
    for path in listed:
        if not path.is_file():
            raise DataError(path, "listed in checkpoints/manifest.json but missing (restore it with git)")
        verify(path)
    return folder


def default_checkpoint(name: str, runs_path: Path) -> Path:
    """The committed ``checkpoints/<name>`` when present, else ``runs_path`` (where training writes)."""
    return committed(name) or runs_path


def half_precision(src: Path, dest: Path) -> None:
    """Copy a safetensors file with its floating tensors cast to fp16 (metadata kept); loaders read fp32."""
    with safe_open(str(src), "pt") as f:
        metadata = f.metadata()
    tensors = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in load_file(str(src)).items()}
    save_file(tensors, str(dest), metadata=metadata)


def add(source: Path, name: str, make: str, patterns: tuple[str, ...] = ("*",), fp16: bool = False) -> list[Path]:
    """Copy the files of a trained run matching ``patterns`` (``**`` recurses; sub-folders kept) to
    ``checkpoints/<name>/``, safetensors in fp16 when ``fp16``, and list them in the manifest."""
    files = sorted({p for pattern in patterns for p in source.glob(pattern) if p.is_file()})
    if not files:
        raise DataError(source, f"no files matching {patterns}")
    entries = {k: v for k, v in manifest().items() if not k.startswith(f"{name}/")}
    target = CHECKPOINTS / name
    if target.exists():
        shutil.rmtree(target)
    commit = git_info()["commit"]
    by_hash = {e["sha256"]: rel for rel, e in entries.items() if "same_as" not in e}
    copied = []
    for f in files:
        dest = target / f.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if fp16 and f.suffix == ".safetensors":
            half_precision(f, dest)
        else:
            shutil.copyfile(f, dest)
        rel, sha = dest.relative_to(CHECKPOINTS).as_posix(), sha256_file(dest)
        entry = {"sha256": sha, "bytes": dest.stat().st_size, "make": make, "commit": commit}
        if sha in by_hash and dest.stat().st_size > SHARE_ABOVE:  # the same bytes are committed already: link to them
            dest.unlink()
            dest.symlink_to(os.path.relpath(CHECKPOINTS / by_hash[sha], dest.parent))
            entry["same_as"] = by_hash[sha]
        else:
            by_hash.setdefault(sha, rel)
        entries[rel] = entry
        copied.append(dest)
    with atomic_path(MANIFEST) as tmp:
        tmp.write_text(json.dumps(dict(sorted(entries.items())), indent=2) + "\n")
    return copied


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Commit a trained run's files under checkpoints/ with their sha256.")
    parser.add_argument("command", choices=["add", "verify"])
    parser.add_argument("source", type=Path, nargs="?")
    parser.add_argument("--name", help="checkpoints/<name>")
    parser.add_argument("--make", help="make target that retrains it")
    parser.add_argument("--pattern", action="append", default=None, help="files of the run to commit (glob; ** recurses)")
    parser.add_argument("--fp16", action="store_true", help="store safetensors weights in half precision")
    args = parser.parse_args(argv)
    if args.command == "add":
        for path in add(args.source, args.name, args.make, tuple(args.pattern or ["**/*"]), args.fp16):
            print(path)
    else:
        for rel in manifest():
            verify(CHECKPOINTS / rel)
        print(f"{len(manifest())} committed checkpoint files verified")


if __name__ == "__main__":
    main()
