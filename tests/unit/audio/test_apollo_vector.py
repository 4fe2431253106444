"""Batched voice rendering: same samples as the one-voice reference path.

The synth renders all voices of a source kind together (``instruments/batch.py``);
these tests render the same notes both ways, through segments of odd lengths with
pitch bend, pan, releases, stealing fades and loops, and compare.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from _apollo_helpers import SR, SineInstrument

from mos_lab.audio import BuiltinBank, SoundFontBank
from mos_lab.audio.channels import ChannelState
from mos_lab.audio.instruments.batch import _table_index
from mos_lab.audio.instruments.sources import lookup
from mos_lab.audio.limiter import Limiter
from mos_lab.audio.voices import VoiceAllocator

SF2 = "/usr/share/sounds/sf2/TimGM6mb.sf2"
SEGMENTS = (512, 1, 137, 1024, 300, 7, 512, 999, 64, 2048, 333, 1024)


def _start_all(alloc: VoiceAllocator, bank: object, notes: list[tuple[int, int, int]]) -> None:
    for ch, prog, pitch in notes:
        inst = bank.instrument(prog, ch == 9)  # type: ignore[attr-defined]
        alloc.start(inst.start(pitch, 100, SR), ch, pitch, 100)


def _both_ways(bank: object, notes: list[tuple[int, int, int]]) -> tuple[np.ndarray, ...]:
    """Render ``notes`` batched and voice by voice; returns (batched, reference)."""
    chans = [ChannelState() for _ in range(16)]
    chans[1].pitch_bend = 3000
    chans[2].controls[10] = 20  # pan left
    chans[3].controls[7] = 60
    batched, reference = VoiceAllocator(64, SR), VoiceAllocator(64, SR)
    for a in (batched, reference):
        _start_all(a, bank, notes)
    total = sum(SEGMENTS)
    mixes = np.zeros((2, total, 2))
    pos = 0
    for k, n in enumerate(SEGMENTS):
        for a, mix in ((batched, mixes[0]), (reference, mixes[1])):
            if k == 4:
                a.note_off(0, notes[0][2], sustain=False)
                a.release_all(1)
            if k == 6:
                a._to_tail(a.voices[-1])  # a stolen voice's fade
            if a is batched:
                a.render(mix, pos, pos + n, chans)
            else:
                for v in a:
                    ch = chans[v.channel]
                    left, right = ch.pan_gains(v.pan)
                    v.render_into(mix, pos, pos + n, ch.bend_ratio, left * ch.level,
                                  right * ch.level)
            a.reap()
        pos += n
    assert batched.sounding == reference.sounding
    return mixes[0], mixes[1]


def _assert_same(got: tuple[np.ndarray, ...]) -> None:
    a, b = got
    assert np.abs(b[-1000:]).max() > 1e-3, "the notes must still sound at the end"
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("programs", [range(0, 128, 8), (0, 19, 48, 81, 89, 88, 73)])
def test_builtin_batched_matches_voice_by_voice(programs: range | tuple[int, ...]) -> None:
    notes = [(i % 4, p, 40 + (i * 7) % 40) for i, p in enumerate(programs)]
    notes += [(9, 0, key) for key in (36, 38, 42, 46, 49, 51, 99)]
    notes += [(1, p, 70) for p in programs[:3]]
    _assert_same(_both_ways(BuiltinBank(), notes))


@pytest.mark.skipif(not os.path.exists(SF2), reason="TimGM6mb.sf2 not installed")
def test_soundfont_batched_matches_voice_by_voice() -> None:
    bank = SoundFontBank.load(SF2)
    notes = [(i % 4, p, 45 + (i * 5) % 40) for i, p in enumerate((0, 19, 40, 48, 56, 73, 81))]
    notes += [(9, 0, key) for key in (36, 38, 42, 46)]
    _assert_same(_both_ways(bank, notes))


def test_custom_sources_render_on_their_own() -> None:
    class Bank:
        def instrument(self, program: int, drums: bool) -> SineInstrument:
            return SineInstrument()

    notes = [(0, 0, 60), (1, 0, 64), (2, 0, 67), (3, 0, 72), (9, 0, 36)]
    _assert_same(_both_ways(Bank(), notes))


def test_table_index_mask_matches_remainder() -> None:
    rng = np.random.default_rng(3)
    table = rng.standard_normal(2049)
    ph = np.concatenate([rng.random(4000) * 300, [0.0, 1.0, 2.0 - 1e-16, 1e-300]])
    want = lookup(table, ph.copy())
    for nonneg in (True, False):
        frac = ph.copy()
        idx = _table_index(frac, 2048, nonneg)
        got = table[idx] + (table[idx + 1] - table[idx]) * frac
        np.testing.assert_array_equal(got, want)


def test_drum_kit_samples_share_one_buffer() -> None:
    kit = BuiltinBank().instrument(0, True)
    a = kit.start(36, 100, SR)[0].source
    b = kit.start(38, 100, SR)[0].source
    c = kit.start(36, 100, SR)[0].source
    assert b.data is c.data  # both from the newest buffer
    assert (a.pos, a.end) == (c.pos, c.end)
    np.testing.assert_array_equal(kit.sample(36, SR), c.data[int(c.pos):c.end])


def _reference_limiter(lim: Limiter, mix: np.ndarray, out: np.ndarray) -> None:
    """The limiter as first written (every step on every block)."""
    n = mix.shape[0]
    if not np.isfinite(mix).all():
        np.nan_to_num(mix, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.abs(mix).max())
    target = 1.0 if peak <= lim.threshold else lim.threshold / peak
    if target < lim.gain:
        new = target
    else:
        rel = 1.0 - math.exp(-n / (lim.release_s * lim.sample_rate))
        new = min(target, lim.gain + (1.0 - lim.gain) * rel)
    if new != 1.0 or lim.gain != 1.0:
        g = np.full(n, new)
        ramp = min(n, 64)
        g[:ramp] = np.linspace(lim.gain, new, ramp, endpoint=False) if ramp > 1 else new
        mix *= g[:, None]
    lim.gain = new
    k = lim.knee
    if float(np.abs(mix).max()) > k:
        a = np.abs(mix)
        soft = k + (1.0 - k) * np.tanh((a - k) / (1.0 - k))
        np.copyto(mix, np.sign(mix) * soft, where=a > k)
    out[:n] = mix
    np.clip(out[:n], -1.0, 1.0, out=out[:n])


def test_limiter_matches_reference() -> None:
    rng = np.random.default_rng(7)
    fast, ref = Limiter(SR), Limiter(SR)
    for i in range(300):
        n = int(rng.integers(1, 1500))
        level = (0.05, 0.5, 0.85, 1.5, 4.0)[i % 5] if i < 200 else 0.1
        mix = rng.standard_normal((n, 2)) * level / 3
        if i % 37 == 0:
            mix[::5] = np.nan
            mix[1, 1] = np.inf
        a, b = np.zeros((n, 2), np.float32), np.zeros((n, 2), np.float32)
        fast.process(mix.copy(), a)
        _reference_limiter(ref, mix.copy(), b)
        np.testing.assert_array_equal(a, b)
        assert fast.gain == ref.gain
