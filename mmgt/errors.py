"""Errors that reach the user as one clear line naming the offending file."""

from __future__ import annotations

from pathlib import Path


class MMGTError(Exception):
    """Base class for errors shown to the user as a single line (no traceback)."""


class DataError(MMGTError):
    """Input data is missing, corrupt or violates the data contract."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class WeightsMissingError(MMGTError):
    """A pretrained weight file is absent from the weights cache."""

    def __init__(self, name: str, path: str | Path, url: str):
        self.name, self.path, self.url = name, Path(path), url
        super().__init__(
            f"missing weights '{name}': expected {path} (source {url}); "
            f"fetch it with `mmgt weights fetch {name}` or place the file there by hand"
        )


class UsageError(MMGTError):
    """An option has an invalid value (exit status 2: bad usage)."""

    def __init__(self, option: str, problem: str):
        self.option, self.problem = option, problem
        super().__init__(f"{option}: {problem}")


class CorruptCacheEntryWarning(UserWarning):
    """A cache entry could not be read; it was removed and is recomputed."""
