"""``mmgt weights status|fetch|verify|lock``: the pretrained-weights cache and the project's lockfile."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from tabulate import tabulate

from mmgt.errors import MMGTError
from mmgt.weights import WeightsStore

app = typer.Typer(help="Pretrained weights: list, download and verify the cache.", no_args_is_help=True)

WEIGHTS_DIR = typer.Option(None, "--weights-dir", help="Weights cache (default $MMGT_WEIGHTS_DIR or ~/.cache/mmgt-bench/weights).")
LOCKFILE = typer.Option(None, "--lockfile", help="Lockfile (default $MMGT_WEIGHTS_LOCK or weights.lock.json in the project).")


def _table(store: WeightsStore, recheck: bool) -> tuple[str, int]:
    rows = store.status(recheck=recheck)
    text = tabulate(
        [[r.name, r.filename, r.state, (r.sha256 or "")[:16], r.licence, ", ".join(r.used_by)] for r in rows],
        headers=["name", "file", "state", "sha256", "licence", "used by"], tablefmt="github",
    )
    problems = [r.problem for r in rows if r.problem]
    return "\n".join([f"weights dir: {store.root}; lockfile: {store.lockfile}", text, *problems]), len(problems)


@app.command()
def status(weights_dir: Optional[Path] = WEIGHTS_DIR, lockfile: Optional[Path] = LOCKFILE) -> None:
    """Every manifest entry: present, hash ok / unchecked / mismatch, licence, who uses it."""
    print(_table(WeightsStore(weights_dir, lockfile=lockfile), recheck=False)[0])


@app.command()
def verify(weights_dir: Optional[Path] = WEIGHTS_DIR, lockfile: Optional[Path] = LOCKFILE) -> None:
    """Rehash every present file; exit 1 when any differs from its manifest identifier or the lockfile."""
    text, mismatches = _table(WeightsStore(weights_dir, lockfile=lockfile), recheck=True)
    print(text)
    if mismatches:
        raise MMGTError(f"{mismatches} weights entr(ies) do not match the manifest or the lockfile (listed above)")


@app.command()
def lock(weights_dir: Optional[Path] = WEIGHTS_DIR, lockfile: Optional[Path] = LOCKFILE) -> None:
    """Write the sha256 of every fetched file to the lockfile; later runs refuse files that differ from it."""
    store = WeightsStore(weights_dir, lockfile=lockfile)
    files = store.lock()
    print(f"{store.lockfile}: {sum(map(len, files.values()))} file(s) of {len(files)} entr(ies) locked "
          f"({', '.join(files) or 'none fetched'})")


@app.command()
def fetch(
    name: Optional[str] = typer.Argument(None, help="Entry name (see `mmgt weights status`)."),
    all_: bool = typer.Option(False, "--all", help="Fetch every entry."),
    weights_dir: Optional[Path] = WEIGHTS_DIR,
    lockfile: Optional[Path] = LOCKFILE,
) -> None:
    """Download one entry (or --all) into the cache, checking its identifier (and the lockfile's hashes)."""
    store = WeightsStore(weights_dir, lockfile=lockfile)
    if all_ == (name is not None):
        raise MMGTError("give exactly one of NAME or --all")
    for entry_name in list(store.manifest) if all_ else [name]:
        print(f"{entry_name}: {store.fetch(entry_name)}")
