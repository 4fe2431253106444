"""The kernel renders the same samples as the one-voice numpy references.

The synth renders every voice in one numba call per block (``kernels.render_block``);
these tests render the same notes through the kernel and voice by voice through each
source's numpy ``render`` and ``Envelope.render``, through segments of odd lengths with
pitch bend, pan, volume, releases, stealing fades, loops and custom sources, and compare.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np
import pytest
from _apollo_helpers import SR, SineInstrument

from mos_lab.audio import SoundFontBank, Synth
from mos_lab.audio import kernels as K
from mos_lab.audio.channels import ChannelState
from mos_lab.audio.instruments.builtin import BuiltinBank
from mos_lab.audio.instruments.sources import clone_source, lookup
from mos_lab.audio.limiter import Limiter
from mos_lab.audio.voices import VoiceAllocator

SF2 = "/usr/share/sounds/sf2/TimGM6mb.sf2"
SEGMENTS = (512, 1, 137, 1024, 300, 7, 512, 999, 64, 2048, 333, 1024)


def _start_all(alloc: VoiceAllocator, bank: object, notes: list[tuple[int, int, int]],
               own: bool = False) -> None:
    """Start ``notes``; ``own`` gives each voice its own copy of a shared source (the
    reference renders sources in place, as the synth does only with such a copy)."""
    for ch, prog, pitch in notes:
        inst = bank.instrument(prog, ch == 9)  # type: ignore[attr-defined]
        specs = inst.start(pitch, 100, SR)
        if own:
            specs = [replace(s, source=clone_source(s.source)) for s in specs]
        alloc.start(specs, ch, pitch, 100)


def _both_ways(bank: object, notes: list[tuple[int, int, int]]) -> tuple[np.ndarray, ...]:
    """Render ``notes`` by the kernel and voice by voice; returns (kernel, reference)."""
    chans = [ChannelState() for _ in range(16)]
    chans[1].pitch_bend = 3000
    chans[2].controls[10] = 20  # pan left
    chans[3].controls[7] = 60
    kern, ref = VoiceAllocator(64, SR), VoiceAllocator(64, SR)
    for ch, st in enumerate(chans):
        kern.set_channel(ch, st.level, st.pan, st.bend_ratio)
    for a in (kern, ref):
        _start_all(a, bank, notes, own=a is ref)
    total = sum(SEGMENTS)
    mixes = np.zeros((2, total, 2))
    pos = 0
    for k, n in enumerate(SEGMENTS):
        for a, mix in ((kern, mixes[0]), (ref, mixes[1])):
            if k == 4:
                a.note_off(0, notes[0][2], sustain=False)
                a.release_all(1)
            if k == 6:
                a._to_tail(a.voices[-1])  # a stolen voice's fade
            if a is kern:
                seg = np.zeros((2, n))
                a.render(seg, n)
                mix[pos:pos + n] = seg.T
                continue
            for v in list(a):
                if v.env.finished or v.source.finished:
                    continue
                ch = chans[v.channel]
                left, right = ch.pan_gains(v.pan)
                sig = v.source.render(n, ch.bend_ratio) * v.env.render(n) * ch.level * v.gain
                mix[pos:pos + n] += np.multiply.outer(sig, (left, right))
            a.clock += n
            a._nev = 0
            for lst in (a.voices, a.tails):
                lst[:] = [v for v in lst if not (v.env.finished or v.source.finished)]
        pos += n
    assert kern.sounding == ref.sounding
    return mixes[0], mixes[1]


def _assert_same(got: tuple[np.ndarray, ...]) -> None:
    a, b = got
    assert np.abs(b[-1000:]).max() > 1e-3, "the notes must still sound at the end"
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


@pytest.mark.parametrize("programs", [range(0, 128, 8), (0, 19, 48, 81, 89, 88, 73)])
def test_builtin_kernel_matches_voice_by_voice(programs: range | tuple[int, ...]) -> None:
    notes = [(i % 4, p, 40 + (i * 7) % 40) for i, p in enumerate(programs)]
    notes += [(9, 0, key) for key in (36, 38, 42, 46, 49, 51, 99)]
    notes += [(1, p, 70) for p in programs[:3]]
    _assert_same(_both_ways(BuiltinBank(), notes))


@pytest.mark.skipif(not os.path.exists(SF2), reason="TimGM6mb.sf2 not installed")
def test_soundfont_kernel_is_block_size_independent() -> None:
    """SoundFont voices (``kernels._sf2``, no numpy reference: FluidSynth is their oracle,
    ``test_sf2_*``) render the same through odd segments as in one block."""
    bank = SoundFontBank.load(SF2)
    notes = [(i % 4, p, 45 + (i * 5) % 40) for i, p in enumerate((0, 19, 40, 48, 56, 73, 81))]
    notes += [(9, 0, key) for key in (36, 38, 42, 46)]
    outs = []
    for segments in (SEGMENTS, (sum(SEGMENTS),)):
        chans = [ChannelState() for _ in range(16)]
        chans[1].pitch_bend = 3000
        chans[2].controls[10] = 20
        alloc = VoiceAllocator(64, SR)
        for ch, st in enumerate(chans):
            alloc.set_channel(ch, st.level, (st.controls[10] - 64) / 63.0, st.bend_ratio)
        _start_all(alloc, bank, notes)
        mix = np.zeros((2, sum(SEGMENTS)))
        pos = 0
        for n in segments:
            seg = np.zeros((2, n))
            alloc.render(seg, n)
            mix[:, pos:pos + n] = seg
            pos += n
        outs.append(mix)
    assert np.abs(outs[0][:, -1000:]).max() > 1e-3
    np.testing.assert_allclose(outs[0], outs[1], rtol=0, atol=1e-9)


def test_custom_sources_render_on_their_own() -> None:
    class Bank:
        def instrument(self, program: int, drums: bool) -> SineInstrument:
            return SineInstrument()

    notes = [(0, 0, 60), (1, 0, 64), (2, 0, 67), (3, 0, 72), (9, 0, 36)]
    _assert_same(_both_ways(Bank(), notes))


def test_kernel_sine_table_is_accurate() -> None:
    cyc = np.random.default_rng(3).random(10000) * 12 - 6
    out = np.empty_like(cyc)
    K.sine_cycles(cyc, out)
    assert np.abs(out - np.sin(2 * np.pi * cyc)).max() < 1e-6


def test_events_land_on_their_frame_inside_a_block() -> None:
    """A note-off, volume change and pitch bend mid-block act at exactly that frame."""
    def run(events: list) -> np.ndarray:
        synth = Synth(instrument_bank=BuiltinBank())
        out = np.zeros((4 * 512, 2), np.float32)
        for i in range(4):
            synth.process(out[i * 512:(i + 1) * 512],
                          [(e[0] % 512, *e[1:]) for e in events if e[0] // 512 == i])
        return out

    base = [(0, "program", 0, 19), (0, "note_on", 0, 60, 100)]
    ref = run(base)
    for extra in ([(700, "control", 0, 7, 10)], [(700, "pitch_bend", 0, 8000)],
                  [(700, "note_off", 0, 60)]):
        got = run(base + extra)
        np.testing.assert_array_equal(got[:700], ref[:700])  # nothing changes before 700
        assert np.abs(got[700:720] - ref[700:720]).max() > 0, extra  # ...from there it does


def test_drum_kit_samples_share_one_buffer() -> None:
    kit = BuiltinBank().instrument(0, True)
    a = kit.start(36, 100, SR)[0].source
    b = kit.start(38, 100, SR)[0].source
    c = kit.start(36, 100, SR)[0].source
    assert b.data is c.data  # both from the newest buffer
    assert (a.pos, a.end) == (c.pos, c.end)
    np.testing.assert_array_equal(kit.sample(36, SR), c.data[int(c.pos):c.end])


def test_lookup_interpolates_linearly() -> None:
    table = np.array([0.0, 1.0, 0.0, -1.0, 0.0])
    got = lookup(table, np.array([0.0, 0.125, 0.25, 0.625, 1.25]))
    np.testing.assert_allclose(got, [0.0, 0.5, 1.0, -0.5, 1.0])


class _RefLimiter:
    """Plain state for the reference limiter below."""

    def __init__(self) -> None:
        self.threshold, self.knee = 0.9, 0.8
        self.release, self.attack = 0.25 * SR, 0.0005 * SR  # frames
        self.gain = 1.0


def _reference_limiter(lim: _RefLimiter, mix: np.ndarray, out: np.ndarray) -> None:
    """The limiter written plainly: every sample through every step."""
    cr, ca = 1.0 - math.exp(-1.0 / lim.release), 1.0 - math.exp(-1.0 / lim.attack)
    k = lim.knee
    for i in range(mix.shape[0]):
        for c in range(2):
            if not math.isfinite(mix[i, c]):
                mix[i, c] = 0.0
        a = float(np.abs(mix[i]).max())
        t = lim.threshold / a if a > lim.threshold else 1.0
        lim.gain += (t - lim.gain) * (ca if t < lim.gain else cr)
        if lim.gain > 1.0 - 1e-9:
            lim.gain = 1.0
        for c in range(2):
            x = mix[i, c] * lim.gain
            if abs(x) > k:
                x = math.copysign(k + (1.0 - k) * math.tanh((abs(x) - k) / (1.0 - k)), x)
            out[i, c] = min(1.0, max(-1.0, x))


def test_limiter_matches_reference() -> None:
    rng = np.random.default_rng(7)
    fast, ref = Limiter(SR), _RefLimiter()
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
        np.testing.assert_allclose(a, b, rtol=0, atol=1.2e-7)  # float32 rounding of tanh
        assert fast.gain == pytest.approx(ref.gain, rel=1e-12)
