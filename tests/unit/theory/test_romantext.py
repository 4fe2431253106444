"""RomanText in and out: numerals read in their keys, the 371 human analyses round-trip,
and malformed text is reported by line and token."""

from __future__ import annotations

from pathlib import Path

import pytest

from mos_lab.score import Score
from mos_lab.theory import Analysis, RomanTextError, read_romantext
from mos_lab.theory.analysis.numeral import parse_numeral

CHORALE = """Composer: J. S. Bach
Title: Aus meines Herzens Grunde
Time Signature: 3/4
m0 b3 G: I
m1 b2 IV6 b3 V6
m2 I b2 V b3 vi
m3 IV b2.5 viio6 b3 I
m4 V || b3 I
"""


def _labels(a: Analysis) -> list[tuple[int, float, str, str]]:
    return [(s.measure, s.beat, s.key, s.numeral) for s in a]


def test_reads_measures_beats_keys_and_numerals() -> None:
    a = read_romantext(CHORALE)
    assert _labels(a)[:4] == [(0, 3.0, "G", "I"), (1, 2.0, "G", "IV6"), (1, 3.0, "G", "V6"),
                              (2, 1.0, "G", "I")]
    assert a.metadata["Title"] == "Aus meines Herzens Grunde"
    s = a[1]
    assert (s.chord, s.root, s.quality, s.inversion, s.bass) == ("C/E", "C", "major", 1, 4)
    # the pickup (m0 b3) starts the piece; bar 1 begins one beat later
    assert a[0].tick == 0 and a[1].tick == 480 * 2


@pytest.mark.parametrize(("text", "minor", "pcs", "bass"), [
    ("V6/5/V", False, {2, 6, 9, 0}, 6),  # D F# A C over F#, in C
    ("viio7/ii", False, {1, 4, 7, 10}, 1),
    ("It6", False, {8, 0, 6}, 8),
    ("Ger6/5", True, {8, 0, 3, 6}, 8),
    ("Fr4/3", False, {8, 0, 2, 6}, 8),
    ("N6", True, {1, 5, 8}, 5),
    ("bVI", False, {8, 0, 3}, 8),
    ("iv", False, {5, 8, 0}, 5),
    ("viio7", True, {11, 2, 5, 8}, 11),
    ("VII", True, {10, 2, 5}, 10),
    ("ii/o4/3", True, {2, 5, 8, 0}, 8),
    ("IVmaj6/5", False, {5, 9, 0, 4}, 9),
    ("V2/V/III", True, {5, 9, 0, 3}, 3),  # F7 over Eb, in c
])
def test_numerals_name_their_chords(text: str, minor: bool, pcs: set[int], bass: int) -> None:
    n = parse_numeral(text, minor)
    assert set(n.pcs) == pcs
    assert (7 * n.bass) % 12 == bass


def test_write_then_read_keeps_the_labels() -> None:
    a = read_romantext(CHORALE)
    text = a.to_romantext()
    assert "m0 b3 G: I" in text and "Time Signature: 3/4" in text
    assert _labels(read_romantext(text)) == _labels(a)


def test_measure_copies_repeat_the_labels() -> None:
    a = read_romantext("Time Signature: 4/4\nm1 C: I b3 V\nm2 I\nm3-4 = m1-2\nm5 = m2")
    assert _labels(a)[3:] == [(3, 1.0, "C", "I"), (3, 3.0, "C", "V"), (4, 1.0, "C", "I"),
                              (5, 1.0, "C", "I")]
    with pytest.raises(RomanTextError, match="line 2"):
        read_romantext("m1 C: I\nm3-5 = m1-2")


def test_music21_extras_are_read() -> None:
    """Implied chords in parentheses, optional key areas, variants, additions after an
    applied chord, Pedal lines without a colon (as in music21's Monteverdi analyses)."""
    a = read_romantext("Time Signature: 4/4\nPedal 1 m2 b1 m2 b2\nm1 F: ( vi ) b3 ?(a: "
                       "V/V[no3]\nm2 var1 I\nm2varA I\nm2 b2 ?)F I")
    assert _labels(a) == [(1, 1.0, "F", "vi"), (1, 3.0, "a", "V/V[no3]"),
                          (2, 2.0, "F", "I")]
    assert a[1].pcs == (6, 11) and a.metadata["Pedal"] == "1 m2 b1 m2 b2"


@pytest.mark.parametrize(("text", "where"), [
    ("m1 C: I b2 V9x", "line 1: token 'V9x'"),
    ("Time Signature: 4/4\nm1 C: I\nm2 b3 Q:", "line 3: token 'Q:'"),
    ("m1 I", "line 1: token 'I': numeral before any key"),
    ("Time Signature: 4/4\nhello there", "line 2: token 'hello'"),
    ("Time Signature: four", "line 1: token 'four'"),
])
def test_malformed_text_names_line_and_token(text: str, where: str) -> None:
    with pytest.raises(RomanTextError, match=where):
        read_romantext(text)


def test_placed_on_a_score_measure_missing_is_an_error_unless_lenient() -> None:
    score = Score.from_notes([(0, 1920, 60, 80)])
    with pytest.raises(RomanTextError, match="no such measure"):
        read_romantext("m1 C: I\nm9 V", score)
    a = read_romantext("m1 C: I\nm9 V", score, strict=False)
    assert [s.numeral for s in a] == ["I"] and "left out" in a.message


def test_all_human_analyses_round_trip(corpus: Path) -> None:
    files = sorted((corpus / "roman" / "bach-chorales").glob("*/analysis.txt"))
    assert len(files) == 371
    for f in files:
        a = read_romantext(f.read_text(encoding="utf-8"))
        assert a.segments, f
        again = read_romantext(a.to_romantext())
        assert _labels(again) == _labels(a), f
        assert [s.pcs for s in again] == [s.pcs for s in a]


def test_analyser_output_reads_back_with_the_same_labels() -> None:
    import numpy as np

    from mos_lab.score import TimeSignature
    from mos_lab.theory import analyze

    rng = np.random.default_rng(7)
    for trial in range(30):
        n = int(rng.integers(1, 60))
        rows = np.column_stack([rng.integers(0, 5000, n), rng.integers(1, 2000, n),
                                rng.integers(30, 100, n), rng.integers(1, 128, n)])
        s = Score.from_notes(rows)
        if trial % 2:
            s = s.replace(time_signatures=(TimeSignature(0, 3, 4), TimeSignature(2880, 6, 8)))
        a = analyze(s)
        b = read_romantext(a.to_romantext())
        assert [(x.measure, round(x.beat, 2), x.key, x.numeral) for x in b] == [
            (x.measure, round(x.beat, 2), x.key, x.numeral) for x in a]
