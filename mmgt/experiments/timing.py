"""Where the time goes: wrap functions or methods so that every call adds its wall time to a bucket."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from typing import Iterator


_MISSING = object()


class Stopwatch:
    """Seconds and calls per bucket; nested buckets each count their own full time."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextmanager
    def wrap(self, owner: object, attr: str, bucket: str) -> Iterator[None]:
        """Time every call of ``owner.attr`` (a module function or a class's method) into ``bucket``."""
        original = getattr(owner, attr)
        own = vars(owner).get(attr, _MISSING)  # restore exactly what was there (a classmethod stays one)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[bucket] += time.perf_counter() - start
                self.calls[bucket] += 1

        setattr(owner, attr, timed)
        try:
            yield
        finally:
            if own is _MISSING:
                delattr(owner, attr)
            else:
                setattr(owner, attr, own)

    @contextmanager
    def wrapping(self, targets: list[tuple[object, str, str]]) -> Iterator[None]:
        with ExitStack() as stack:
            for owner, attr, bucket in targets:
                stack.enter_context(self.wrap(owner, attr, bucket))
            yield

    def report(self) -> dict[str, dict]:
        return {k: {"seconds": round(v, 3), "calls": self.calls[k]} for k, v in self.seconds.items()}
