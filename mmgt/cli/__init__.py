"""The ``mmgt`` command: data, weights, training, generation and the benchmark tables."""

from __future__ import annotations

import typer

from mmgt.cli.common import run_cli

app = typer.Typer(
    name="mmgt",
    help="MMGT-Bench: co-speech gesture video generation (MMGT reimplementation, baselines, benchmark).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def main() -> None:
    """Console-script entry point."""
    run_cli(app)

from mmgt.cli import data as _data  # noqa: E402  (sub-apps register after `app` exists)

app.add_typer(_data.app, name="data")
