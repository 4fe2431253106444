"""The fixed face: interval_id and chord_id checked against music21 on thousands of seeds."""

from __future__ import annotations

import pytest

music21 = pytest.importorskip("music21")

from mos_lab import lessons  # noqa: E402
from mos_lab.lessons.chords import SUFFIX, chord_symbol, readings  # noqa: E402
from mos_lab.lessons.chords import m21_name as m21  # noqa: E402
from mos_lab.lessons.intervals import LEVEL_QUALITIES  # noqa: E402
from mos_lab.theory.pitch import Pitch  # noqa: E402
from mos_lab.theory.symbols import parse_symbol  # noqa: E402

N = 1000


def m21_pitch(name: str) -> music21.pitch.Pitch:
    """Our name (Bb4, F##3) as music21 writes it (B-4, F##3)."""
    return music21.pitch.Pitch(name.replace("b", "-") if len(name) > 1 else name)


def m21_name(p: Pitch) -> str:
    return p.letter + p.accidental.replace("b", "-") + str(p.octave)


def saved_names(exercise: lessons.Exercise, tmp_path) -> list[str]:
    path = exercise.prompt.save(tmp_path / f"{exercise.kind}-{exercise.seed}.musicxml")
    score = music21.converter.parse(str(path))
    return [n.nameWithOctave for x in score.recurse().notes
            for n in (x.notes if x.isChord else [x])]


def lead_sheet(text: str) -> set[str] | None:
    """The notes a lead sheet's reading of a symbol names (None if it has none)."""
    try:
        return {m21(p) for p in parse_symbol(text).pitches()}
    except ValueError:
        return None


@pytest.mark.parametrize("level", [1, 2, 3])
def test_interval_answers_are_music21s_names_and_every_other_name_is_rejected(level):
    names = sorted(set(LEVEL_QUALITIES[3]) | {"AA4", "dd5", "P22", "m17"})
    for seed in range(N):
        ex = lessons.interval_id(seed=seed, level=level)
        low, high = sorted((p for p, _, _ in ex.events), key=lambda p: (p.midi, p.step))
        if (low.octave, low.step) > (high.octave, high.step):
            low, high = high, low
        expected = music21.interval.Interval(m21_pitch(low.name_with_octave),
                                             m21_pitch(high.name_with_octave)).name
        assert ex.answer == expected, (seed, ex.notes)
        fb = ex.check(ex.answer)
        assert fb.correct and fb.score == 1.0, (seed, fb)
        for other in names:
            if other == ex.answer:
                continue
            fb = ex.check(other)
            assert not fb.correct and fb.score < 1 and ex.answer in fb.message, (seed, other)


def test_interval_qualities_and_range_are_kept():
    for seed in range(300):
        ex = lessons.interval_id(level=2, qualities=["M3", "m3", "P5"], seed=seed, clef="bass")
        assert ex.answer in {"M3", "m3", "P5"}
        assert all(Pitch.parse("E2").midi <= p.midi <= Pitch.parse("C4").midi
                   for p, _, _ in ex.events)
    a = lessons.interval_id(level=2, qualities=["M3", "m3", "P5"], seed=7)
    b = lessons.interval_id(level=2, qualities=["M3", "m3", "P5"], seed=7)
    assert (a.notes, a.answer) == (b.notes, b.answer)


def test_chord_answers_read_by_music21_as_the_prompt_and_wrong_symbols_rejected():
    roots = [m21(Pitch.from_fifths(f)) for f in range(-7, 8)]
    for seed in range(N):
        ex = lessons.chord_id(seed=seed, level=1 + seed % 3)
        notes = [p for p, _, _ in ex.events]
        cs = music21.harmony.ChordSymbol(ex.answer)
        assert {p.pitchClass for p in cs.pitches} == {p.pc for p in notes}, (seed, ex.answer)
        assert cs.bass().pitchClass == notes[0].pc, (seed, ex.answer)
        assert ex.check(ex.answer).correct
        if seed % 3:
            continue
        # every other root x quality x bass member: rejected unless same spelled chord
        for root in roots[seed % 5::5]:
            for suffix in SUFFIX.values():
                for bass in (None, m21(notes[0]), m21(notes[1])):
                    text = root + suffix + (f"/{bass}" if bass else "")
                    if text == ex.answer:
                        continue
                    fb = ex.check(text)
                    if fb.correct:  # another name of the same spelled notes and bass
                        # music21's reading, or a lead sheet's (C- for C minor)
                        sym = music21.harmony.ChordSymbol(text)
                        lead = [lead_sheet(t) for t in readings(text)[1:]]
                        want = {m21(p) for p in notes}
                        assert want in [{p.name for p in sym.pitches}, *lead], (seed, text)
                    else:
                        assert fb.score < 1 and ex.answer in fb.message, (seed, text, fb)


def test_equivalent_chord_labels_and_enharmonics():
    ex = next(e for s in range(500) if (e := lessons.chord_id(seed=s, level=1)).answer == "F#m")
    for text in ("F#m", "F#min", "F#-", " F#m ", "F♯m"):
        assert ex.check(text).correct, text
    flat = next(e for s in range(500) if (e := lessons.chord_id(seed=s, level=1)).answer
                == "B-m")
    for text in ("B-m", "Bbm", "B♭m", "Bb-", "Bbmin"):
        assert flat.check(text).correct, text
    assert not flat.check("Bm").correct
    fb = ex.check("Gbm")
    assert not fb.correct and fb.score == 0.5 and "spelling" in fb.message
    lenient = lessons.chord_id(seed=ex.seed, level=1, enharmonic=True)
    assert lenient.check("Gbm").correct
    assert not lenient.check("Gb").correct
    fb = ex.check("F#m/A")
    assert not fb.correct and "lowest note is F#" in fb.message


def test_chord_symbols_name_inversions_like_music21():
    assert chord_symbol(Pitch.parse("G"), "dominant seventh", Pitch.parse("B")) == "G7/B"
    assert chord_symbol(Pitch.parse("B"), "diminished") == "Bdim"
    assert chord_symbol(Pitch.parse("Bb"), "minor", Pitch.parse("Db")) == "B-m/D-"
    for seed in range(200):
        ex = lessons.chord_id(seed=seed, level=3)
        cs = music21.harmony.ChordSymbol(ex.answer)
        bass = ex.events[0][0]
        assert ("/" in ex.answer) == (cs.bass().name != cs.root().name)
        assert cs.bass().name == m21(bass)


@pytest.mark.parametrize("make", [lessons.interval_id, lessons.chord_id])
def test_prompt_keeps_spelling_through_musicxml(make, tmp_path):
    for seed in range(0, 40, 3):
        ex = make(seed=seed, level=3)
        want = sorted(m21_name(p) for p, _, _ in ex.events)
        assert sorted(saved_names(ex, tmp_path)) == want, (seed, ex.notes)


@pytest.mark.parametrize("bad", ["", "   ", "M", "3", "X9", "maj3" * 50, None, 3, b"M3",
                                 ["M3"], "M0", "P3", "m5", "\x00", "C#m7b5b9#11/Q"])
def test_unparsable_answers_get_the_expected_form_never_a_traceback(bad):
    ex = lessons.interval_id(seed=1)
    fb = ex.check(bad)
    assert not fb.correct and fb.score == 0 and "expected" in fb.message
    ch = lessons.chord_id(seed=1)
    fb = ch.check(bad)
    assert not fb.correct and fb.score == 0 and "expected" in fb.message


def test_bad_parameters_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="level"):
        lessons.interval_id(level=9)
    with pytest.raises(ValueError, match="fits"):
        lessons.interval_id(qualities=["P15"], low="C4", high="C5")
    with pytest.raises(ValueError, match="quality"):
        lessons.chord_id(qualities=["weird"])
