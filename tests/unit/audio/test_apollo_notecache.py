"""The note cache: built-in notes rendered once, read back, and equal to live rendering.

A synth with the cache and one without render the same events; the cached one records
each note's source the first time and reads it back later (at native pitch, with the
envelope, gain and pan applied as usual), goes live on a pitch bend or past what was
recorded, and extends entries. Samples are stored at 16 bits (``K.CACHE_Q``), so the two
renders agree to that rounding (``ATOL``), not bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from _apollo_helpers import render_events

from mos_lab.audio import Synth
from mos_lab.audio import kernels as K
from mos_lab.audio.instruments.builtin import VELOCITY_LAYERS, BuiltinBank, timbre_velocity
from mos_lab.audio.notecache import CHUNK_BYTES, NoteCache
from mos_lab.audio.voices import VoiceAllocator

SR = 48000
BLOCK = 512
# A cached sample is off by at most half a step of the arena; a voice scales that by its
# envelope, gain, level and pan (together well under 1 here), and the few voices sounding
# at once add up: twice one step's half is the bound the renders below must keep.
ATOL = 2 * 0.5 * K.CACHE_DQ
# piano, chromatic FM, organ, guitar, strings (vibrato), brass FM, reed (vibrato + noise),
# pipe (noise), synth lead, pad, sound effects (noise)
PROGRAMS = (0, 11, 16, 24, 40, 56, 65, 73, 81, 89, 121)


def _events() -> list[tuple[int, str, int, int, int]]:
    """Each note twice or more: short first, then held longer (readers must extend),
    overlapping repeats (readers while the recorder records), a bend mid-note on one
    channel, a release-all, drums, stealing (tight voice limit)."""
    ev: list[tuple[int, str, int, int, int]] = []
    chans = [c for c in range(16) if c != 9][:len(PROGRAMS)]
    for ch, prog in zip(chans, PROGRAMS, strict=True):
        ev.append((0, "program", ch, prog, 0))
    for rep, (start, hold) in enumerate(((0, 3000), (9000, 20000), (14000, 6000),
                                         (40000, 30000))):
        for i, ch in enumerate(chans):
            at = start + 97 * i + 13 * rep
            key = 48 + (i * 5) % 24
            ev.append((at, "note_on", ch, key, 100 - 3 * rep))
            ev.append((at + hold, "note_off", ch, key, 0))
        ev.append((start + 5, "note_on", 9, 38, 110))
    ev.append((25000, "pitch_bend", chans[4], 3000, 0))
    ev.append((31000, "pitch_bend", chans[4], 0, 0))
    ev.append((60000, "control", chans[2], 123, 0))
    return sorted(ev, key=lambda e: e[0])


def _render(synth: Synth, events: list, frames: int) -> np.ndarray:
    return render_events(events, frames, SR, synth, block=BLOCK)


@pytest.mark.parametrize("threads", [1, 2])
def test_cached_render_matches_live_render(threads: int) -> None:
    events = _events()
    frames = 176 * BLOCK
    live = _render(Synth(SR, 24, max_block=BLOCK, note_cache_bytes=0), events, frames)
    synth = Synth(SR, 24, max_block=BLOCK, render_threads=threads)
    cached = _render(synth, events, frames)
    nc = synth.voices.notes
    assert nc is not None and len(nc) >= len(PROGRAMS)
    assert synth.voices.stolen_count > 0
    assert np.abs(live).max() > 0.05
    np.testing.assert_allclose(cached, live, rtol=0, atol=ATOL)


def test_later_notes_read_the_cache() -> None:
    """The second of two equal notes is a reader; the recorded length covers the first."""
    synth = Synth(SR, 16, max_block=BLOCK)
    out = np.zeros((BLOCK, 2), np.float32)
    synth.process(out, [(0, "program", 0, 48, 0), (0, "note_on", 0, 60, 100)])
    for _ in range(20):
        synth.process(out, [])
    synth.process(out, [(0, "note_off", 0, 60, 0), (100, "note_on", 0, 60, 101)])
    voices = synth.voices
    held = [v for v in voices.voices if v.held]
    assert len(held) == 1
    row = voices.I[held[0].slot]
    assert row[K.I_PMODE] in (K.PM_READ, K.PM_EXTEND)
    nc = voices.notes
    assert nc is not None and nc.E[row[K.I_ENT], 0] >= 21 * BLOCK


def test_pitch_bend_moves_a_cached_voice_to_live_rendering() -> None:
    synth = Synth(SR, 16, max_block=BLOCK)
    out = np.zeros((BLOCK, 2), np.float32)
    synth.process(out, [(0, "note_on", 0, 60, 100)])
    for _ in range(4):
        synth.process(out, [])
    synth.process(out, [(0, "note_on", 0, 60, 100)])  # retrigger: a reader
    v = next(v for v in synth.voices.voices if v.held)
    assert synth.voices.I[v.slot, K.I_PMODE] != K.PM_LIVE
    synth.process(out, [(200, "pitch_bend", 0, 4000, 0)])
    assert synth.voices.I[v.slot, K.I_PMODE] == K.PM_LIVE


def test_cache_stays_under_its_byte_limit_and_evicts() -> None:
    """A cache of 6 chunks: notes evict older unused ones; the render still matches."""
    events = _events()
    frames = 118 * BLOCK
    limit = 6 * CHUNK_BYTES
    live = _render(Synth(SR, 24, max_block=BLOCK, note_cache_bytes=0), events, frames)
    synth = Synth(SR, 24, max_block=BLOCK, note_cache_bytes=limit)
    out = np.zeros((frames, 2), np.float32)
    nc = synth.voices.notes
    assert nc is not None
    i = 0
    for pos in range(0, frames, BLOCK):
        blk = []
        while i < len(events) and events[i][0] < pos + BLOCK:
            blk.append((events[i][0] - pos, *events[i][1:]))
            i += 1
        synth.process(out[pos:pos + BLOCK], blk)
        assert nc.nbytes <= limit
    assert nc.evictions > 0
    np.testing.assert_allclose(out, live, rtol=0, atol=ATOL)


def test_entries_in_use_are_never_evicted() -> None:
    nc = NoteCache(3 * CHUNK_BYTES, SR)
    a = nc.create("a")
    b = nc.create("b")
    nc.users[a] += 1
    nc.recording[b] = 7
    c = nc.create("c")
    assert c >= 0 and nc.nbytes == 3 * CHUNK_BYTES
    nc.users[c] += 1
    assert nc.create("d") == -1, "every entry is in use or recording: nothing to evict"
    assert not nc.grow(a)
    nc.users[a] -= 1
    d = nc.create("d")  # now "a" (least recently used, unused) goes
    assert d >= 0 and nc.lookup("a") == -1 and nc.lookup("b") == b
    assert nc.evictions == 1 and nc.nbytes <= 3 * CHUNK_BYTES


def test_no_cache_when_disabled() -> None:
    assert VoiceAllocator(8, SR).notes is None
    assert Synth(note_cache_bytes=0).voices.notes is None


def test_lcg_jump_equals_stepping_the_noise_generator() -> None:
    seed = np.array([12345678901234567], np.uint64)
    for n in (0, 1, 2, 7, 64, 1000, 48001):
        state = seed.copy()
        K.noise_fill(state, np.zeros(n), 1.0)
        assert int(K.lcg_jump(seed[0], n)) == int(state[0])


def test_velocity_sets_level_exactly_and_timbre_by_layer() -> None:
    inst = BuiltinBank().instrument(0, False)
    soft, loud = inst.start(60, 70, SR)[0], inst.start(60, 110, SR)[0]
    assert timbre_velocity(70) == timbre_velocity(110)
    assert soft.cache_key == loud.cache_key
    assert loud.gain / soft.gain == pytest.approx((110 / 70) ** 2)
    quiet = inst.start(60, 20, SR)[0]
    assert VELOCITY_LAYERS > 1 and quiet.cache_key != soft.cache_key


def test_every_family_fits_the_16_bit_arena() -> None:
    """Sources are stored as round(x * CACHE_Q) in int16: none may reach the clamp
    (+-2 in source units), or cached notes would clip where live ones do not."""
    ev: list[tuple[int, str, int, int, int]] = []
    t = 0
    for prog in range(0, 128, 8):  # one program per family
        for pitch in (24, 60, 108):
            for vel in (30, 127):  # both timbre layers
                ev += [(t, "program", 0, prog, 0), (t, "note_on", 0, pitch, vel),
                       (t + 12000, "note_off", 0, pitch, 0)]
                t += 16000
    synth = Synth(SR, 16, max_block=BLOCK)
    _render(synth, ev, t + SR)
    nc = synth.voices.notes
    assert nc is not None and len(nc) >= 16 * 3
    peak = int(np.abs(nc.arena.astype(np.int32)).max())
    assert 0.25 * K.CACHE_Q < peak < 32767, f"peak {peak / K.CACHE_Q:.2f} in source units"
