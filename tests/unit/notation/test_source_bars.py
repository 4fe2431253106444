"""Bar lines and tied heads as the source wrote them: read from MusicXML, kept by the Score,
shown by the engraver and written back by the MusicXML export."""

from __future__ import annotations

import numpy as np
import pytest

from mos_lab.notation import engrave
from mos_lab.notation.model import UNITS
from mos_lab.score import load, nvx1

pytest.importorskip("music21")

_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _note(step: str, quarters: float, tie: str = "") -> str:
    """One MusicXML note of ``quarters`` (divisions 2) in octave 4, tied as ``tie`` says."""
    kind = {0.5: ("eighth", 0), 1: ("quarter", 0), 1.5: ("quarter", 1), 2: ("half", 0),
            3: ("half", 1), 4: ("whole", 0)}[quarters]
    ties = "".join(f'<tie type="{t}"/>' for t in tie.split()) if tie else ""
    tied = "".join(f'<tied type="{t}"/>' for t in tie.split()) if tie else ""
    return (f"<note><pitch><step>{step}</step><octave>4</octave></pitch>"
            f"<duration>{round(quarters * 2)}</duration>{ties}<type>{kind[0]}</type>"
            + "<dot/>" * kind[1] + (f"<notations>{tied}</notations>" if tied else "")
            + "</note>")


def _musicxml(bars: list[list[str]]) -> bytes:
    """A one-part 4/4 MusicXML score of these measures (the first may be a pickup)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?><score-partwise version="4.0">'
           '<part-list><score-part id="P1"><part-name>S</part-name></score-part></part-list>'
           '<part id="P1">']
    for i, notes in enumerate(bars):
        attrs = ("<attributes><divisions>2</divisions><key><fifths>0</fifths></key>"
                 "<time><beats>4</beats><beat-type>4</beat-type></time>"
                 "<clef><sign>G</sign><line>2</line></clef></attributes>") if i == 0 else ""
        out.append(f'<measure number="{i}">{attrs}{"".join(notes)}</measure>')
    out.append("</part></score-partwise>")
    return "".join(out).encode()


#: A hymn with a one-beat upbeat whose notes are all quarters (nothing tells where the bar
#: lines go), a 4/4 bar split 3 + 1 at a phrase end with no meter change, a dotted quarter
#: on beat 2 written once tied over the half bar and once whole.
HYMN = [
    [_note("G", 1)],
    [_note("C", 1), _note("D", 1), _note("E", 1), _note("F", 1)],
    [_note("G", 1), _note("A", 1), _note("G", 1)],  # 3 beats: the phrase ends
    [_note("E", 1)],  # 1 beat: the next phrase's upbeat
    [_note("D", 1), _note("E", 1, "start"), _note("E", 0.5, "stop"), _note("F", 0.5),
     _note("G", 1)],
    [_note("A", 1), _note("G", 1.5), _note("F", 0.5), _note("E", 1)],
    [_note("D", 1), _note("C", 2)],
]
LINES = [0.0, 1.0, 5.0, 8.0, 9.0, 13.0, 17.0, 20.0]  # bar lines in quarters, end included


def _heads(e) -> int:
    return sum(svg.count('class="notehead"') for svg in e.pages())


def _starts(e) -> list[float]:
    return [m.start / UNITS for m in e.notated.parts[0].measures]


def test_the_bar_lines_and_ties_read_are_kept_engraved_exported_and_read_again(tmp_path):
    score = load(_musicxml(HYMN))
    assert (score.measures / score.tpq).tolist() == LINES
    # the E tied over the half bar of bar 4 is written as two heads; the G is one
    assert score.ties is not None and (score.ties[:, 1] / score.tpq).tolist() == [11.0]
    e = engrave(score)
    assert _starts(e) == LINES[:-1]
    assert e.notated.pickup == UNITS  # the upbeat, though nothing in the notes tells it
    assert _heads(e) == 20  # 19 notes, one of them written as two tied heads
    back = load(score.save(tmp_path / "hymn.musicxml"))
    assert (back.measures / back.tpq).tolist() == LINES
    assert back.ties is not None and (back.ties[:, 1] / back.tpq).tolist() == [11.0]
    assert np.array_equal(back.notes["start"] * score.tpq, score.notes["start"] * back.tpq)
    again = engrave(back)
    assert _starts(again) == LINES[:-1] and _heads(again) == 20


def test_measures_and_ties_survive_nvx1_and_replace():
    score = load(_musicxml(HYMN))
    back = nvx1.from_nvx1(score.to_nvx1())
    assert np.array_equal(back.measures, score.measures)
    assert np.array_equal(back.ties, score.ties)
    moved = score.transpose(2)
    assert np.array_equal(moved.measures, score.measures)
    assert np.array_equal(moved.ties, score.ties)
    # new notes without new ties: the old ties described other notes
    assert score.replace(notes=score.notes[:3]).ties is None


def test_a_pickup_the_notes_cannot_tell_is_kept_and_an_explicit_one_still_wins():
    score = load(_musicxml(HYMN))
    assert _starts(engrave(score))[:3] == [0.0, 1.0, 5.0]
    told = engrave(score, pickup=0)  # the caller's pickup: the engraver's own barring
    assert _starts(told)[:3] == [0.0, 4.0, 8.0]


def test_abc_bar_lines_and_ties_are_kept_as_written():
    from mos_lab.score.notation import read_abc

    tune = "X:1\nT:hymn\nM:4/4\nL:1/4\nK:C\nG|CDEF|GAG|E|DE- E/2F/2G|AG3/2F/2E|DC2|]\n"
    score = read_abc(tune)
    assert (score.measures / score.tpq).tolist() == LINES
    assert score.ties is not None and (score.ties[:, 1] / score.tpq).tolist() == [11.0]
    e = engrave(score)
    assert _starts(e) == LINES[:-1] and _heads(e) == 20


def test_the_exact_musicxml_writer_keeps_the_bar_lines_too():
    from mos_lab.score.notation import exact_musicxml

    score = load(_musicxml(HYMN))
    back = load(exact_musicxml(score))  # the writer for times no note value writes
    assert (back.measures / back.tpq).tolist() == LINES
    assert np.array_equal(back.notes["start"] * score.tpq, score.notes["start"] * back.tpq)


def test_a_source_of_too_many_bars_is_refused_before_any_work():
    from mos_lab.notation import EngraveError

    score = load(_musicxml(HYMN))
    tiny = np.arange(0, 20_002 * 10, 10, dtype=np.int64)  # 20,001 bars of a few ticks
    with pytest.raises(EngraveError, match="at most 10000"):
        engrave(score.replace(measures=tiny))


def test_exporting_stored_measures_copies_no_score(tmp_path, monkeypatch):
    """The stored measures are whole bars already: the export writes them without music21's
    deep copy of the score to fill them with rests (a third of a chorale's save)."""
    import music21

    copies: list[str] = []
    real = music21.stream.Stream.coreCopyAsDerivation

    def counted(self, *args, **kwargs):
        copies.append(type(self).__name__)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(music21.stream.Stream, "coreCopyAsDerivation", counted)
    score = load(_musicxml(HYMN))
    copies.clear()  # reading copies (music21's own reader): only the save is asked about
    saved = score.save(tmp_path / "hymn.musicxml")
    assert copies == []
    back = load(saved)
    assert (back.measures / back.tpq).tolist() == LINES
    assert np.array_equal(back.notes["pitch"], score.notes["pitch"])


def _two_parts(upper: list[list[str]], lower: list[list[str]]) -> bytes:
    """A two-part 4/4 MusicXML score, each part with its own measures."""
    head = ('<?xml version="1.0" encoding="UTF-8"?><score-partwise version="4.0"><part-list>'
            '<score-part id="P1"><part-name>A</part-name></score-part>'
            '<score-part id="P2"><part-name>B</part-name></score-part></part-list>')
    attrs = ("<attributes><divisions>2</divisions><key><fifths>0</fifths></key>"
             "<time><beats>4</beats><beat-type>4</beat-type></time>"
             "<clef><sign>G</sign><line>2</line></clef></attributes>")
    body = "".join(
        f'<part id="P{k + 1}">' + "".join(
            f'<measure number="{i + 1}">{attrs if i == 0 else ""}{"".join(m)}</measure>'
            for i, m in enumerate(bars)) + "</part>"
        for k, bars in enumerate((upper, lower)))
    return (head + body + "</score-partwise>").encode()


def test_parts_barred_differently_keep_the_lines_that_split_fewest_notes() -> None:
    """The first part sounds one whole note and rests, barred 4 + 4 + 4 + 4; the second
    has a one-beat bar, so its lines run a beat later from there. One set of bar lines is
    kept: the second part's, which split no note, where the first part's would split two
    of the second's half notes. The heads are then as many as the source writes."""
    rest = '<note><rest/><duration>8</duration><type>whole</type></note>'
    upper = [[_note("C", 4)], [rest], [rest], [rest]]
    lower = [[_note("E", 1)] * 4, [_note("F", 1)], [_note("G", 2), _note("A", 2)],
             [_note("G", 2), _note("E", 2)], [_note("D", 2), _note("C", 1)]]
    score = load(_two_parts(upper, lower))
    assert [round(t / score.tpq, 3) for t in score.measures.tolist()] == [0.0, 4.0, 5.0, 9.0,
                                                                           13.0, 16.0]
    e = engrave(score)
    assert _starts(e) == [0.0, 4.0, 5.0, 9.0, 13.0]
    assert _heads(e) == 1 + 11
