"""Which code produced a file: the git commit of this checkout (shared by results, method outputs and reports)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def git_info() -> dict:
    """``{"commit": sha, "dirty": bool}`` of this checkout; both None outside a git work tree. ``dirty``:
    tracked files outside ``results/`` differ from the commit (a table run rewrites ``results/`` itself)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"], cwd=ROOT,
                                    capture_output=True, text=True, timeout=30).stdout.strip())
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}
