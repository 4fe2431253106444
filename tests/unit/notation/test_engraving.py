"""Engraving with verovio: SVG pages, their noteheads, the timemap in Score seconds."""

from __future__ import annotations

import re

import numpy as np
import pytest

import mos_lab.notation  # noqa: F401  (registers Score.engrave)
from mos_lab.notation import EngraveError, engrave
from mos_lab.notation.build import MAX_PARTS
from mos_lab.score import Score, Track
from mos_lab.score._types import NOTE_DTYPE
from mos_lab.score.tempo import TempoChange, TempoMap
from tests.unit.notation.conftest import make_score


def heads(svg: str) -> int:
    return svg.count('class="notehead"')


def test_every_note_is_a_notehead_and_ties_add_heads():
    # 8 quarters + one note of 6 quarters over a bar line (2 heads)
    rows = [(i * 480, 480, 60 + i, 0) for i in range(8)] + [(8 * 480 + 960, 6 * 480, 72, 0)]
    e = engrave(make_score(rows))
    svg = "".join(e.pages())
    assert heads(svg) == 8 + 2
    # each Score note's id is on the page, so a click leads back to the note
    assert all(f'id="n{i}"' in svg for i in range(9))


def test_timemap_gives_onsets_in_the_scores_own_seconds():
    # 60 BPM: quarter n starts at n seconds; a tempo change at tick 1920 to 120 BPM
    tempo = TempoMap(480, [TempoChange(0, 1_000_000), TempoChange(1920, 500_000)])
    s = make_score([(i * 480, 480, 60 + i, 0) for i in range(8)])
    s = s.replace(tempo=tempo, spelling=s.spelling)
    e = engrave(s)
    got = [e.timemap[f"n{i}"] for i in range(8)]
    assert got == pytest.approx([0, 1, 2, 3, 4, 4.5, 5, 5.5])
    assert e.ids_at(2.5) == ["n2"]
    assert e.ids_at(4.6) == ["n5"]


def test_performed_timing_is_kept_in_the_timemap():
    # a played note 30 ticks late is drawn on the beat but heard when it was played
    s = make_score([(0, 480, 60, 0), (510, 450, 62, 0), (960, 480, 64, 0), (1440, 470, 65, 0)]
                   + [(1920 + i * 240 + (7 if i % 2 else -5), 230, 67, 0) for i in range(8)])
    e = engrave(s)
    row = int(np.flatnonzero(s.notes["start"] == 510)[0])
    assert e.timemap[f"n{row}"] == pytest.approx(float(s.tempo.ticks_to_seconds(510)))


def test_pages_come_one_by_one_and_width_and_zoom_change_the_layout():
    rows = [(i * 240, 240, 60 + (i * 5) % 24, 0) for i in range(800)]
    e = engrave(make_score(rows), page_width=600)
    assert e.page_count > 1
    it = e.pages()
    first = next(it)
    assert first.startswith("<svg") and 'width="600px"' in first
    assert ">\n" not in first  # written raw: no indenting between elements (40 % less text)
    wide = e.page_count
    e.relayout(page_width=1600)
    assert e.page_count < wide
    e.relayout(zoom=2.0)
    assert e.page_count > wide // 2
    with pytest.raises(IndexError):
        e.svg(e.page_count + 1)


def test_score_engrave_is_registered_by_the_notation_layer():
    e = make_score([(0, 480, 60, 0)]).engrave(page_width=500)
    assert e.page_count == 1 and heads(e.svg(1)) == 1


def test_a_score_without_notes_is_refused_with_a_clear_error():
    tempo = TempoMap(480, [TempoChange(0, 500_000)])
    empty = Score(np.zeros(0, dtype=NOTE_DTYPE), (Track(),), tempo)
    with pytest.raises(EngraveError, match="no notes"):
        engrave(empty)


def test_thousands_of_tracks_are_refused_before_any_work():
    n = 2000
    notes = np.zeros(n, dtype=NOTE_DTYPE)
    notes["start"] = np.arange(n) * 10
    notes["duration"], notes["pitch"], notes["velocity"] = 480, 60, 80
    notes["track"] = np.arange(n)
    s = Score(notes, tuple(Track(f"t{i}", 0, i % 16) for i in range(n)),
              TempoMap(480, [TempoChange(0, 500_000)]))
    with pytest.raises(EngraveError, match=f"2000 parts.*at most {MAX_PARTS}"):
        engrave(s)


def test_absurd_durations_are_refused_naming_the_note():
    s = make_score([(0, 480, 60, 0), (480, 480 * 4 * 50_000, 62, 0)])
    with pytest.raises(EngraveError, match=r"notes\[1\] lasts about|bars"):
        engrave(s)


def test_bad_page_options_are_a_value_error():
    with pytest.raises(ValueError, match="zoom"):
        engrave(make_score([(0, 480, 60, 0)]), zoom=0)


def test_save_names_one_page_plainly_and_several_with_numbers(tmp_path):
    one = engrave(make_score([(0, 480, 60, 0)]))
    assert one.save(tmp_path / "a.svg") == [tmp_path / "a.svg"]
    many = engrave(make_score([(i * 240, 240, 60 + i % 20, 0) for i in range(900)]))
    paths = many.save(tmp_path / "b.png", scale=0.5)
    assert [p.name for p in paths] == [f"b-{i}.png" for i in range(1, many.page_count + 1)]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert re.search(rb"IHDR", paths[0].read_bytes()[:40])


def test_without_verovio_the_error_names_the_extra(monkeypatch):
    import sys

    from mos_lab.score import MissingDependencyError

    monkeypatch.setitem(sys.modules, "verovio", None)  # import verovio -> ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'mos_lab\[notation\]'"):
        engrave(make_score([(0, 480, 60, 0)]))
