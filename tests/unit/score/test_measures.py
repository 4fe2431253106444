"""The Score's stored bar lines and written ties: checked when made, with errors that name
the field and the entry."""

from __future__ import annotations

import numpy as np
import pytest

from mos_lab.score import Score, ScoreError, nvx1


def line() -> Score:
    return Score.from_notes([(0, 480, 60, 90), (480, 960, 62, 90), (1440, 480, 64, 90)])


def test_bar_lines_must_rise_and_ties_must_fall_inside_their_note():
    s = line()
    ok = s.replace(measures=np.array([0, 480, 1920]), ties=np.array([[1, 960]]))
    assert ok.measures.tolist() == [0, 480, 1920] and ok.ties.tolist() == [[1, 960]]
    assert not ok.measures.flags.writeable
    with pytest.raises(ScoreError, match=r"measures\[2\]: 480 does not come after 1920"):
        s.replace(measures=np.array([0, 1920, 480]))
    with pytest.raises(ScoreError, match="a measure needs its start and end"):
        s.replace(measures=np.array([0]))
    with pytest.raises(ScoreError, match=r"ties\[0\]: tick 480 is not inside notes\[1\]"):
        s.replace(ties=np.array([[1, 480]]))  # the note's own start is no tie
    with pytest.raises(ScoreError, match=r"ties\[0\]: row 7 is not a note"):
        s.replace(ties=np.array([[7, 100]]))
    with pytest.raises(ScoreError, match="shape"):
        s.replace(ties=np.array([1, 2, 3]))


def test_nvx1_names_a_tie_on_a_note_that_does_not_exist():
    doc = line().replace(ties=np.zeros((0, 2), dtype=np.int64)).to_nvx1()
    assert doc["ties"] == [] and nvx1.from_nvx1(doc).ties.shape == (0, 2)
    doc["ties"] = [{"track": 0, "note": 9, "tick": 10}]
    with pytest.raises(ScoreError, match=r"ties\[0\]: tracks\[0\].notes\[9\] does not exist"):
        nvx1.from_nvx1(doc)
    doc["ties"] = [{"track": 0, "note": 1, "tick": 960, "extra": 1}]
    assert any("extra" in p for p in nvx1.validate(doc))
