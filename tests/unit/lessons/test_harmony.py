"""Four-part harmonisation: model answers pass theory's checker; errors named with bar."""

from __future__ import annotations

from mos_lab import lessons
from mos_lab.lessons.harmony import _passages, grade_harmonisation
from mos_lab.theory.key import Key


def test_every_model_answer_is_accepted():
    for level in (1, 2, 3):
        assert len(_passages(level)) >= 20
        for seed in range(40):
            ex = lessons.harmonisation(seed=seed, level=level)
            fb = ex.check(ex.answer)
            assert fb.correct and fb.score == 1, (ex.question, ex.answer, fb)
            bass = [p.name_with_octave for p, _, _ in ex.events]
            assert bass == [ch.split()[-1] for ch in ex.answer.split(" | ")]


def test_parallels_are_named_with_rule_and_bar():
    key = Key.parse("C")
    fb = grade_harmonisation(key, ["I", "ii", "V", "I"],
                             "C5 G4 E4 C3 | D5 A4 F4 D3 | D5 B4 G4 G3 | C5 G4 E4 C4")
    assert not fb.correct
    assert "bar 2: parallel fifths" in fb.message or "bar 2: parallel octaves" in fb.message
    assert 0 < fb.score < 1


def test_wrong_chords_and_bass_are_named():
    key = Key.parse("C")
    fb = grade_harmonisation(key, ["I", "IV", "V", "I"],
                             "E5 C5 G4 C3 | F5 C5 A4 A2 | D5 B4 G4 G2 | C5 C5 E4 C3")
    assert not fb.correct and "bar 2: the bass of IV is F, not A" in fb.message
    fb = grade_harmonisation(key, ["I", "IV", "V", "I"],
                             "E5 C5 G4 C3 | F5 C5 A4 F3 | D5 Bb4 G4 G2 | C5 G4 E4 C3")
    assert "bar 3: Bb is not in V" in fb.message


def test_unreadable_realisations_say_the_expected_form():
    ex = lessons.harmonisation(seed=1)
    for bad in ("", "C4 E4", "C4 E4 G4 C3", "X | Y | Z | W", None, 5, "C4 " * 1000):
        fb = ex.check(bad)
        assert not fb.correct and fb.score == 0 and ("expected" in fb.message), (bad, fb)
