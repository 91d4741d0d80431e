"""``mmgt weights status|fetch|verify``: the pretrained-weights cache."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from tabulate import tabulate

from mmgt.errors import MMGTError
from mmgt.weights import WeightsStore

app = typer.Typer(help="Pretrained weights: list, download and verify the cache.", no_args_is_help=True)

WEIGHTS_DIR = typer.Option(None, "--weights-dir", help="Weights cache (default $MMGT_WEIGHTS_DIR or ~/.cache/mmgt-bench/weights).")


def _table(store: WeightsStore, recheck: bool) -> tuple[str, int]:
    rows = store.status(recheck=recheck)
    text = tabulate(
        [[r.name, r.filename, r.state, (r.sha256 or "")[:16], r.licence, ", ".join(r.used_by)] for r in rows],
        headers=["name", "file", "state", "sha256", "licence", "used by"], tablefmt="github",
    )
    return f"weights dir: {store.root}\n{text}", sum(r.state == "mismatch" for r in rows)


@app.command()
def status(weights_dir: Optional[Path] = WEIGHTS_DIR) -> None:
    """Every manifest entry: present, hash ok / unchecked / mismatch, licence, who uses it."""
    print(_table(WeightsStore(weights_dir), recheck=False)[0])


@app.command()
def verify(weights_dir: Optional[Path] = WEIGHTS_DIR) -> None:
    """Rehash every present file; exit 1 when any differs from the manifest."""
    text, mismatches = _table(WeightsStore(weights_dir), recheck=True)
    print(text)
    if mismatches:
        raise MMGTError(f"{mismatches} weights file(s) do not match the manifest's sha256")


@app.command()
def fetch(
    name: Optional[str] = typer.Argument(None, help="Entry name (see `mmgt weights status`)."),
    all_: bool = typer.Option(False, "--all", help="Fetch every entry."),
    weights_dir: Optional[Path] = WEIGHTS_DIR,
) -> None:
    """Download one entry (or --all) into the cache, checking its sha256 where known."""
    store = WeightsStore(weights_dir)
    if all_ == (name is not None):
        raise MMGTError("give exactly one of NAME or --all")
    for entry_name in list(store.manifest) if all_ else [name]:
        print(f"{entry_name}: {store.fetch(entry_name)}")
