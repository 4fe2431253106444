"""Voices and note lengths as the source wrote them: two voices of one part in unison (a
held note under moving ones of its pitch) and grace notes come back as written, are kept by
the Score (``Score.voices``) and shown by the engraver."""

from __future__ import annotations

import numpy as np
import pytest

from mos_lab.notation import engrave
from mos_lab.score import load, nvx1

pytest.importorskip("music21")


def _note(step: str, octave: int, quarters: int, voice: int, grace: bool = False) -> str:
    """One MusicXML note (divisions 1) in ``voice``; a grace note takes no time."""
    kind = {1: "quarter", 2: "half", 4: "whole"}[quarters]
    if grace:
        return (f'<note><grace slash="yes"/><pitch><step>{step}</step><octave>{octave}</octave>'
                f"</pitch><voice>{voice}</voice><type>eighth</type></note>")
    return (f"<note><pitch><step>{step}</step><octave>{octave}</octave></pitch>"
            f"<duration>{quarters}</duration><voice>{voice}</voice><type>{kind}</type></note>")


def _musicxml(bars: list[tuple[list[str], list[str]]]) -> bytes:
    """A one-part 4/4 score: each bar's voice 1, then (after a backup) its voice 2."""
    out = ['<?xml version="1.0" encoding="UTF-8"?><score-partwise version="4.0">'
           '<part-list><score-part id="P1"><part-name>A</part-name></score-part></part-list>'
           '<part id="P1">']
    for i, (upper, lower) in enumerate(bars):
        attrs = ("<attributes><divisions>1</divisions><key><fifths>0</fifths></key>"
                 "<time><beats>4</beats><beat-type>4</beat-type></time>"
                 "<clef><sign>G</sign><line>2</line></clef></attributes>") if i == 0 else ""
        back = "<backup><duration>4</duration></backup>" if lower else ""
        out.append(f'<measure number="{i + 1}">{attrs}{"".join(upper)}{back}'
                   f'{"".join(lower)}</measure>')
    out.append("</part></score-partwise>")
    return "".join(out).encode()


#: Bar 1: voice 1 sings E E F E over a whole E held in voice 2 (the same pitch starts in
#: both voices at once and again while the E is held); bar 2: a grace B before the B.
PIECE = [
    ([_note("E", 4, 1, 1), _note("E", 4, 1, 1), _note("F", 4, 1, 1), _note("E", 4, 1, 1)],
     [_note("E", 4, 4, 2)]),
    ([_note("B", 4, 1, 1, grace=True), _note("B", 4, 1, 1), _note("A", 4, 1, 1),
      _note("B", 4, 2, 1)], []),
]


def _written(score) -> list[tuple[float, float, int, int]]:
    """(onset, length in quarters, MIDI, voice) of every note, in order."""
    n, tpq = score.notes, score.tpq
    voices = score.voices if score.voices is not None else np.ones(len(n), np.uint8)
    return sorted(zip((n["start"] / tpq).tolist(), (n["duration"] / tpq).tolist(),
                      n["pitch"].tolist(), voices.tolist(), strict=True))


WANT = [(0.0, 1.0, 64, 1), (0.0, 4.0, 64, 2), (1.0, 1.0, 64, 1), (2.0, 1.0, 65, 1),
        (3.0, 1.0, 64, 1), (4.0, 1.0, 71, 1), (5.0, 1.0, 69, 1), (6.0, 2.0, 71, 1)]


def test_unison_voices_and_grace_notes_read_as_written_and_engraved():
    score = load(_musicxml(PIECE))
    # MIDI pairs each note-off with the first open note of its pitch: the held E and the
    # B after the grace note came back with other notes' lengths
    assert _written(score) == WANT
    assert any("grace" in w for w in score.warnings)
    e = engrave(score)
    assert sum(svg.count('class="notehead"') for svg in e.pages()) == 8
    first = e.notated.parts[0].measures[0]
    shapes = sorted((v.number, [ev.type for ev in v.events if ev.heads]) for v in first.voices)
    assert shapes == [(1, ["quarter"] * 4), (2, ["whole"])]


def test_source_voices_survive_nvx1_transpose_and_musicxml(tmp_path):
    score = load(_musicxml(PIECE))
    assert _written(nvx1.from_nvx1(score.to_nvx1())) == WANT
    up = score.transpose(2)
    assert np.array_equal(up.voices, score.voices)
    assert score.replace(notes=score.notes[:3]).voices is None  # other notes: dropped
    back = load(score.save(tmp_path / "v.musicxml"))
    assert _written(back) == WANT


def test_crossing_voices_are_engraved_as_the_source_wrote_them():
    # voice 1 starts below voice 2 (E under G) and crosses above it: pitch alone would put
    # the G in voice 1
    piece = [([_note("E", 4, 1, 1), _note("C", 5, 1, 1), _note("D", 5, 2, 1)],
              [_note("G", 4, 2, 2), _note("G", 4, 2, 2)])]
    score = load(_musicxml(piece))
    assert score.voices is not None
    bar = engrave(score).notated.parts[0].measures[0]
    shapes = sorted((v.number, [ev.type for ev in v.events if ev.heads]) for v in bar.voices)
    assert shapes == [(1, ["quarter", "quarter", "half"]), (2, ["half", "half"])]
    without = engrave(score.replace(voices=None)).notated.parts[0].measures[0]
    assert sorted((v.number, [ev.type for ev in v.events if ev.heads])
                  for v in without.voices) != shapes  # the engraver's own separation


def test_crossing_voices_are_written_back_as_read(tmp_path):
    piece = [([_note("E", 4, 1, 1), _note("C", 5, 1, 1), _note("D", 5, 2, 1)],
              [_note("G", 4, 2, 2), _note("G", 4, 2, 2)])]
    score = load(_musicxml(piece))
    back = load(score.save(tmp_path / "x.musicxml"))
    assert _written(back) == _written(score)


def test_a_tie_left_open_does_not_swallow_the_next_note():
    # a tie started and never stopped (as a first ending's last note reads once the
    # repeat is expanded): music21's MIDI joins the next B into it, which lost that note
    tied = _note("B", 4, 1, 1).replace("<voice>", '<tie type="start"/><voice>').replace(
        "</type>", '</type><notations><tied type="start"/></notations>')
    piece = [([_note("A", 4, 2, 1), _note("A", 4, 1, 1), tied], []),
              ([_note("B", 4, 1, 1), _note("A", 4, 1, 1), _note("G", 4, 2, 1)], [])]
    score = load(_musicxml(piece))
    assert _written(score)[2:5] == [(3.0, 1.0, 71, 1), (4.0, 1.0, 71, 1), (5.0, 1.0, 69, 1)]
    assert sum(svg.count('class="notehead"') for svg in engrave(score).pages()) == 6
