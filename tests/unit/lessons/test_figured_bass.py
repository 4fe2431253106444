"""theory.figured_bass (the small addition the figured-bass exercise needs): figures
realised as music21's figured-bass scale realises them, figures_for inverts realize."""

from __future__ import annotations

import pytest

from mos_lab.lessons import harmony, kinds
from mos_lab.theory.analysis.numeral import parse_numeral
from mos_lab.theory.figured_bass import (
    FiguredBassError,
    figures_for,
    parse_figures,
    realize,
    root_position,
)
from mos_lab.theory.key import Key
from mos_lab.theory.pitch import Pitch

#: Figures music21 completes as the manuals do (it leaves a lone "n3" or "7/#" bare).
FIGURES = ["", "5", "7", "6", "6,4", "6,5", "4,3", "4,2", "2", "#", "b", "#6", "b6",
           "7,5,#3", "6,#4,3", "6,5,b3", "b7,5,3", "9,5,3"]


def _m21(name: str) -> str:
    return name[0] + name[1:].replace("-", "b")


def test_realize_agrees_with_music21s_figured_bass_scale():
    realizer = pytest.importorskip("music21.figuredBass.realizerScale")
    checked = 0
    for fifths in range(-6, 7):
        for mode in ("major", "minor"):
            key = Key.from_signature(fifths, mode)
            m21 = realizer.FiguredBassScale(key.tonic.name.replace("b", "-"), mode)
            for bass in key.scale.pitches(2)[:7]:
                for fig in FIGURES:
                    ours = {p.name for p in realize(bass, fig, key)}
                    theirs = {_m21(n) for n in m21.getPitchNames(
                        bass.name_with_octave.replace("b", "-"), fig)}
                    assert ours == theirs, (key.name, bass, fig, ours, theirs)
                    checked += 1
    assert checked == 13 * 2 * 7 * len(FIGURES)


def test_figure_spellings_read_alike():
    c = Key.parse("C")
    assert parse_figures("65") == parse_figures("6/5") == parse_figures("6 5") \
        == parse_figures("6,5,3")
    assert parse_figures("7#") == parse_figures("7/#") == parse_figures("7 #3")
    assert [p.name for p in realize("D3", "7/n", Key.parse("G"))] == ["D", "F", "A", "C"]
    assert [p.name for p in realize("G2", "♯", c)] == ["G", "B#", "D"]
    assert [p.name for p in realize("F2", "4/2", c)] == ["F", "G", "B", "D"]


@pytest.mark.parametrize("bad", ["x", "6/6", "##", "6/x", "1", "6/5/4/3/2/9/8/7/6/5/4", None])
def test_unreadable_figures_are_named(bad):
    with pytest.raises(FiguredBassError, match="figures"):
        realize("C3", bad, "C")


def test_root_position_and_its_errors():
    assert [p.name for p in root_position([Pitch.parse(n) for n in ["F", "A", "D", "B"]])] \
        == ["B", "D", "F", "A"]
    with pytest.raises(FiguredBassError, match="do not stack in thirds"):
        root_position([Pitch.parse(n) for n in ("C", "D", "E")])
    with pytest.raises(FiguredBassError, match="bass Bb is not one of"):
        figures_for("Bb2", ["C", "E", "G"], "C")


def test_figures_for_every_numeral_of_the_lessons_realises_its_chord():
    """Each numeral the harmonisation and analysis lessons use, in every key they use:
    the figure written for its bass realises exactly its members."""
    seen = 0
    lines = {*harmony.PROGRESSIONS.values(), *kinds.PROGRESSIONS.values()}
    for prog in (p for group in lines for p in group):
        for numeral in prog.split():
            minor = prog.split()[0][0] == "i"
            for f in range(-5, 6):
                key = Key(Pitch.from_fifths(f + 3 if minor else f), "minor" if minor else
                          "major")
                n = parse_numeral(numeral, minor)
                t = key.tonic.fifths
                members = [Pitch.from_fifths(t + m) for m in n.members]
                bass = Pitch.from_fifths(t + n.bass, 3)
                fig = figures_for(bass, members, key)
                got = realize(bass, fig, key)
                assert {p.fifths for p in got} == {p.fifths for p in members}, \
                    (key.name, numeral, fig, got)
                seen += 1
    assert seen > 500
    a = Key.parse("a")
    assert figures_for("E3", ["E", "G#", "B", "D"], a) == "7/#"
    assert figures_for("G#2", ["E", "G#", "B", "D"], a) == "6/5"
    assert figures_for("D3", ["D", "F", "A", "C"], "G") == "7/n"
    assert figures_for("C3", ["C", "E", "G"], "C") == ""
