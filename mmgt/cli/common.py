"""What every command-line entry point shares: one-line errors instead of tracebacks."""

from __future__ import annotations

import os
import sys

import typer

from mmgt.errors import MMGTError


def run_cli(app: typer.Typer) -> None:
    """Run a typer app; user-facing errors become one ``error: ...`` line on stderr and exit 1.

    Set ``MMGT_DEBUG=1`` to see the full traceback instead.
    """
    try:
        app(standalone_mode=False)
    except MMGTError as exc:
        if os.environ.get("MMGT_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # click's usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
