"""The metric base class: named float64 states that update, save, load and merge exactly.

A metric declares its states with :meth:`Metric.add_state`. A ``"sum"`` state is a fixed-shape
array that shards add together; a ``"cat"`` state is a growing array of rows that shards
concatenate. Everything a result depends on lives in these states, so a state saved by one
process (``np.savez(path, **metric.state_dict())``) and merged into another gives the result of
one run over all the data.

Clip bootstrap contract (eval/bootstrap.py): a family whose states keep each clip's contribution
apart implements :meth:`Metric.clip_ids` (the sorted clips its states hold) and
:meth:`Metric.resample`, which recomputes the outputs on ``B`` resampled multisets of those clips at
once: ``counts[b, i]`` copies of clip ``clip_ids()[i]`` (a clip drawn twice counts twice, one not
drawn is left out), ``(B,)`` float64 arrays with NaN where an output is undefined on that multiset.
``resample`` on a row of ones gives :meth:`compute`'s value (to rounding). Families that do not
implement it get no interval (``clip_ids`` returns None, or raises NotImplementedError saying why).
Because the states merge exactly, the intervals of a merged run are those of one process. A new
family implements the two methods over what its states keep per clip (per-clip values, sums and
counts, or feature rows with their clip ids, as eval/metrics/rows.py keeps them).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal, Self

import numpy as np

Direction = Literal["lower", "higher", "none"]  # "none": a reference value, not a score
Reduce = Literal["sum", "cat"]
CONFIG_PREFIX = "config."


def clip_mean(counts: np.ndarray, values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted means of per-clip ``values`` over ``(B, n)`` clip multisets: ``(B,)`` (or ``(B, k)`` for
    ``(n, k)`` values). Each clip weighs ``counts * weights``; non-finite values and zero weights are left
    out, as the families' :meth:`Metric.compute` leaves them out; NaN where nothing is left."""
    values = np.asarray(values, dtype=np.float64)
    weights = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)
    weights = weights.reshape(weights.shape + (1,) * (values.ndim - 1))
    used = np.isfinite(values) & (weights > 0)
    total = counts @ np.where(used, values * weights, 0.0)
    mass = counts @ np.where(used, weights, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mass > 0, total / np.where(mass > 0, mass, 1.0), np.nan)


class Metric(ABC):
    """One metric family: ``update`` with data, ``compute`` the outputs, ``merge`` shards."""

    def __init__(self, name: str, **config: int | float | str) -> None:
        self.name = name
        self.config = config
        self._reduce: dict[str, Reduce] = {}
        self._default: dict[str, np.ndarray] = {}
        self._state: dict[str, np.ndarray | list[np.ndarray]] = {}

    @property
    @abstractmethod
    def directions(self) -> dict[str, Direction]:
        """Each output of :meth:`compute` and whether lower or higher is better."""

    @abstractmethod
    def update(self, *args, **kwargs) -> None:
        """Accumulate one batch."""

    @abstractmethod
    def compute(self) -> dict[str, float]:
        """The outputs named in :attr:`directions`, from the accumulated states."""

    def diagnostics(self) -> dict[str, int]:
        """Counts to record next to the outputs (samples, clips, capped frames)."""
        return {}

    def clip_ids(self) -> list[str] | None:
        """The clips the states hold (sorted) when :meth:`resample` can recompute the outputs on a multiset
        of them; None when it cannot (the default, and e.g. features given without clip ids), or
        NotImplementedError with the reason a user should read (e.g. too many feature rows kept)."""
        return None

    def resample(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        """Each output on ``B`` multisets of clips: ``counts`` is ``(B, len(clip_ids()))`` copies of each clip."""
        raise NotImplementedError(f"{self.name}: no clip bootstrap for this metric family")

    def add_state(self, key: str, default: np.ndarray, reduce: Reduce) -> None:
        """Declare a state; ``default`` is its empty value (for ``"cat"``: zero rows)."""
        self._reduce[key] = reduce
        self._default[key] = default
        self._state[key] = default.copy() if reduce == "sum" else []

    def _cast(self, key: str, value: np.ndarray | int | float) -> np.ndarray:
        dtype = self._default[key].dtype
        return np.asarray(value, dtype=str if dtype.kind == "U" else dtype)  # strings keep their width

    def _add(self, key: str, value: np.ndarray | int | float) -> None:
        value = self._cast(key, value)
        if self._reduce[key] == "sum":
            np.add(self._state[key], value, out=self._state[key])
        else:
            self._state[key].append(value)

    def _get(self, key: str) -> np.ndarray:
        state = self._state[key]
        if self._reduce[key] == "sum":
            return state
        if len(state) != 1:
            self._state[key] = [np.concatenate([self._default[key], *state])]
        return self._state[key][0]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Plain numpy arrays (and the config as 0-d arrays), loadable by ``np.load``."""
        states = {key: self._get(key).copy() for key in self._state}
        config = {CONFIG_PREFIX + key: np.asarray(value) for key, value in self.config.items()}
        return config | states

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Replace the states by ``state`` (as written by :meth:`state_dict`)."""
        expected = self.state_dict()
        if set(state) != set(expected):
            raise ValueError(f"{self.name}: state keys {sorted(state)} differ from {sorted(expected)}")
        for key, value in expected.items():
            loaded = np.asarray(state[key])
            if key.startswith(CONFIG_PREFIX):
                if loaded.item() != value.item():
                    raise ValueError(f"{self.name}: state has {key}={loaded.item()!r}, this metric {value.item()!r}")
                continue
            same = loaded.shape == value.shape if self._reduce[key] == "sum" else loaded.shape[1:] == value.shape[1:]
            if not same:
                raise ValueError(f"{self.name}: state '{key}' has shape {loaded.shape}, expected {value.shape}")
        for key in self._state:
            loaded = self._cast(key, state[key])
            self._state[key] = loaded.copy() if self._reduce[key] == "sum" else [loaded]

    def merge(self, other: Self) -> Self:
        """Add the data of ``other`` (a shard of the same metric) to this one; returns ``self``."""
        if type(other) is not type(self) or other.name != self.name or other.config != self.config:
            raise ValueError(f"cannot merge {other.name} {other.config} into {self.name} {self.config}")
        for key in self._state:
            self._add(key, other._get(key))
        return self

    def reset(self) -> None:
        """Forget all accumulated data."""
        for key, default in self._default.items():
            self._state[key] = default.copy() if self._reduce[key] == "sum" else []
