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


def test_every_figured_bass_model_answer_is_accepted_and_its_figures_shown():
    from mos_lab.theory.figured_bass import realize
    from mos_lab.theory.pitch import Pitch

    for level in (1, 2, 3):
        for seed in range(30):
            ex = lessons.harmonisation(seed=seed, level=level, figured=True)
            plain = lessons.harmonisation(seed=seed, level=level)
            assert ex.answer == plain.answer and ex.events == plain.events
            assert "figured bass" in ex.question and ex.skill.startswith("figured bass")
            fb = ex.check(ex.answer)
            assert fb.correct and fb.score == 1 and "figures" in fb.message, (ex.question, fb)
            assert lessons.grade("harmonisation", {**ex.params, "level": level}, seed,
                                 ex.answer) == fb
            # each bar's figure, realised by theory, is the model chord's pitch classes
            key = Key.parse(ex.question.split(", in ")[1].split(":")[0])
            bars = ex.question.split(": ", 1)[1].split(" | ")
            for bar, chord in zip(bars, ex.answer.split(" | "), strict=True):
                bass, _, fig = bar.partition(" ")
                want = {p.pc for p in realize(bass, fig, key)}
                got = {Pitch.parse(n).pc for n in chord.split()}
                assert got <= want and len(want) - len(got) <= 1, (bar, chord)


def test_figured_bass_errors_are_named_with_rule_figure_and_bar():
    from mos_lab.lessons.harmony import grade_figured_bass
    from mos_lab.theory.pitch import Pitch

    a = Key.parse("a")
    basses = [Pitch.parse(n) for n in ("A2", "D3", "E3", "A2")]
    figures = ["", "", "#", ""]
    good = "C5 A4 E4 A2 | D5 A4 F4 D3 | B4 G#4 E4 E3 | A4 E4 C4 A2"
    assert grade_figured_bass(a, basses, figures, good).correct
    fb = grade_figured_bass(a, basses, figures, good.replace("G#4", "G4"))
    assert not fb.correct and "bar 3: G is not in # over E" in fb.message
    fb = grade_figured_bass(a, basses, ["", "6", "#", ""], good)
    assert "bar 2: A is not in 6 over D" in fb.message  # 6 over D asks for D F B
    fb = grade_figured_bass(a, basses, figures,
                            "C5 A4 E4 A2 | D5 A4 F4 F3 | B4 G#4 E4 E3 | A4 E4 C4 A2")
    assert "bar 2: the given bass is D, not F" in fb.message
    # parallel fifths and octaves, named by the voice-leading checker with the bar
    c = Key.parse("C")
    fb = grade_figured_bass(c, [Pitch.parse(n) for n in ("C3", "D3", "G2", "C3")],
                            ["", "", "", ""],
                            "C5 G4 E4 C3 | D5 A4 F4 D3 | D5 B4 G4 G2 | C5 G4 E4 C3")
    assert not fb.correct and 0 < fb.score < 1
    assert "bar 2: parallel fifths" in fb.message or "bar 2: parallel octaves" in fb.message
    assert "not in" not in fb.message  # the chords are right; only the rules are broken
    fb = grade_figured_bass(c, [Pitch.parse("C3")] * 2, ["", ""], "C5 E4 G3")
    assert not fb.correct and "expected" in fb.message and "bass notes" in fb.message
