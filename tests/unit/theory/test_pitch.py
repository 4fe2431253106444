"""Spelled pitches: names in and out, MIDI numbers, line-of-fifths positions."""

from __future__ import annotations

import pytest

from mos_lab.theory import Pitch
from mos_lab.theory.interval import Interval
from mos_lab.theory.pitch import DEFAULT_FIFTHS, PitchError, fifths_name, fifths_to_pc


@pytest.mark.parametrize(
    ("name", "midi", "fifths"),
    [
        ("C4", 60, 0),
        ("F#4", 66, 6),
        ("Bb3", 58, -2),
        ("C##5", 74, 14),
        ("Cx5", 74, 14),
        ("B#3", 60, 12),
        ("Cb4", 59, -7),
        ("Ebb2", 38, -10),
        ("C-1", 0, 0),
        ("G9", 127, 1),
        ("E♭4", 63, -3),
    ],
)
def test_names_midi_and_fifths(name: str, midi: int, fifths: int) -> None:
    p = Pitch.parse(name)
    assert p.midi == midi
    assert p.fifths == fifths
    assert p.pc == midi % 12
    assert Pitch.from_midi(midi, fifths) == p


def test_name_round_trip_and_pitch_class() -> None:
    for text in ("C##5", "Bb", "F#4", "Abb-1", "E#7"):
        assert Pitch.parse(text).name_with_octave == text.replace("x", "##")
    bb = Pitch.parse("bb")  # letter B, one flat
    assert (bb.name, bb.octave) == ("Bb", None)
    with pytest.raises(ValueError, match="no octave"):
        _ = bb.midi


@pytest.mark.parametrize("bad", ["H4", "", "C#b#q", "4C", "C 4 4", "Cbb#x9z"])
def test_bad_names_name_the_token(bad: str) -> None:
    with pytest.raises(PitchError, match=repr(bad).strip("'")[:3] if bad else "''"):
        Pitch.parse(bad)


def test_line_of_fifths_helpers() -> None:
    names = ["Fb", "Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#"]
    assert [fifths_name(f) for f in range(-8, 7)] == names
    for f in range(-21, 22):
        assert Pitch.from_fifths(f).fifths == f
        assert Pitch.from_fifths(f).pc == fifths_to_pc(f)
    assert sorted(fifths_to_pc(f) for f in DEFAULT_FIFTHS) == list(range(12))
    assert [Pitch.from_midi(m).name for m in range(60, 72)] == (
        ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]
    )


def test_from_midi_rejects_a_wrong_spelling_and_enharmonics() -> None:
    with pytest.raises(ValueError, match="not a spelling"):
        Pitch.from_midi(60, fifths=1)
    assert Pitch.parse("B#3").is_enharmonic(Pitch.parse("C4"))
    assert not Pitch.parse("B#4").is_enharmonic(Pitch.parse("C4"))
    assert Pitch.parse("Db").is_enharmonic(Pitch.parse("C#5"))
    assert Pitch.parse("C4").transpose(Interval.parse("M3")) == Pitch.parse("E4")
