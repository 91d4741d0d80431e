"""Registry of generation methods (rows of the benchmark tables), by validated name."""

from __future__ import annotations

from typing import Callable

from mmgt.methods.base import Generation, Method, run_method
from mmgt.methods.reference import GroundTruth, Still

METHODS: dict[str, Callable[[], Method]] = {
    "gt": GroundTruth,
    "still": Still,
}


def register(name: str, factory: Callable[[], Method]) -> None:
    """Add a method factory under ``name`` (names are unique)."""
    if name in METHODS:
        raise ValueError(f"method {name!r} is already registered")
    METHODS[name] = factory


def get_method(name: str) -> Method:
    """Instantiate a registered method; unknown names list the valid ones."""
    try:
        return METHODS[name]()
    except KeyError:
        raise KeyError(f"unknown method {name!r}; choose from {sorted(METHODS)}") from None


__all__ = ["METHODS", "Generation", "Method", "get_method", "register", "run_method"]
