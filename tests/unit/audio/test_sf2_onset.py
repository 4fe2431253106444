"""A SoundFont voice's first 64 frames as FluidSynth plays them.

Why it matters: FluidSynth starts every voice's amplitude at 0 and ramps it to the
envelope's value over the voice's first block (before the filter), and ramps the
voice's output gain from 0 to the channel's over the same block (after it): together
(j / 64)^2 of the held level at frame j. A short percussive sample lives mostly in that
block: TimGM6mb's TR-808 click (72 frames) came out 5 dB louder and brighter than
FluidSynth's, and that one drum sound held Aicha's corpus seconds under the issue's
log-spectrum correlation of 0.98. Measured here on tiny SoundFonts: the ramp of a
constant sample, after a volume delay, under an attack, and a click against
FluidSynth.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from _sf2_make import SR, make_sf2
from test_sf2_voice import fluid, play

FLUID = shutil.which("fluidsynth")
BLOCK = 64
LAG = 64  # the fluidsynth command starts a note at t = 0 one block late (its player)
DC = np.full(SR // 10, 0.5)
HELD = make_sf2(DC, loop=(100, len(DC) - 100))
# The first 64 frames of TimGM6mb's TR-808 zone 5 sample: a flat-topped click
CLICK = np.concatenate([np.ones(10), np.cos(np.linspace(0, np.pi, 14)), -np.ones(16),
                        -np.cos(np.linspace(0, np.pi, 14)), np.ones(10), np.zeros(8)])
# its zone: cutoff 1.8 kHz opened by the modulation envelope, as the file sets it
CLICK_GENS = {8: 9377, 11: 3375, 30: 2900, 38: 68, 58: 34}


def onset(x: np.ndarray, start: int = 0, frames: int = 3 * BLOCK) -> np.ndarray:
    """``x`` from ``start`` over ``frames``, as a fraction of its held level."""
    return x[start:start + frames] / x[start + 40 * BLOCK]


def test_instant_attack_rises_as_the_square_of_the_first_block() -> None:
    got = onset(play(HELD, seconds=0.1)[:, 0])
    want = np.minimum(np.arange(3 * BLOCK) / BLOCK, 1.0) ** 2
    # (the default 20 kHz low-pass rings by a few thousandths on the step)
    assert np.abs(got - want).max() < 0.01, np.round(got[:BLOCK + 2:8], 4)


def test_the_ramp_starts_where_a_volume_delay_ends() -> None:
    # a 1472-frame delay (23 whole blocks): silence, then the same first block
    x = play(make_sf2(DC, loop=(100, len(DC) - 100), gens={33: -6000}), seconds=0.1)[:, 0]
    delay = 23 * BLOCK
    assert np.abs(x[:delay]).max() == 0.0
    want = np.minimum(np.arange(3 * BLOCK) / BLOCK, 1.0) ** 2
    assert np.abs(onset(x, delay) - want).max() < 0.01


def test_an_attack_is_ramped_once_more_in_its_first_block() -> None:
    # a 10 ms attack rises linearly (its slope read from block 1); in block 0 the
    # output gain's ramp multiplies it once more
    x = play(make_sf2(DC, loop=(100, len(DC) - 100), gens={34: -7973}), seconds=0.1)[:, 0]
    j = np.arange(2 * BLOCK)
    slope = (x[2 * BLOCK - 1] - x[BLOCK]) / (BLOCK - 1)
    assert np.abs(x[BLOCK:2 * BLOCK] - slope * j[BLOCK:]).max() < 0.01 * x[2 * BLOCK]
    want = slope * j[:BLOCK] * j[:BLOCK] / BLOCK
    assert np.abs(x[:BLOCK] - want).max() < 0.01 * x[BLOCK], (x[:BLOCK:8], want[::8])


@pytest.mark.skipif(FLUID is None, reason="fluidsynth not installed")
@pytest.mark.parametrize("gens", [{}, {34: -7973}, {33: -6000}])
def test_first_blocks_as_fluidsynth(gens: dict[int, int]) -> None:
    blob = make_sf2(DC, loop=(100, len(DC) - 100), gens=gens)
    ap = play(blob, seconds=0.1)[:, 0]
    fs = fluid(blob, seconds=0.1)[LAG:, 0]
    s = 23 * BLOCK if 33 in gens else 0
    a, f = onset(ap, s, 4 * BLOCK), onset(fs, s, 4 * BLOCK)
    assert np.abs(a - f).max() < 0.005, (np.round(a[::8], 4), np.round(f[::8], 4))


@pytest.mark.skipif(FLUID is None, reason="fluidsynth not installed")
def test_short_click_level_and_spectrum_as_fluidsynth() -> None:
    blob = make_sf2(CLICK, rate=44100, root=34, gens=CLICK_GENS)
    # the two players' global gain (equal-power pan laws apart) from a held note
    gain = play(HELD, seconds=0.1)[40 * BLOCK, 0] / fluid(HELD, seconds=0.1)[LAG + 40 * BLOCK, 0]
    ap = play(blob, key=32, seconds=0.05)[:, 0]
    fs = fluid(blob, key=32, seconds=0.05)[LAG:, 0]
    n = 512
    a, f = ap[:n], fs[:n] * gain
    db = 10 * np.log10((a ** 2).sum() / (f ** 2).sum())
    sa, sf = (np.abs(np.fft.rfft(x, 4096)) for x in (a, f))
    band = slice(4, 1100)  # ~50 Hz to 13 kHz
    r = float(np.corrcoef(np.log10(sa[band] + 1e-9), np.log10(sf[band] + 1e-9))[0, 1])
    # (the voice before: +5 dB, r 0.85)
    assert abs(db) < 0.3 and r > 0.99, (db, r)
    assert np.abs(a - f).max() < 0.02 * np.abs(f).max(), np.abs(a - f).max()
