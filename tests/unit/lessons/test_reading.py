"""The helpers every kind shares: level check, guarded reading, one-answer grading."""

from __future__ import annotations

import pytest

from mos_lab import lessons
from mos_lab.lessons._reading import check_level, graded, plain, read
from mos_lab.lessons.exercise import Feedback


def test_check_level_names_the_levels_there_are():
    assert check_level(2, (3, 1, 2)) == 2
    with pytest.raises(ValueError, match=r"level 4 is not one of \[1, 2, 3\]"):
        check_level(4, {1: "a", 2: "b", 3: "c"})
    for make in (lessons.interval_id, lessons.chord_id, lessons.note_reading,
                 lessons.dictation, lessons.harmonisation):
        with pytest.raises(ValueError, match="level 9 is not one of"):
            make(seed=0, level=9)


def test_read_turns_away_non_text_and_long_text_unread():
    seen: list[str] = []

    def reader(text: str) -> int | str:
        seen.append(text)
        return int(text) if text.isdigit() else f"could not read {text!r}"

    assert read("12", 4, reader, "digits") == 12
    assert read("12345", 4, reader, "digits") == "expected digits"
    assert read(None, 4, reader, "digits") == "expected digits"
    assert read("x", 4, reader, "digits") == "could not read 'x'"
    assert seen == ["12", "x"]
    assert plain("F♯4 B♭3") == "F#4 Bb3"
    assert lessons.note_reading(seed=3).check("F♯4") == lessons.note_reading(seed=3).check("F#4")


def test_graded_shape():
    def miss(got: int) -> Feedback:
        return Feedback(False, 0.5, f"not {got}")

    assert graded("bad form", 3, "three", miss) == Feedback(False, 0.0, "bad form")
    assert graded(3, 3, "three", miss) == Feedback(True, 1.0, "right: three")
    assert graded(4, 3, "three", miss) == Feedback(False, 0.5, "not 4")
