"""Failure-catalogue seeds for Apollo: APO-01..07, APO-09, APO-10 and ENG-09."""

from __future__ import annotations

import math
import os
import threading
import time

import numpy as np
import pytest
from _apollo_helpers import GatedLoader, SineBank, run_blocks
from hypothesis import given
from hypothesis import strategies as st

import mos_lab.audio.singleton as singleton
from mos_lab.audio import Synth
from mos_lab.audio.cache import DiskCache, MemoryCache, SampleCache
from mos_lab.audio.events import validate_velocity
from mos_lab.audio.instruments.builtin import BuiltinBank
from mos_lab.audio.singleton import get_synth, reset_synth


def _collect() -> tuple[list[tuple[str, dict]], object]:
    seen: list[tuple[str, dict]] = []
    return seen, lambda topic, payload: seen.append((topic, dict(payload)))


@pytest.mark.seed("APO-01")
def test_notes_during_load_are_queued_and_sound_when_ready() -> None:
    new = SineBank("new")
    loader = GatedLoader(new)
    seen, emit = _collect()
    synth = Synth()
    fut = synth.load_bank(loader, pending="queue", emit=emit)
    synth.note_on(0, 60, 100)
    quiet = run_blocks(synth, 4, {1: [(10, "note_on", 0, 64, 100)], 3: [(0, "note_off", 0, 60)]})
    assert not quiet.any() and synth.loading
    assert [t for t, _ in seen][:2] == ["audio.load.progress"] * 2
    loader.gate.set()
    assert fut.result(5) is new
    loud = run_blocks(synth, 6)
    assert np.abs(loud).max() > 0.05
    assert synth.bank is new and new.log == [(60, 100), (64, 100)]
    assert not synth.loading
    assert any(t == "audio.load.ready" for t, _ in seen)
    fractions = [p["fraction"] for t, p in seen if t == "audio.load.progress"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@pytest.mark.seed("APO-02")
def test_thousand_chord_clicks_with_errors_leave_no_stuck_voice() -> None:
    rng = np.random.default_rng(2)
    synth = Synth(max_voices=48, max_note_s=0.5)
    out = np.zeros((256, 2), np.float32)
    errors = 0
    for i in range(1200):
        root = int(rng.integers(36, 84))
        chord = [root, root + 4, root + 7]
        try:
            for p in chord:
                synth.note_on(i % 3, p, 100)
            if i % 5 == 0:
                synth.note_on(0, root, float("nan"))  # the "error" mid-click
            if i % 7 == 0:
                synth.process(out, [(0, "note_off", 0, 200)])  # invalid pitch
        except ValueError:
            errors += 1
            synth.process(out)
            continue  # the note-offs of this click are lost
        synth.process(out)
        if i % 3 == 0:
            for p in chord:
                synth.note_off(i % 3, p)
        assert synth.active_voices <= 48
    assert errors > 200
    run_blocks(synth, int(4.5 * 48000 / 512))  # max_note_s + longest release
    assert synth.sounding_voices == 0
    assert synth.voices.reclaimed_count > 0


def _release_scene(program: int, how: str) -> np.ndarray:
    synth = Synth(instrument_bank=BuiltinBank())
    on = [(0, "program", 0, program)] + [(0, "note_on", 0, p, 100) for p in (60, 64, 67)]
    events = {0: on}
    if how == "note_off":
        events[5] = [(0, "note_off", 0, p) for p in (60, 64, 67)]
    elif how == "cc123":
        events[5] = [(0, "control", 0, 123, 0)]
    out = np.zeros((60 * 512, 2), np.float32)
    for i in range(60):
        if i == 5 and how == "release_all":
            synth.all_notes_off(immediate=False)
        synth.process(out[i * 512:(i + 1) * 512], events.get(i, []))
    return out


@pytest.mark.seed("APO-03")
@pytest.mark.parametrize("program", [0, 19, 48, 88])
def test_release_all_is_sample_identical_to_note_off(program: int) -> None:
    ref = _release_scene(program, "note_off")
    assert np.abs(ref[5 * 512:]).max() > 0  # the release tail really exists
    np.testing.assert_array_equal(_release_scene(program, "release_all"), ref)
    np.testing.assert_array_equal(_release_scene(program, "cc123"), ref)


@pytest.mark.seed("APO-04")
def test_concurrent_init_creates_one_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Synth] = []

    class Counting(Synth):
        def __init__(self, **kw: object) -> None:
            time.sleep(0.05)  # widen the race window
            super().__init__(**kw)  # type: ignore[arg-type]
            made.append(self)

    reset_synth()
    monkeypatch.setattr(singleton, "Synth", Counting)
    barrier = threading.Barrier(8)
    got: list[Synth] = []

    def call() -> None:
        barrier.wait()
        got.append(get_synth(max_voices=16))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(made) == 1 and len({id(e) for e in got}) == 1 and len(got) == 8
        assert get_synth() is got[0]
    finally:
        reset_synth()


@pytest.mark.seed("APO-05")
def test_slow_load_times_out_and_falls_back() -> None:
    loader = GatedLoader(SineBank("slow"))
    seen, emit = _collect()
    synth = Synth()
    fallback = synth.bank
    t0 = time.monotonic()
    fut = synth.load_bank(loader, timeout=0.3, pending="queue", emit=emit)
    synth.note_on(0, 60, 100)
    with pytest.raises(TimeoutError):
        fut.result(5)
    assert time.monotonic() - t0 < 2.0
    x = run_blocks(synth, 4)
    assert synth.bank is fallback and isinstance(synth.last_load_error, TimeoutError)
    assert np.abs(x).max() > 0.01, "the held note plays with the fallback instrument"
    assert any(t == "audio.load.timeout" for t, _ in seen)
    loader.gate.set()  # let the abandoned worker finish


@pytest.mark.seed("APO-05")
def test_failed_load_reports_and_keeps_fallback(tmp_path: os.PathLike) -> None:
    seen, emit = _collect()
    synth = Synth()
    bad = os.path.join(tmp_path, "broken.sf2")
    with open(bad, "wb") as f:
        f.write(b"RIFF\x04\x00\x00\x00junk")
    fut = synth.load_bank(bad, emit=emit)
    with pytest.raises(ValueError, match="SoundFont"):
        fut.result(5)
    run_blocks(synth, 1)
    assert isinstance(synth.bank, BuiltinBank)
    assert any(t == "audio.load.failed" for t, _ in seen)
    with pytest.raises(FileNotFoundError):
        synth.load_bank(os.path.join(tmp_path, "missing.sf2")).result(5)


@pytest.mark.seed("APO-06")
def test_switch_is_queued_and_old_instrument_plays_meanwhile() -> None:
    old, new = SineBank("old"), SineBank("new")
    synth = Synth(instrument_bank=old)
    loader = GatedLoader(new)
    fut = synth.load_bank(loader, pending="old")
    run_blocks(synth, 3, {0: [(0, "note_on", 0, 60, 100)], 2: [(0, "note_on", 0, 62, 100)]})
    assert old.log == [(60, 100), (62, 100)] and new.log == []
    loader.gate.set()
    fut.result(5)
    assert synth.bank is old, "the switch waits for the next block"
    run_blocks(synth, 2, {0: [(3, "note_on", 0, 64, 100)]})
    assert synth.bank is new and new.log == [(64, 100)]
    assert synth.active_voices == 3, "notes started before the switch keep sounding"


@pytest.mark.seed("APO-07")
def test_velocity_validation() -> None:
    assert validate_velocity(200) == 127 and validate_velocity(-5) == 0
    assert validate_velocity(64) == 64 and validate_velocity(np.int16(90)) == 90
    assert validate_velocity(0.5) == 64 and validate_velocity(1.0) == 127
    assert validate_velocity(0.0) == 0 and validate_velocity(100.0) == 100
    for bad in (float("nan"), float("inf"), "loud", None, True):
        with pytest.raises(ValueError):
            validate_velocity(bad)
    synth = Synth()
    with pytest.raises(ValueError, match="finite"):
        synth.note_on(0, 60, float("nan"))
    synth.note_on(0, 60, 500)
    run_blocks(synth, 1)
    assert synth.voices.voices[0].velocity == 127


@pytest.mark.seed("APO-07")
@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers())
def test_velocity_always_in_range_or_rejected(v: float) -> None:
    if isinstance(v, float) and not math.isfinite(v):
        with pytest.raises(ValueError):
            validate_velocity(v)
    else:
        assert 0 <= validate_velocity(v) <= 127


@pytest.mark.seed("APO-09")
@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
def test_corrupt_cache_entry_is_detected_and_rebuilt(tmp_path: os.PathLike, damage: str) -> None:
    builds: list[int] = []

    def build() -> np.ndarray:
        builds.append(1)
        return np.arange(1000, dtype=np.float32)

    cache = SampleCache(directory=tmp_path, disk_bytes=1 << 20)
    cache.get_or_build("piano", build)
    path = os.path.join(tmp_path, DiskCache.filename("piano"))
    with open(path, "rb") as f:
        blob = bytearray(f.read())
    if damage == "flip":
        blob[-10] ^= 0xFF
    elif damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "garbage":
        blob = bytearray(os.urandom(len(blob)))
    else:
        blob = bytearray()
    with open(path, "wb") as f:
        f.write(bytes(blob))
    seen, emit = _collect()
    fresh = SampleCache(directory=tmp_path, disk_bytes=1 << 20, emit=emit)  # cold memory
    arr = fresh.get_or_build("piano", build)
    np.testing.assert_array_equal(arr, np.arange(1000, dtype=np.float32))
    assert len(builds) == 2 and fresh.rebuilt == 1 and seen[0][0] == "audio.cache.corrupt"
    again = SampleCache(directory=tmp_path, disk_bytes=1 << 20).get_or_build("piano", build)
    assert len(builds) == 2, "the rebuilt entry is valid on disk"
    np.testing.assert_array_equal(again, arr)


@pytest.mark.seed("APO-10")
def test_hundred_simultaneous_notes_stay_under_the_limit() -> None:
    synth = Synth(max_voices=32)
    out = np.zeros((512, 2), np.float32)
    for block in range(40):
        events = [(i * 3 % 512, "note_on", i % 9, 30 + i % 70, 120) for i in range(128)] \
            if block % 10 == 0 else []
        synth.process(out, events)
        assert synth.active_voices <= 32
        assert synth.sounding_voices <= 64
        assert np.isfinite(out).all() and np.abs(out).max() <= 1.0
    assert synth.voices.stolen_count >= 96


@pytest.mark.seed("APO-10")
def test_note_stealing_fades_without_a_click() -> None:
    synth = Synth(max_voices=1, instrument_bank=SineBank())
    # 110 Hz sine: a natural step is <= 2*pi*110/48000*0.39 ~ 0.006 per sample.
    x = run_blocks(synth, 12, {0: [(0, "note_on", 0, 45, 127)], 10: [(100, "note_on", 0, 81, 127)]})
    at = 10 * 512 + 100
    assert abs(x[at - 1, 0]) > 0.2, "a hard cut here would jump by > 0.2"
    steps = np.abs(np.diff(x[:, 0]))
    assert steps[at - 5: at + 300].max() < 0.05
    assert synth.voices.stolen_count == 1


@pytest.mark.seed("ENG-09")
def test_thousand_entries_stay_under_the_cache_limits(tmp_path: os.PathLike) -> None:
    mem = MemoryCache(max_bytes=1 << 20)
    disk_limit = 2 << 20
    cache = SampleCache(memory_bytes=1 << 20, directory=tmp_path, disk_bytes=disk_limit)
    rng = np.random.default_rng(9)
    for i in range(1200):
        arr = rng.standard_normal(int(rng.integers(500, 4000))).astype(np.float32)
        mem.put(f"k{i}", arr)
        cache.get_or_build(f"score-{i}", lambda a=arr: a)
        assert mem.nbytes <= 1 << 20 and cache.memory.nbytes <= 1 << 20
    on_disk = sum(e.stat().st_size for e in os.scandir(tmp_path) if e.name.endswith(".apc"))
    assert on_disk <= disk_limit and cache.disk is not None and cache.disk.nbytes == on_disk
    assert mem.evictions > 0 and cache.disk.evictions > 0
    assert mem.get("k1199") is not None and mem.get("k0") is None
    reopened = DiskCache(tmp_path, disk_limit)
    assert reopened.nbytes == on_disk and len(reopened) == len(cache.disk)
