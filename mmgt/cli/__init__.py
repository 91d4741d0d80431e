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


# Command groups; each lives in its own module and registers here.
from mmgt.cli import bench, data, pose, train, weights  # noqa: E402

app.add_typer(bench.app, name="bench")
app.add_typer(data.app, name="data")
app.command("pose")(pose.pose)
app.add_typer(train.app, name="train")
app.add_typer(weights.app, name="weights")
