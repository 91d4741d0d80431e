"""What every command-line entry point shares: one exit-status contract, one-line errors instead of
tracebacks, one readable line per warning, and an interrupt message saying what was kept.

Exit statuses (``mmgt``, ``mmgt-eval`` and every subcommand)::

    0    complete
    1    error: one ``error: ...`` line naming the file or option
    2    bad usage (unknown option, invalid option value)
    3    incomplete results (failed or missing clips); ``mmgt-eval check`` found problems
    130  interrupted (Ctrl-C): one line saying what was kept and how to resume
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Callable

import typer

from mmgt.errors import MMGTError, UsageError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

EXIT_STATUS_HELP = (
    "Exit status: 0 complete; 1 error (one line naming the file or option); 2 bad usage; "
    "3 incomplete results (failed or missing clips; check: problems found); 130 interrupted."
)

_interrupt_note: Callable[[], str] = lambda: (  # noqa: E731 (commands with resumable state set their own)
    "files finished before the interrupt are kept (each is written whole or not at all); rerun the command to finish")


def on_interrupt(note: Callable[[], str]) -> None:
    """Set what an interrupt message says was kept and how to resume (called when the work starts)."""
    global _interrupt_note
    _interrupt_note = note


def document_exit_statuses(app: typer.Typer) -> None:
    """Append the exit-status contract to the --help epilog of ``app``, its groups and every command."""
    if not isinstance(app.info.epilog, str):
        app.info.epilog = EXIT_STATUS_HELP
    for command in app.registered_commands:
        command.epilog = command.epilog if isinstance(command.epilog, str) else EXIT_STATUS_HELP
    for group in app.registered_groups:
        if not isinstance(group.epilog, str):
            group.epilog = EXIT_STATUS_HELP
        if group.typer_instance is not None:
            document_exit_statuses(group.typer_instance)


def _show_warnings_once() -> None:
    """Each distinct warning becomes one ``warning: ...`` line on stderr, once per run (no source lines)."""
    seen: set[tuple[type, str]] = set()

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ARG001 (warnings API)
        key = (category, str(message))
        if key not in seen:
            seen.add(key)
            print(f"warning: {' '.join(str(message).split())} ({category.__name__})", file=sys.stderr)

    warnings.showwarning = show


def _exit_code(exc: BaseException) -> int:
    """The status of an exception that ends a command, printing its one line."""
    if isinstance(exc, UsageError):
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(exc, MMGTError):
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if isinstance(exc, typer.TyperException) and hasattr(exc, "show"):  # typer's click usage errors (exit 2)
        exc.show()
        return exc.exit_code
    if isinstance(exc, OSError) and exc.filename is not None:  # a file the system refused: disk full, permissions
        print(f"error: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    raise exc


def run_cli(app: typer.Typer) -> None:
    """Run a typer app under the exit-status contract (module docstring). ``MMGT_DEBUG=1`` shows tracebacks."""
    document_exit_statuses(app)
    _show_warnings_once()
    try:
        code = app(standalone_mode=False)  # typer returns Exit codes (and Ctrl-C as 130) here, not raise them
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        code = EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("MMGT_DEBUG"):
            raise
        code = _exit_code(exc)
    code = code if isinstance(code, int) else EXIT_OK
    if code == EXIT_INTERRUPTED:
        print(f"interrupted: {_interrupt_note()}", file=sys.stderr)
    sys.exit(code)
