"""The theory objects agree with music21 on thousands of generated cases (hypothesis).

music21 writes flats as ``-``; names are converted at the boundary. Each test keeps its
``max_examples`` so that it runs in a second or two.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mos_lab.theory import Chord, Key, Pitch, Scale, parse_symbol
from mos_lab.theory.chord import QUALITIES
from mos_lab.theory.interval import Interval

m21 = pytest.importorskip("music21")

FAST = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def m21_name(p: Pitch) -> str:
    """music21's spelling of a pitch name (``-`` for flat)."""
    acc = "-" * -p.alter if p.alter < 0 else p.accidental
    return p.letter + acc + ("" if p.octave is None else str(p.octave))


pitches = st.builds(Pitch, st.integers(0, 6), st.integers(-2, 2), st.integers(1, 7))
pitch_classes = st.builds(Pitch, st.integers(0, 6), st.integers(-1, 1))
interval_names = st.sampled_from(
    ["P1", "A1", "d2", "m2", "M2", "A2", "d3", "m3", "M3", "A3", "d4", "P4", "A4", "d5", "P5",
     "A5", "d6", "m6", "M6", "A6", "d7", "m7", "M7", "A7", "d8", "P8", "m9", "M9", "A9", "m10",
     "M10", "P11", "A11", "P12", "m13", "M13", "m14", "M14", "P15"]
)


@FAST
@given(pitches, pitches)
def test_interval_between_pitches(a: Pitch, b: Pitch) -> None:
    ours = Interval.between(a, b)
    assume(len(ours.quality) <= 3)  # music21 stops at triply augmented/diminished
    theirs = m21.interval.Interval(m21.pitch.Pitch(m21_name(a)), m21.pitch.Pitch(m21_name(b)))
    assert ours.directed_name == theirs.directedName
    assert ours.semitones == theirs.semitones


@FAST
@given(pitches, interval_names, st.booleans())
def test_transposition_keeps_spelling(p: Pitch, name: str, down: bool) -> None:
    iv = Interval.parse(name)
    if down and iv.steps:
        iv = iv.reverse()
    theirs = m21.pitch.Pitch(m21_name(p)).transpose(iv.directed_name)
    ours = iv.transpose(p)
    assert m21_name(ours) == theirs.nameWithOctave
    assert ours.midi == round(theirs.ps)


@FAST
@given(interval_names)
def test_interval_names_sizes_and_inversions(name: str) -> None:
    ours, theirs = Interval.parse(name), m21.interval.Interval(name)
    assert ours.semitones == theirs.semitones
    assert ours.simple.name == theirs.semiSimpleName  # music21's "simple" takes P8 to P1
    assert ours.is_compound == (theirs.generic.undirected > 8)
    assert ours.inversion().name == theirs.complement.name


@settings(max_examples=300, deadline=None)
@given(st.integers(-7, 7), st.sampled_from(["major", "minor"]), st.integers(1, 7))
def test_keys_signatures_degrees_and_neighbours(sharps: int, mode: str, degree: int) -> None:
    ours = Key.from_signature(sharps, mode)
    tonic = m21_name(ours.tonic)
    theirs = m21.key.Key(tonic.lower() if mode == "minor" else tonic)
    assert theirs.sharps == ours.sharps == sharps
    assert theirs.mode == ours.mode
    assert theirs.pitchFromDegree(degree).name == m21_name(ours.pitch_of(degree))
    assert theirs.relative.tonic.name == m21_name(ours.relative.tonic)
    assert theirs.parallel.tonic.name == m21_name(ours.parallel.tonic)
    assert theirs.relative.mode == ours.relative.mode


SCALE_CLASSES = {
    "major": "MajorScale", "natural minor": "MinorScale", "harmonic minor": "HarmonicMinorScale",
    "dorian": "DorianScale", "phrygian": "PhrygianScale", "lydian": "LydianScale",
    "mixolydian": "MixolydianScale", "locrian": "LocrianScale",
}


@settings(max_examples=200, deadline=None)
@given(pitch_classes, st.sampled_from(sorted(SCALE_CLASSES)))
def test_scales(tonic: Pitch, kind: str) -> None:
    theirs = getattr(m21.scale, SCALE_CLASSES[kind])(m21_name(tonic))
    assert [m21_name(p) for p in Scale(tonic, kind).pitches()] == [
        p.name for p in theirs.getPitches()[:-1]
    ]


TERTIAN = [
    "major", "minor", "diminished", "augmented", "dominant seventh", "minor seventh",
    "major seventh", "half-diminished seventh", "diminished seventh", "dominant ninth",
]


@settings(max_examples=500, deadline=None)
@given(
    pitch_classes,
    st.sampled_from(TERTIAN),
    st.data(),
)
def test_chords_root_inversion_and_quality(root: Pitch, quality: str, data: st.DataObject) -> None:
    ivs = [Interval.parse(s) for s in QUALITIES[quality].intervals]
    base = root.with_octave(3)
    tones = [iv.transpose(base) for iv in ivs]
    bass_i = data.draw(st.integers(0, min(len(tones), 4) - 1))  # root .. seventh in the bass
    ups = data.draw(st.lists(st.integers(0, 2), min_size=len(tones), max_size=len(tones)))
    voiced = [tones[bass_i]] + [
        t.with_octave(t.octave + 1 + u) for i, (t, u) in enumerate(zip(tones, ups, strict=True))  # type: ignore[operator]
        if i != bass_i
    ]
    ours = Chord.from_pitches(voiced)
    theirs = m21.chord.Chord([m21_name(p) for p in voiced])
    assert ours.root is not None
    assert m21_name(ours.root) == theirs.root().name
    assert ours.inversion == theirs.inversion()
    assert ours.quality == quality
    if len(tones) == 3:
        assert theirs.quality == quality


SYMBOL_SUFFIXES = [
    q.suffix for q in QUALITIES.values()
    if q.name not in {"minor-major seventh", "major ninth", "six-nine", "diminished ninth",
                      "dominant thirteenth"}
]


@settings(max_examples=300, deadline=None)
@given(pitch_classes, st.sampled_from(SYMBOL_SUFFIXES), st.booleans())
def test_symbols_name_the_same_pitches(root: Pitch, suffix: str, with_bass: bool) -> None:
    text = root.name + suffix
    ours = parse_symbol(text)
    pcs = sorted({p.pc for p in ours.pitches()})
    if with_bass:
        bass = ours.pitches()[1].with_octave(None)  # a chord tone as bass (an inversion)
        text += "/" + bass.name
        ours = parse_symbol(text)
        assert ours.pitches()[0].name == bass.name
    bass_text = "/" + m21_name(ours.pitches()[0].with_octave(None)) if with_bass else ""
    theirs = m21.harmony.ChordSymbol(m21_name(root) + suffix + bass_text)
    assert sorted({p.pitchClass for p in theirs.pitches}) == pcs
    assert sorted({p.pc for p in ours.pitches()}) == pcs
    if with_bass:
        assert theirs.bass().name == m21_name(ours.pitches()[0].with_octave(None))
    # what we write, music21 reads as the same chord
    back = ours.chord().symbol
    assert parse_symbol(back).chord().pitch_classes == ours.chord().pitch_classes
