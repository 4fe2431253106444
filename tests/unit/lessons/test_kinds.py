"""The other drill kinds: right answers accepted, wrong ones rejected with a message,
prompts checked against music21 where it has the same notion."""

from __future__ import annotations

import pytest

music21 = pytest.importorskip("music21")

from mos_lab import lessons  # noqa: E402
from mos_lab.lessons import kinds  # noqa: E402
from mos_lab.theory.pitch import Pitch  # noqa: E402

ALL = [lessons.note_reading, lessons.key_signature, lessons.scale_id, lessons.roman_analysis,
       lessons.dictation, lessons.rhythm_tap, lessons.interval_build]
BAD = ["", "???", None, 42, ["x"], "\x00" * 5, "Z9 " * 300]


@pytest.mark.parametrize("make", ALL)
def test_every_generated_answer_is_accepted_and_bad_input_gets_the_expected_form(make):
    for seed in range(400):
        ex = make(seed=seed, level=1 + seed % 3)
        fb = ex.check(ex.answer)
        assert fb.correct and fb.score == 1.0, (seed, ex.answer, fb)
        assert ex.prompt.n_notes == len(ex.events)
    for bad in BAD:
        fb = make(seed=1).check(bad)
        assert not fb.correct and fb.score == 0 and "expected" in fb.message, (bad, fb)


def test_note_reading_matches_music21_and_rejects_neighbours():
    for seed in range(1000):
        ex = lessons.note_reading(seed=seed, level=1 + seed % 3, clef="bass" if seed % 2
                                  else "treble")
        p = ex.events[0][0]
        assert music21.pitch.Pitch(ex.answer.replace("b", "-") if len(p.name) > 1 else
                                   ex.answer).midi == p.midi
        for other in ("C4", "C#4", "Db4", "F#5", "Bb2"):
            if other != ex.answer:
                fb = ex.check(other)
                assert not fb.correct and ex.answer in fb.message


def test_key_signature_names_music21s_key_and_rejects_the_relative():
    for seed in range(500):
        ex = lessons.key_signature(seed=seed, level=3, mode="either")
        sharps = ex.prompt.key_signatures[0].key
        mode = ex.answer.split()[1]
        k = music21.key.KeySignature(sharps).asKey(mode)
        assert k.tonic.name.replace("-", "b") == ex.answer.split()[0], (seed, ex.answer)
        rel = music21.key.KeySignature(sharps).asKey("minor" if mode == "major" else "major")
        fb = ex.check(f"{rel.tonic.name.replace('-', 'b')} {rel.mode}")
        assert not fb.correct and fb.score == 0.5 and ex.answer in fb.message
        assert ex.check(ex.answer.replace(" major", "").replace(" minor", "m")).correct


def test_scales_tell_modes_of_the_same_notes_apart():
    for seed in range(300):
        ex = lessons.scale_id(seed=seed, level=2)
        names = [p.name for p, _, _ in ex.events][:-1]
        tonic = ex.answer.split(" ", 1)[0]
        assert names[0] == tonic
        for other in ("C major", "D dorian", "E phrygian"):
            if other != ex.answer:
                fb = ex.check(other)
                assert not fb.correct and ex.answer in fb.message


def test_roman_numerals_match_music21_chords_and_accept_equivalent_figures():
    for seed in range(300):
        ex = lessons.roman_analysis(seed=seed, level=1 + seed % 3)
        key_name = ex.question.split("key: ")[1].rstrip(")")
        tonic, mode = key_name.split()
        m21key = music21.key.Key(tonic.replace("b", "-") if len(tonic) > 1 else tonic, mode)
        chords: dict[int, list] = {}
        for p, start, _ in ex.events:
            chords.setdefault(start, []).append(p)
        for rn, (_, ps) in zip(ex.answer.split(), sorted(chords.items()), strict=True):
            r = music21.roman.RomanNumeral(rn, m21key)
            assert {x.pitchClass for x in r.pitches} == {p.pc for p in ps}, (seed, rn)
            assert r.bass().pitchClass == min(ps, key=lambda p: p.midi).pc, (seed, rn)
        short = ex.answer.replace("6/5", "65").replace("4/3", "43").replace("6/4", "64")
        assert ex.check(short).correct, short
    ex = next(e for s in range(500) if "V6/5" in (e := lessons.roman_analysis(seed=s,
                                                                               level=3)).answer)
    wrong = ex.answer.replace("V6/5", "V7", 1)
    fb = ex.check(wrong)
    assert not fb.correct and "wrong inversion" in fb.message and "chord" in fb.message


def test_dictation_is_graded_by_alignment():
    ex = lessons.dictation(seed=4, level=2)
    notes = ex.answer.split()
    fb = ex.check(" ".join(notes[:2] + notes[3:]))
    assert not fb.correct and "note 3" in fb.message and "missing" in fb.message
    assert 0.8 < fb.score < 1
    fb = ex.check(" ".join([*notes, "C4"]))
    assert not fb.correct and "extra" in fb.message
    assert ex.check([str(Pitch.parse(n).midi) for n in notes]).correct


def test_taps_are_graded_in_ms_with_a_tolerance():
    ex = lessons.rhythm_tap(seed=2, level=2, bpm=120, tolerance_ms=50)
    on = [float(x) for x in ex.answer.split()]
    assert ex.check([t + 30 for t in on]).correct
    fb = ex.check([on[0], *[t + 90 for t in on[1:]]])
    assert not fb.correct and "90 ms late" in fb.message
    fb = ex.check(on[:-1])
    assert not fb.correct and "not tapped" in fb.message
    assert not ex.check([*on, on[-1] + 400]).correct


def test_seeded_generators_repeat_and_parameters_are_kept():
    for make in ALL:
        assert make(seed=11, level=2).answer == make(seed=11, level=2).answer
    assert {lessons.scale_id(seed=s, kinds=["dorian"]).answer.split(" ", 1)[1]
            for s in range(50)} == {"dorian"}
    with pytest.raises(ValueError, match="level"):
        kinds.note_reading(level=7)


@pytest.mark.parametrize("make", ALL)
def test_prompts_keep_their_spelling_in_musicxml(make, tmp_path):
    for seed in (1, 5):
        ex = make(seed=seed, level=3)
        path = ex.prompt.save(tmp_path / f"{ex.kind}{seed}.musicxml")
        score = music21.converter.parse(str(path))
        got = sorted(n.nameWithOctave for x in score.recurse().notes
                     for n in (x.notes if x.isChord else [x]))
        want = sorted(p.letter + p.accidental.replace("b", "-") + str(p.octave)
                      for p, _, _ in ex.events)
        assert got == want, (ex.kind, seed)
        if ex.key_signature is not None:
            ks = next(score.recurse().getElementsByClass(music21.key.KeySignature))
            assert ks.sharps == ex.key_signature
