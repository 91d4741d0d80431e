"""``mmgt bench``: reproduce the paper's tables on a split (default: the embedded synthetic one)."""

from __future__ import annotations

from pathlib import Path

import typer

from mmgt.bench import DEFAULT_METHODS, BenchConfig, reproduce

app = typer.Typer(help="Reproduce Tables I-III: run methods, evaluate, render next to the paper.", no_args_is_help=True)


def _command(table: str):
    def command(
        data: Path = typer.Option(BenchConfig.data, help="Split root (default: the embedded synthetic split)."),
        methods: str = typer.Option(",".join(DEFAULT_METHODS[table]), help="Comma-separated method names (rows)."),
        runs: Path = typer.Option(BenchConfig.runs, help="Where generated videos and caches go (git-ignored)."),
        results: Path = typer.Option(BenchConfig.results, help="Where the table files go."),
        allow_untrained: bool = typer.Option(True, help="Random-init extractors where weights are missing (values marked)."),
    ) -> None:
        cfg = BenchConfig(table=table, data=data, methods=tuple(m for m in methods.split(",") if m),
                          runs=runs, results=results, allow_untrained=allow_untrained)
        print(reproduce(cfg).read_text())

    command.__doc__ = f"Rebuild {table} under results/{table}/."
    return command


for _table in ("table1", "table2", "table3"):
    app.command(_table)(_command(_table))
