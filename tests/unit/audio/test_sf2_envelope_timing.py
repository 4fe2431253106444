"""SoundFont envelope timing as FluidSynth plays it, block by block (64 frames).

Why it matters: layers of one note (TimGM6mb's strings: two samples per side, one with
a pitch envelope) sum with the phase each layer's pitch envelope leaves; a block more
or less at the envelope's peak turns their fundamentals from adding into cancelling,
which moved the strings' spectral centroid 30 % from FluidSynth's. Measured here: the
modulation envelope's convex attack and its hold (the pitch per block of a tiny
SoundFont's sine), the phase a pitch envelope leaves against a plain note, and the
sample waiting through the volume envelope's delay.
"""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
from _sf2_make import SR, make_sf2, sine
from test_sf2_voice import fluid, play

FLUID = shutil.which("fluidsynth")
SINE = sine(440.0, 0.5)
BLOCK = 64
LAG = 64  # the fluidsynth command starts a note at t = 0 one block late (its player)


def block_cents(x: np.ndarray, start: int, blocks: int) -> np.ndarray:
    """Median pitch (cents from 440 Hz) inside each 64-frame block from ``start``.
    (Zeros padded on both sides: the FFT's analytic signal is circular, and a note cut
    at the end would wrap onto its onset.)"""
    pad = 4096
    x = np.concatenate([np.zeros(pad), x, np.zeros(pad)])
    start += pad
    spec = np.fft.fft(x)
    spec[len(x) // 2 + 1:] = 0.0
    spec[1:len(x) // 2] *= 2.0
    ph = np.unwrap(np.angle(np.fft.ifft(spec)))
    hz = np.diff(ph) * SR / (2 * np.pi)
    return np.array([1200 * np.log2(max(float(np.median(
        hz[start + b * BLOCK + 8:start + b * BLOCK + 56])), 1.0) / 440.0)
        for b in range(blocks)])


def convex(v: float) -> float:
    """FluidSynth's 128-step convex table (spec 8.1.2 #26's curve)."""
    i = int(127 * v)
    return 0.0 if i <= 0 else 1.0 if i >= 127 else 1 + 400 / 960 * math.log10(i / 127)


def phase_lag(x: np.ndarray, at: float = 0.4) -> float:
    """Where the 440 Hz sine is at ``at`` seconds, in frames modulo its period."""
    t = np.arange(len(x)) / SR
    s = slice(int(at * SR), int((at + 0.05) * SR))
    z = (x[s] * np.exp(-2j * np.pi * 440.0 * t[s])).mean()
    return float(np.angle(z) / (2 * np.pi) * SR / 440.0)


def wrapped(d: float) -> float:
    period = SR / 440.0
    return (d + period / 2) % period - period / 2


# 1200 cents of mod env; attack 640 frames (11 blocks: FluidSynth counts one more than
# rounded), hold 10 blocks, then an instant decay to sustain 0
ENV = {7: 1200, 26: -7474, 27: -7474, 29: 1000}


def test_mod_env_attack_is_convex_and_holds_whole_blocks() -> None:
    x = play(make_sf2(SINE, loop=(0, len(SINE)), gens=ENV), seconds=0.1)[:, 0]
    got = block_cents(x, 0, 32)
    # each block plays the envelope's value at its end: attack blocks 1/11 .. 11/11
    # through the convex table, then 10 blocks of hold at the peak
    want = np.array([1200 * convex((j + 1) / 11) for j in range(11)] + [1200.0] * 10)
    # (block 0 rises from silence as (j / 64)^2, test_sf2_onset: its pitch is not
    # measurable, and the analytic signal smears that rise into block 1)
    assert np.abs(got[2:21] - want[2:21]).max() < 10, np.round(got)
    assert got[21] < 100 and np.abs(got[26:]).max() < 15, np.round(got)  # then 0 cents


@pytest.mark.skipif(FLUID is None, reason="fluidsynth not installed")
def test_mod_env_to_pitch_block_by_block_as_fluidsynth() -> None:
    blob = make_sf2(SINE, loop=(0, len(SINE)), gens=ENV)
    ap = block_cents(play(blob, seconds=0.1)[:, 0], 0, 30)
    fs = block_cents(fluid(blob, seconds=0.1)[:, 0], LAG, 30)
    assert np.abs(ap[2:] - fs[2:]).max() < 10, (np.round(ap), np.round(fs))


@pytest.mark.skipif(FLUID is None, reason="fluidsynth not installed")
@pytest.mark.parametrize("gens", [
    {7: -1190, 26: -8857, 29: 1000},  # TimGM6mb 'Strings CLP2': down, instant decay
    {7: 1191, 26: -8857, 28: -4604, 29: 1000},  # 'Strings CLP3': up, 70 ms decay
    {33: -6000},  # a 31 ms volume delay: the sample waits for it
])
def test_layer_phase_against_a_plain_note_as_fluidsynth(gens: dict[int, int]) -> None:
    plain = make_sf2(SINE, loop=(0, len(SINE)))
    blob = make_sf2(SINE, loop=(0, len(SINE)), gens=gens)
    ref = phase_lag(play(plain, seconds=0.5)[:, 0]) - phase_lag(fluid(plain, seconds=0.5)[:, 0])
    d = phase_lag(play(blob, seconds=0.5)[:, 0]) - phase_lag(fluid(blob, seconds=0.5)[:, 0])
    assert abs(wrapped(d - ref)) < 4, (d, ref)


def test_sample_waits_through_the_volume_delay() -> None:
    # a one-shot sine: after a 1472-frame delay (23 whole blocks) it starts at its start
    blob = make_sf2(SINE, gens={33: -6000})
    x = play(blob, seconds=0.1)[:, 0]
    delay = 23 * BLOCK
    assert np.abs(x[:delay]).max() == 0.0
    seg = x[delay + 200:delay + 1200]
    want = SINE[200:1200]
    r = float(np.dot(seg, want) / np.sqrt(np.dot(seg, seg) * np.dot(want, want)))
    assert r > 0.999, r
