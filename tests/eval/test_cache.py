"""The feature cache's promise: a corrupt entry reads as a miss (one warning), never as an error or wrong arrays."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from eval.cache import CorruptCacheEntryWarning, FeatureCache
from eval.config import EvalConfig
from eval.run import evaluate
from mmgt.data.layout import Split

KEY = "ab" * 32
ARRAYS = {"out": np.arange(12, dtype=np.float32).reshape(3, 4), "ids": np.array([3, 1, 2])}


def read(cache: FeatureCache) -> tuple[dict | None, list[warnings.WarningMessage]]:
    """``cache.get(KEY)`` and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        return cache.get(KEY), caught


def assert_miss_with_one_warning(cache: FeatureCache) -> None:
    hit, caught = read(cache)
    assert hit is None
    assert [w.category for w in caught] == [CorruptCacheEntryWarning]
    assert not cache._path(KEY).exists()  # removed: the next put rewrites it
    cache.put(KEY, ARRAYS)
    assert_same(read(cache)[0])


def assert_same(hit: dict | None) -> None:
    assert hit is not None and sorted(hit) == sorted(ARRAYS)
    for name, array in ARRAYS.items():
        assert hit[name].dtype == array.dtype
        np.testing.assert_array_equal(hit[name], array)


@pytest.fixture
def cache(tmp_path: Path) -> FeatureCache:
    cache = FeatureCache(tmp_path)
    cache.put(KEY, ARRAYS)
    hit, caught = read(cache)
    assert_same(hit)
    assert not caught
    return cache


@pytest.mark.parametrize("keep", [0, 1, 21, 0.5, -22, -1], ids=["empty", "1-byte", "21-bytes", "half", "no-eocd", "last-byte-cut"])
def test_a_truncated_or_empty_entry_is_a_miss_with_one_warning(cache: FeatureCache, keep):
    path = cache._path(KEY)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep) if isinstance(keep, float) else keep])
    assert_miss_with_one_warning(cache)


def test_any_flipped_byte_is_a_miss_with_one_warning_or_reads_the_same_arrays(cache: FeatureCache):
    """Every byte of an entry flipped in turn: a miss with one warning, or (timestamps, versions) the same arrays."""
    path = cache._path(KEY)
    raw = path.read_bytes()
    misses = 0
    for i in range(len(raw)):
        path.write_bytes(raw[:i] + bytes([raw[i] ^ 0x10]) + raw[i + 1 :])
        hit, caught = read(cache)
        if hit is None:
            assert [w.category for w in caught] == [CorruptCacheEntryWarning] and not path.exists()
            misses += 1
        else:
            assert not caught
            assert_same(hit)
    assert misses > len(raw) // 2  # the array bytes are CRC-checked, the directory is checked by the name list


def test_an_entry_that_lost_a_member_is_a_miss(cache: FeatureCache):
    """A directory damaged so that it hides a member (a comment length swallowing the next entry) is caught."""
    path = cache._path(KEY)
    raw = bytearray(path.read_bytes())
    directory = raw.index(b"PK\x01\x02")  # the first central-directory entry: its comment length at offset 32
    raw[directory + 33] ^= 0x10
    path.write_bytes(bytes(raw))
    assert_miss_with_one_warning(cache)


def test_an_evaluation_over_a_damaged_cache_recomputes_the_damaged_entries(tiny_split: Path, tmp_path: Path):
    """Truncated, bit-flipped and empty entries in an earlier run's cache: the rerun completes with the same numbers."""
    pred = tmp_path / "pred"
    for clip in Split(tiny_split).clips("test"):
        shutil.copytree(clip.dir, pred / clip.clip_id)
    config = EvalConfig(pred=pred, gt=tiny_split, metrics=("psnr",), regions=("full",),
                        cache_dir=tmp_path / "cache", progress=False)
    first, _, _ = evaluate(config)
    entries = sorted((tmp_path / "cache").rglob("*.npz"))
    assert len(entries) >= 2
    entries[0].write_bytes(entries[0].read_bytes()[:40])
    raw = bytearray(entries[1].read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    entries[1].write_bytes(bytes(raw))
    for entry in entries[2:]:
        entry.write_bytes(b"")
    with pytest.warns(CorruptCacheEntryWarning):
        again, _, _ = evaluate(config)
    assert again["complete"] and again["metrics"] == first["metrics"]
