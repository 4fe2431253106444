"""Cached samples are read as memory maps: no private copy, no read peak, still checked."""

from __future__ import annotations

import numpy as np
import pytest
from _apollo_helpers import proc_mb

from mos_lab.audio.cache import DiskCache, SampleCache


def test_a_large_entry_is_mapped_not_copied(tmp_path):
    samples = np.random.default_rng(1).standard_normal(32 << 20 >> 2).astype(np.float32)
    cache = DiskCache(tmp_path, 1 << 30)
    cache.put("bank", samples)
    # anonymous memory is what a copy would add (the mapped file's pages, dirty in the page
    # cache just after the write, are not private memory)
    before = proc_mb("Anonymous", "/proc/self/smaps_rollup")
    got = cache.get("bank")
    grown = proc_mb("Anonymous", "/proc/self/smaps_rollup") - before
    assert got is not None and np.array_equal(got, samples)
    assert grown < 8, f"reading a 32 MB entry made {grown:.1f} MB of private memory"
    got[0] = 1.0  # writeable, copy on write: the file keeps its data
    again = cache.get("bank")
    assert again is not None and again[0] == samples[0]


@pytest.mark.seed("APO-09")
def test_a_mapped_entry_is_still_checked(tmp_path):
    cache = SampleCache(memory_bytes=0, directory=tmp_path)
    data = np.arange(1000, dtype=np.float32)
    assert np.array_equal(cache.get_or_build("k", lambda: data), data)
    path = tmp_path / DiskCache.filename("k")
    blob = bytearray(path.read_bytes())
    blob[-3] ^= 0xFF  # one flipped byte in the payload
    path.write_bytes(bytes(blob))
    rebuilt = cache.get_or_build("k", lambda: data + 1)
    assert np.array_equal(rebuilt, data + 1) and cache.rebuilt == 1
    path.write_bytes(path.read_bytes()[:40])  # cut short
    assert np.array_equal(cache.get_or_build("k", lambda: data), data) and cache.rebuilt == 2


def test_checking_an_entry_does_not_map_in_its_pages(tmp_path):
    """The checksum reads the file, not the map: a 32 MB entry costs no RSS until read."""
    samples = np.random.default_rng(2).standard_normal(32 << 20 >> 2).astype(np.float32)
    cache = DiskCache(tmp_path, 1 << 30)
    cache.put("bank", samples)
    before = proc_mb("RssFile")
    got = cache.get("bank")
    grown = proc_mb("RssFile") - before
    assert got is not None and cache.corrupt == 0
    assert grown < 4, f"checking a 32 MB entry mapped in {grown:.1f} MB"
    assert float(got[1000:2000].sum()) == float(samples[1000:2000].sum())  # reads work


def test_released_pages_leave_and_come_back_with_the_same_data(tmp_path):
    """An idle engine drops the sample pages it read; reading again gives the same data."""
    from mos_lab.audio.cache import release_mapped

    samples = np.random.default_rng(3).standard_normal(32 << 20 >> 2).astype(np.float32)
    cache = SampleCache(memory_bytes=1 << 30, directory=tmp_path)
    cache.get_or_build("bank", lambda: samples)
    got = cache.get_or_build("bank", lambda: samples * 0)  # a hit: the map
    assert not got.flags.writeable
    total = float(got.sum(dtype=np.float64))  # every page read: resident
    before = proc_mb("RssFile")
    assert release_mapped(got)
    dropped = before - proc_mb("RssFile")
    assert dropped > 24, f"released {dropped:.1f} of 32 MB"
    assert float(got.sum(dtype=np.float64)) == total and np.array_equal(got, samples)
    assert not release_mapped(samples)  # not a map: nothing to release
