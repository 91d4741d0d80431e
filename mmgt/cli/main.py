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
from mmgt.cli import data, generate, pose, report, reproduce, train, weights  # noqa: E402

app.add_typer(reproduce.app, name="reproduce")
app.add_typer(data.app, name="data")
app.command("pose")(pose.pose)
app.command("report")(report.report)
app.command("generate")(generate.generate)
app.add_typer(train.app, name="train")
app.add_typer(weights.app, name="weights")


@app.command("methods")
def methods() -> None:
    """List the registered methods (table rows) and what drives each."""
    from mmgt.methods import method_names
    from mmgt.methods.registry import entry

    for name in method_names():
        print(f"{name:28s} {entry(name).target}")
