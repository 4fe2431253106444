"""Keys and scales: signatures, degrees, relative and parallel keys, scale spellings."""

from __future__ import annotations

import pytest

from mos_lab.theory import Key, Scale
from mos_lab.theory.key import KeyError_
from mos_lab.theory.scale import SCALES


@pytest.mark.parametrize(
    ("text", "name", "sharps"),
    [
        ("C", "C major", 0), ("a", "A minor", 0), ("F#", "F# major", 6), ("f#", "F# minor", 3),
        ("Bb major", "Bb major", -2), ("bb minor", "Bb minor", -5), ("b-", "Bb minor", -5),
        ("Eb:", "Eb major", -3), ("D dorian", "D dorian", 0), ("C#", "C# major", 7),
        ("Cb", "Cb major", -7), ("E phrygian", "E phrygian", 0), ("F lydian", "F lydian", 0),
    ],
)
def test_parse_and_signature(text: str, name: str, sharps: int) -> None:
    k = Key.parse(text)
    assert (k.name, k.sharps) == (name, sharps)
    assert len(k.signature) == abs(sharps)
    assert Key.from_signature(sharps, k.mode) == k


def test_degrees_relative_parallel() -> None:
    k = Key.parse("f#")
    assert [k.pitch_of(d).name for d in range(1, 8)] == ["F#", "G#", "A", "B", "C#", "D", "E"]
    assert k.leading_tone.name == "E#" and k.pitch_of(7, alter=1).name == "E#"
    assert k.relative == Key.parse("A") and k.parallel == Key.parse("F#")
    assert Key.parse("Eb").relative == Key.parse("c")
    assert k.degree_of("E#") == (7, 1) and k.degree_of("G") == (2, -1)
    assert k.pitch_of(5, octave=4).name_with_octave == "C#5"
    assert [p.name for p in Key.parse("Db").signature] == ["Bb", "Eb", "Ab", "Db", "Gb"]
    assert [Key.parse("A").alter_of(x) for x in "CDEFGAB"] == [1, 0, 0, 1, 1, 0, 0]
    assert "F#" in Key.parse("G") and "Gb" not in Key.parse("G")
    assert Key.parse("g").symbol == "g" and Key.parse("Bb").symbol == "Bb"


@pytest.mark.parametrize("bad", ["H", "C#q", "C wobbly", ""])
def test_bad_keys(bad: str) -> None:
    with pytest.raises(KeyError_):
        Key.parse(bad)


@pytest.mark.parametrize(
    ("tonic", "kind", "names"),
    [
        ("D", "harmonic minor", "D E F G A Bb C#"),
        ("C", "melodic minor", "C D Eb F G A B"),
        ("Eb", "dorian", "Eb F Gb Ab Bb C Db"),
        ("B", "locrian", "B C D E F G A"),
        ("G", "major pentatonic", "G A B D E"),
        ("A", "minor pentatonic", "A C D E G"),
        ("A", "blues", "A C D D# E G"),
        ("C", "whole-tone", "C D E F# G# A#"),
        ("C", "octatonic", "C D Eb F Gb Ab A B"),
        ("C", "octatonic half-whole", "C Db Eb E F# G A Bb"),
    ],
)
def test_scales(tonic: str, kind: str, names: str) -> None:
    s = Scale(tonic, kind)
    assert [p.name for p in s.pitches()] == names.split()
    assert len(s.pitch_classes) == len(names.split())


def test_scale_degrees_and_aliases() -> None:
    s = Scale("C", "major")
    assert s.degree(9, octave=4).name_with_octave == "D5"
    assert "F#" not in s and "E#" in s  # membership by sound
    assert Scale("C", "whole tone") == Scale("C", "whole-tone")
    assert Scale("C", "whole-tone").degree_of("B") is None
    with pytest.raises(ValueError, match="unknown scale"):
        Scale("C", "bebop lydian augmented")
    assert {"major", "dorian", "blues", "octatonic"} <= set(SCALES)
