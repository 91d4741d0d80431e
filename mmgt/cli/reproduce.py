"""``mmgt reproduce``: rebuild the paper's tables on a split (default: the embedded synthetic one)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from eval.protocol import Protocol
from mmgt.experiments.tables import DEFAULT_METHODS, TableConfig, reproduce
from mmgt.methods import MethodConfig

app = typer.Typer(help="Reproduce Tables I-III: run methods, evaluate, render next to the paper.", no_args_is_help=True)


def _command(table: str):
    def command(
        data: Path = typer.Option(TableConfig.data, help="Split root (default: the embedded synthetic split)."),
        methods: str = typer.Option(",".join(DEFAULT_METHODS[table]), help="Comma-separated method names (rows); `mmgt methods` lists them."),
        preset: str = typer.Option(MethodConfig.preset, help="Model size of every generated row (tiny, paper)."),
        seed: int = typer.Option(MethodConfig.seed, help="Sampling seed of every generated row."),
        samples: int = typer.Option(TableConfig.samples, min=1, help="Sampling seeds per generated row (seed, seed+1, ...): "
                                    "the table shows the first, and the seed-to-seed spread apart from the intervals."),
        device: str = typer.Option(MethodConfig.device, help="Torch device for the methods (cpu, cuda)."),
        runs: Path = typer.Option(TableConfig.runs, help="Where generated videos and caches go (git-ignored)."),
        results: Path = typer.Option(TableConfig.results, help="Where the table files go."),
        allow_untrained: bool = typer.Option(
            TableConfig.allow_untrained, "--allow-untrained-extractors/--require-weights",
            help="Random-init extractors where weights are missing (every such value marked †), as mmgt-eval."),
        skip_missing: bool = typer.Option(
            TableConfig.skip_missing, "--skip-missing/--require-models",
            help="Rows without a trained model are listed as not measured (default) or refused."),
        checkpoint: Optional[Path] = typer.Option(None, help="Video model checkpoint for a single generated row."),
        pose_checkpoint: Optional[Path] = typer.Option(None, help="Pose model checkpoint for a single two-stage row."),
        face_track: str = typer.Option(Protocol.face_track, help="Face region and lip sync: per-video (each video's own "
                                       "face) or gt (GT's face position on both sides); recorded in the table header."),
    ) -> None:
        method_config = MethodConfig(preset=preset, checkpoint=checkpoint, pose_checkpoint=pose_checkpoint, device=device, seed=seed)
        cfg = TableConfig(table=table, data=data, methods=tuple(m for m in methods.split(",") if m), runs=runs,
                          results=results, allow_untrained=allow_untrained, skip_missing=skip_missing,
                          method_config=method_config, eval_overrides={"protocol": Protocol(face_track=face_track)},
                          samples=samples)
        print(reproduce(cfg).read_text())

    command.__doc__ = f"Rebuild {table} under results/{table}/."
    return command


for _table in ("table1", "table2", "table3"):
    app.command(_table)(_command(_table))


@app.command("check")
def check(
    reference: Path = typer.Argument(..., help="A table folder (e.g. results/table2) to check against."),
    regenerated: Path = typer.Argument(..., help="The same table regenerated (e.g. on another machine, --results elsewhere)."),
) -> None:
    """Do a regenerated table's values reproduce the reference's? gt/still bit-exactly, generated rows within
    their intervals (docs/PROTOCOL.md, Uncertainty). Exit 3 with one line per moved value otherwise."""
    from mmgt.cli.common import EXIT_INCOMPLETE
    from mmgt.experiments.reproduction import check_table

    problems = check_table(reference, regenerated)
    for line in problems:
        print(line)
    if problems:
        raise typer.Exit(EXIT_INCOMPLETE)
    print("every value reproduces (reference rows bit-exactly, generated rows within their intervals)")
