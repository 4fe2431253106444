"""An idle engine gives the C heap's free pages back (glibc malloc_trim)."""

from __future__ import annotations

import ctypes.util

import numpy as np
import pytest

from mos_lab.audio.memory import release_free_memory


def _rss_anon_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon line in /proc/self/status")


@pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="no C library found")
def test_freed_heap_in_the_middle_goes_back() -> None:
    """80 MB of 100 KB arrays freed below one kept at the top stay resident until released."""
    arrays = [np.ones(100_000 // 8) for _ in range(800)]  # below the mmap threshold: heap
    kept = arrays[-1]
    del arrays[:]
    before = _rss_anon_mb()
    assert release_free_memory()
    after = _rss_anon_mb()
    assert kept.sum() == kept.size  # what is still in use is untouched
    assert before - after > 40, f"released {before - after:.1f} MB of ~80 MB freed"
