"""``mmgt data``: build and prepare splits in the data-contract layout."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from mmgt.cli.common import on_interrupt
from mmgt.data.layout import claim_output
from mmgt.data.synth.generate import GENERATOR, SynthConfig

app = typer.Typer(name="data", no_args_is_help=True)


_D = SynthConfig()  # one source of defaults for the API and the CLI


@app.callback()
def data() -> None:
    """Build and prepare data splits in the data-contract layout (docs/DATA.md)."""


@app.command()
def synth(
    out: Path = typer.Option(Path("data/synth"), "--out", help="split root to write"),
    speakers: int = typer.Option(_D.speakers, help="number of synthetic speakers (spk0, spk1, ...)"),
    train: int = typer.Option(_D.train, help="train clips per speaker"),
    test: int = typer.Option(_D.test, help="test clips per speaker (cut from other intervals than train)"),
    seed: int = typer.Option(_D.seed, help="random seed; the same seed gives identical keypoints, audio and frames"),
    clips_per_interval: int = typer.Option(_D.clips_per_interval, help="80-frame windows cut from each long interval"),
    step: float = typer.Option(_D.step_s, help="window step inside an interval, seconds"),
    workers: int = typer.Option(_D.workers, help="worker processes (the output does not depend on it)"),
    progress: bool = typer.Option(True, help="show a progress bar on stderr"),
    force: bool = typer.Option(False, help="write into a non-empty folder that is not an earlier synthetic split "
                               "(clip folders the new split does not have are removed)"),
) -> None:
    """Write the deterministic synthetic-speakers split (the embedded default dataset).

    OUT must be empty, new, or an earlier synthetic split (its meta.json), unless --force."""
    from mmgt.data.synth import generate_split

    try:
        config = SynthConfig(speakers=speakers, train=train, test=test, seed=seed,
                             clips_per_interval=clips_per_interval, step_s=step, workers=workers)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    claim_output(out, GENERATOR, force)
    on_interrupt(lambda: f"the partial split in {out} has no manifest yet (unusable); "
                         "rerun the same command with --force to write it again")
    started = time.perf_counter()
    records = generate_split(out, config, progress=progress, force=force)
    n_train = sum(r.split == "train" for r in records)
    print(f"wrote {len(records)} clips ({n_train} train, {len(records) - n_train} test, {speakers} speakers) "
          f"to {out} in {time.perf_counter() - started:.1f} s", file=sys.stderr)


from mmgt.cli.pats import register as _register_pats  # noqa: E402  (prepare-pats, merge-pats, extract-pose)
from mmgt.cli.pats_download import register as _register_download  # noqa: E402  (download-pats)

_register_download(app)
_register_pats(app)
