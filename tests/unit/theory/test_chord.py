"""Chords from pitches and chord symbols in and out."""

from __future__ import annotations

import re

import pytest

from mos_lab.theory import Chord, SymbolError, parse_symbol
from mos_lab.theory.chord import QUALITIES


@pytest.mark.parametrize(
    ("notes", "root", "quality", "inversion", "symbol"),
    [
        ("C4 E4 G4", "C", "major", 0, "C"),
        ("E4 G4 C5", "C", "major", 1, "C/E"),
        ("G3 C4 E4", "C", "major", 2, "C/G"),
        ("C4 E4 G4 A4", "A", "minor seventh", 1, "Am7/C"),
        ("F3 G3 B3 D4", "G", "dominant seventh", 3, "G7/F"),
        ("F#3 A3 C4 E4", "F#", "half-diminished seventh", 0, "F#m7b5"),
        ("B3 D4 F4 Ab4", "B", "diminished seventh", 0, "Bdim7"),
        ("C4 E4 Bb4", "C", "dominant seventh", 0, "C7"),
        ("C4 E4 G4 Bb4 D5", "C", "dominant ninth", 0, "C9"),
        ("C4 F4 G4", "C", "suspended fourth", 0, "Csus4"),
        ("C4 D4 E4 G4", "C", "added ninth", 0, "Cadd9"),
        ("Bb2 D3 F3 Ab3 E4", "Bb", "dominant seventh", 0, "Bb7(#11)"),
        ("C4 E4 G4 F5", "C", "major", 0, "C(add11)"),
        ("Eb4 G4 B4", "Eb", "augmented", 0, "Ebaug"),
        ("D4 F4 A4 C#5", "D", "minor-major seventh", 0, "DmMaj7"),
    ],
)
def test_chords_from_pitches(
    notes: str, root: str, quality: str, inversion: int, symbol: str
) -> None:
    c = Chord.from_pitches(notes.split())
    assert c.root is not None
    assert (c.root.name, c.quality, c.inversion, c.symbol) == (root, quality, inversion, symbol)


def test_midi_numbers_are_spelled_by_the_chord() -> None:
    assert Chord.from_pitches([66, 70, 73, 76]).symbol == "F#7"
    assert Chord.from_pitches([68, 71, 74, 77]).symbol == "G#dim7"
    assert [p.name for p in Chord.from_midi([63, 66, 70]).pitches] == ["Eb", "Gb", "Bb"]
    empty = Chord.from_pitches([])
    assert (empty.root, empty.symbol, str(empty)) == (None, "", "N.C.")
    cluster = Chord.from_pitches(["C4", "C#4", "D4"])
    assert cluster.quality == "other" and cluster.symbol == ""


def test_members() -> None:
    c = Chord.from_pitches(["G3", "B3", "D4", "F4"])
    assert c.member("F4") == 7 and c.member("B") == 3 and c.member("A") is None
    assert c.member_pitch(7) is not None and c.is_seventh
    assert not Chord.from_pitches(["C4", "E4", "G4"]).is_seventh


@pytest.mark.parametrize(
    ("symbol", "names", "out"),
    [
        ("F#m7b5", "F#3 A3 C4 E4", "F#m7b5"),
        ("C/E", "E3 G3 C4", "C/E"),
        ("Bb7(#11)", "Bb3 D4 F4 Ab4 E5", "Bb7(#11)"),
        ("G7(b9,#11)", "G3 B3 D4 F4 Ab4 C#5", "G7(b9,#11)"),
        ("Cmaj7", "C3 E3 G3 B3", "Cmaj7"),
        ("CΔ7", "C3 E3 G3 B3", "Cmaj7"),
        ("Cø7", "C3 Eb3 Gb3 Bb3", "Cm7b5"),
        ("Co7", "C3 Eb3 Gb3 Bbb3", "Cdim7"),
        ("C13", "C3 E3 G3 Bb3 D4 A4", "C13"),
        ("C6/9", "C3 E3 G3 A3 D4", "C6/9"),
        ("Dsus", "D3 G3 A3", "Dsus4"),
        ("C7omit5", "C3 E3 Bb3", "C7"),
        ("Cno3", "C3 G3", "C(no3)"),
        ("Am7/G", "G3 A3 C4 E4", "Am7/G"),
        ("Ebm", "Eb3 Gb3 Bb3", "Ebm"),
        ("C-7", "C3 Eb3 G3 Bb3", "Cm7"),
    ],
)
def test_symbols_in_and_out(symbol: str, names: str, out: str) -> None:
    s = parse_symbol(symbol)
    assert [p.name_with_octave for p in s.pitches()] == names.split()
    assert s.chord().symbol == out
    assert parse_symbol(out).chord().symbol == out


@pytest.mark.parametrize(
    ("bad", "token"),
    [("H7", "'H'"), ("Cmaj7(#12)", "'#12'"), ("C7(zz)", "'zz)'"), ("", "''"), ("Comit3x", "x")],
)
def test_bad_symbols_name_the_token(bad: str, token: str) -> None:
    with pytest.raises(SymbolError, match=re.escape(token)):
        parse_symbol(bad)


def test_quality_table_is_consistent() -> None:
    for q in QUALITIES.values():
        assert q.intervals[0] == "P1"
        c = parse_symbol("C" + q.suffix).chord()
        assert c.quality == q.name, q
