"""``--shard i/N``: a disjoint, stable share of the work for one of N machines or runs."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from mmgt.errors import UsageError


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``; an item belongs to the shard its key hashes to (CRC-32), so the
    shares are disjoint, cover everything, and do not move when other items come or go."""

    index: int = 0
    count: int = 1

    def __post_init__(self):
        if not 0 <= self.index < self.count:
            raise UsageError("--shard", f"need 0 <= i < N, got {self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """``"i/N"`` -> ``Shard(i, N)``."""
        try:
            index, count = (int(v) for v in text.split("/"))
        except ValueError:
            raise UsageError("--shard", f"must look like i/N (e.g. 0/4), got {text!r}") from None
        return cls(index, count)

    def holds(self, key: str) -> bool:
        return zlib.crc32(key.encode()) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
