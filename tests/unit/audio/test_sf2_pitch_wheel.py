"""Pitch wheel on SoundFont voices: the sensitivity RPN (CC101/100 = 0/0, then CC6/38)
and the zone's pitch-wheel modulator, measured from the pitch of a tiny SoundFont's sine
against the cents they should give (FluidSynth as oracle for the RPN where installed).

SoundFont 2.04 section 8.4.10: the wheel (bipolar, bend / 8192) times the sensitivity
(a 7-bit source: semitones / 128) times 12700 cents; so a semitone of sensitivity bends
99.2 cents at full wheel, as FluidSynth plays it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from _sf2_make import SR, make_sf2, sine
from test_sf2_voice import fluid_render, pitch_track, play

from mos_lab.audio.channels import ChannelState

LOOPED = sine(440.0, 0.5)
BLOB = make_sf2(LOOPED, loop=(0, len(LOOPED)))
PW_DEFAULT = (0x020E, 52, 12700, 0x0010, 0)  # SoundFont 2.04 section 8.4.10


def rpn(semis: int, cents: int | None = None, at: int = 0) -> list[tuple]:
    """Events selecting RPN 0,0 and entering the sensitivity (CC6, then CC38)."""
    ev: list[tuple] = [(at, "control", 0, 101, 0), (at, "control", 0, 100, 0),
                       (at, "control", 0, 6, semis)]
    if cents is not None:
        ev.append((at, "control", 0, 38, cents))
    return ev


def cents_of(x: np.ndarray, start: float = 0.1) -> float:
    """Median pitch of ``x`` after ``start`` seconds, in cents from 440 Hz."""
    tr = pitch_track(x[int(start * SR):, 0])
    return float(1200 * np.log2(np.median(tr[2:-2]) / 440.0))


def expected(semis: float, bend: int, amount: float = 12700.0) -> float:
    """Cents of the wheel modulator: amount x bend / 8192 x sensitivity / 128."""
    return amount * bend / 8192 * semis / 128


@pytest.mark.parametrize(("semis", "lsb", "bend"), [
    (None, None, 4096),  # the GM default: 2 semitones
    (12, None, 4096),
    (12, 50, 4096),  # the LSB adds cents to the sensitivity
    (12, None, -8192),
    (1, None, 8191),
    (0, None, 8191),  # no bend at all
])
def test_sensitivity_rpn_sets_the_bend_range(semis, lsb, bend) -> None:
    extra = ([] if semis is None else rpn(semis, lsb)) + [(0, "pitch_bend", 0, bend, 0)]
    got = cents_of(play(BLOB, seconds=0.4, extra=extra))
    sens = 2.0 if semis is None else semis + (lsb or 0) / 100
    want = expected(sens, bend)
    assert abs(got - want) < 2.5, (got, want)


def test_data_entry_for_another_rpn_leaves_the_range() -> None:
    extra = [(0, "control", 0, 101, 0), (0, "control", 0, 100, 1),  # RPN 0,1: fine tuning
             (0, "control", 0, 6, 12), (0, "pitch_bend", 0, 4096, 0)]
    assert abs(cents_of(play(BLOB, seconds=0.4, extra=extra)) - expected(2, 4096)) < 2.5


def test_range_changed_while_bent_moves_the_sounding_note() -> None:
    half = int(0.3 * SR)
    extra = [(0, "pitch_bend", 0, 8191, 0), *rpn(7, at=half)]
    x = play(BLOB, seconds=0.6, extra=extra)
    assert abs(cents_of(x[:half]) - expected(2, 8191)) < 2.5
    assert abs(cents_of(x[half:], start=0.05) - expected(7, 8191)) < 2.5


def test_reset_controllers_keeps_the_range_and_deselects_the_rpn() -> None:
    ch = ChannelState()
    for num, val in ((101, 0), (100, 0), (6, 5)):
        ch.controls[num] = val
        ch.data_entry(num, val)
    assert ch.bend_range == 5.0
    ch.reset_controllers()
    assert ch.bend_range == 5.0 and ch.rpn == (127, 127)
    ch.controls[6] = 9
    assert not ch.data_entry(6, 9) and ch.bend_range == 5.0


@pytest.mark.parametrize("amount", [0, 6400, 25600])
def test_zone_pitch_wheel_modulator_scales_the_bend(amount) -> None:
    # the zone replaces the default wheel modulator (same sources, another amount)
    blob = make_sf2(LOOPED, loop=(0, len(LOOPED)), mods=[(*PW_DEFAULT[:2], amount,
                                                          *PW_DEFAULT[3:])])
    extra = [*rpn(12), (0, "pitch_bend", 0, 4096, 0)]
    got = cents_of(play(blob, seconds=0.4, extra=extra))
    want = expected(12, 4096, amount)
    assert abs(got - want) < 2.5, (got, want)


# A GS/XG file sets the range, then NRPNs (vibrato, drum pitch) with CC6: the data entry
# goes to the NRPN selected last (none is played), the range stays; CC101 or CC100 alone
# selects the RPN again (the other byte kept), as FluidSynth plays it. Aicha.mid set its
# guitar's range to 80 semitones this way before a whole-wheel bend.
NRPN_CASES = [
    ([(101, 0), (100, 0), (6, 2), (98, 102), (99, 1), (6, 80)], 2),
    ([(101, 0), (100, 0), (6, 2), (99, 1), (98, 8), (38, 50)], 2),
    ([(101, 0), (100, 0), (99, 127), (98, 127), (6, 12)], 2),  # the null NRPN too
    ([(101, 0), (100, 0), (6, 2), (98, 102), (99, 1), (6, 80), (100, 0), (6, 12)], 12),
    ([(101, 0), (100, 0), (6, 2), (99, 1), (98, 102), (101, 0), (6, 12)], 12),
]


@pytest.mark.parametrize(("ccs", "semis"), NRPN_CASES)
def test_nrpn_data_entry_leaves_the_range(ccs, semis) -> None:
    extra = [(0, "control", 0, num, val) for num, val in ccs] + [(0, "pitch_bend", 0, 8191, 0)]
    got = cents_of(play(BLOB, seconds=0.4, extra=extra))
    assert abs(got - expected(semis, 8191)) < 2.5, (got, expected(semis, 8191))


def fluid_cents(ccs: list[tuple[int, int]] | tuple[tuple[int, int], ...], bend: int) -> float:
    """Pitch (cents) of the tiny SoundFont's note in fluidsynth after ``ccs`` and ``bend``."""
    import mido

    msgs = [mido.Message("control_change", control=num, value=val) for num, val in ccs]
    msgs += [mido.Message("pitchwheel", pitch=bend),
             mido.Message("note_on", note=69, velocity=100),
             mido.Message("note_off", note=69, velocity=0, time=384)]
    return cents_of(fluid_render(BLOB, msgs)[:int(0.4 * SR)])


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth not installed")
@pytest.mark.parametrize("case", [0, 3])
def test_nrpn_data_entry_as_fluidsynth(case) -> None:
    ccs, _ = NRPN_CASES[case]
    extra = [(0, "control", 0, num, val) for num, val in ccs] + [(0, "pitch_bend", 0, 8191, 0)]
    ap = cents_of(play(BLOB, seconds=0.4, extra=extra))
    fl = fluid_cents(ccs, 8191)
    assert abs(ap - fl) < 2.5, (ap, fl)


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth not installed")
def test_sensitivity_rpn_as_fluidsynth() -> None:
    fl = fluid_cents(((101, 0), (100, 0), (6, 12)), 4096)
    ap = cents_of(play(BLOB, seconds=0.4, extra=[*rpn(12), (0, "pitch_bend", 0, 4096, 0)]))
    assert abs(fl - expected(12, 4096)) < 2.5 and abs(ap - fl) < 1.5, (ap, fl)
