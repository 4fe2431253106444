"""Intervals: qualities, compounds, inversion, enharmonics, spelling-preserving transposition."""

from __future__ import annotations

import pytest

from mos_lab.theory import Pitch
from mos_lab.theory.interval import Interval, IntervalError


@pytest.mark.parametrize(
    ("name", "semitones", "inversion"),
    [
        ("P1", 0, "P8"), ("A1", 1, "d8"), ("m2", 1, "M7"), ("M2", 2, "m7"), ("A2", 3, "d7"),
        ("m3", 3, "M6"), ("M3", 4, "m6"), ("d4", 4, "A5"), ("P4", 5, "P5"), ("A4", 6, "d5"),
        ("d5", 6, "A4"), ("P5", 7, "P4"), ("A5", 8, "d4"), ("m6", 8, "M3"), ("A6", 10, "d3"),
        ("d7", 9, "A2"), ("M7", 11, "m2"), ("P8", 12, "P1"), ("dd5", 5, "AA4"),
    ],
)
def test_simple_intervals(name: str, semitones: int, inversion: str) -> None:
    iv = Interval.parse(name)
    assert (iv.name, iv.semitones, iv.inversion().name) == (name, semitones, inversion)
    assert Interval.parse(inversion).semitones == 12 - semitones


def test_compound_direction_and_between() -> None:
    m10 = Interval.parse("m10")
    assert (m10.semitones, m10.is_compound, m10.simple.name) == (15, True, "m3")
    assert Interval.parse("P12").simple.name == "P5"
    assert not Interval.parse("P8").is_compound
    down = Interval.parse("M-3")
    assert (down.semitones, down.directed_name, down.direction) == (-4, "M-3", -1)
    assert Interval.parse("-M3") == down
    assert Interval.between("E4", "C4") == down
    assert Interval.between("C4", "Cb4").directed_name == "d1"  # unisons ascend (music21)
    assert Interval.between("C4", "B#3").directed_name == "d-2"
    assert Interval.between("B", "Cb").name == "d2"  # pitch classes: within the octave
    assert Interval.between("G3", "F#5").name == "M14"


def test_transposition_keeps_spelling() -> None:
    assert Pitch.parse("C#4").transpose(Interval.parse("M3")).name_with_octave == "E#4"
    assert Pitch.parse("Db4").transpose(Interval.parse("A4")).name_with_octave == "G4"
    assert Pitch.parse("E4").transpose(Interval.parse("d7")).name_with_octave == "Db5"
    assert Pitch.parse("F#").transpose(Interval.parse("-m2")).name == "E#"
    assert Pitch.parse("B3").transpose(Interval.parse("P-8")).name_with_octave == "B2"
    assert Interval.parse("A4").is_enharmonic(Interval.parse("d5"))
    assert not Interval.parse("A4").is_enharmonic(Interval.parse("P5"))
    assert Interval.parse("P5").fifths == 1 and Interval.parse("m2").fifths == -5
    assert (Interval.parse("M3") + Interval.parse("m3")).name == "P5"


@pytest.mark.parametrize("bad", ["P3", "M5", "Q4", "M0", "-P1", "3M", "m"])
def test_bad_interval_names(bad: str) -> None:
    with pytest.raises(IntervalError, match=bad):
        Interval.parse(bad)
