"""A long score is laid out in chunks of bars: its first page comes in a fraction of a
whole layout, and later pages, note ids, page numbers and times match a whole layout."""

from __future__ import annotations

import re
import time

import pytest

from mos_lab.notation import engrave
from mos_lab.notation.build import notate
from mos_lab.notation.engraving import Engraving, PageOptions
from mos_lab.notation.quantize import quantize
from mos_lab.score import Score

from .conftest import make_score


def eighths(bars: int):
    """A line of eighth notes in 4/4, ``bars`` bars long (120 BPM: 2 s a bar)."""
    return make_score([(i * 240, 240, 60 + (i * 7) % 24, 0) for i in range(bars * 8)])


def test_a_2000_bar_score_shows_page_one_in_under_a_fifth_of_a_whole_layout():
    sc = eighths(2000)
    q = quantize(sc)
    notated = notate(sc, quantized=q)
    opts = PageOptions()

    t0 = time.process_time()
    whole = Engraving(sc, notated, q, None, opts, chunk_bars=None)
    whole.svg(1)
    t_whole = time.process_time() - t0
    t0 = time.process_time()
    lazy = Engraving(sc, notated, q, None, opts, chunk_bars=128)
    first = lazy.svg(1)
    t_first = time.process_time() - t0
    print(f"\nwhole layout + page 1: {t_whole:.2f} s CPU; chunked page 1: {t_first:.3f} s CPU")
    assert t_first < t_whole / 5, (t_first, t_whole)
    assert lazy.chunks_laid_out == 1 and lazy.chunk_count == 16 and not lazy.complete
    assert first.count('class="note"') > 0

    # page 20 of about 31: reached by laying out the chunks before it, not the whole score
    n = 20
    page = lazy.svg(n)
    done = lazy.chunks_laid_out
    assert 1 < done < lazy.chunk_count and lazy.pages_known >= n
    ids = re.findall(r'<g id="(n\d+(?:-\d+)?)" class="note"', page)
    assert len(ids) > 100
    times = {i: e.seconds for k in range(done) for e in lazy.chunk_events(k) for i in e.on}
    for i in ids[::20]:
        assert lazy.page_of(i) == n
        row = int(i[1:])  # its time is its own note's start on the Score's tempo map
        assert times[i] == pytest.approx(sc.tempo.ticks_to_seconds(int(sc.notes["start"][row])))
    assert lazy.chunks_laid_out == done  # asking about those notes laid out nothing more


def test_a_chunk_carries_the_key_and_meter_in_force_and_the_title_stays_on_page_one():
    rows = [(i * 240, 240, 60 + (i * 7) % 24, 80) for i in range(20 * 8)]
    sc = Score.from_notes(rows, title="Long line")
    e = engrave(sc, chunk_bars=8)
    assert e.chunk_count == 3
    assert "<work-title>Long line</work-title>" in e._chunk_xml(e._chunks[0])
    xml1 = e._chunk_xml(e._chunks[1])
    assert "<time><beats>4</beats><beat-type>4</beat-type></time>" in xml1
    assert "<key><fifths>" in xml1 and "<work-title>" not in xml1
    whole = engrave(sc, chunk_bars=None)
    assert e.timemap == whole.timemap
    firsts = [e.page_of(f"n{r}") for r in range(0, sc.n_notes, 16)]
    assert firsts == sorted(firsts) and firsts[-1] == e.page_count >= 3
    # a new width lays out the first chunk again now and the others when reached
    e.relayout(page_width=400)
    assert e.chunks_laid_out == 1 and e.options.page_width == 400
    assert e.page_count >= 3 and "<svg" in e.svg(e.page_count)
    assert e.page_of(f"n{sc.n_notes - 1}") == e.page_count


def test_chunk_bars_must_be_positive():
    with pytest.raises(ValueError, match="chunk_bars"):
        engrave(eighths(2), chunk_bars=0)


def test_the_notes_of_a_long_score_are_written_a_chunk_at_a_time_and_come_out_the_same():
    from mos_lab.notation.musicxml import write

    sc = eighths(400)
    e = engrave(sc, chunk_bars=128)
    e.svg(1)
    bars = e._notated.parts[0].measures  # what is written so far, without filling it
    assert all(m.voices for m in bars[:128]) and not any(m.voices for m in bars[128:])
    while e.lay_out_next():
        pass
    assert all(m.voices for m in bars)  # every chunk laid out wrote its bars
    assert write(e.notated) == write(notate(sc))  # as written in one go
    fresh = engrave(sc, chunk_bars=128)
    assert write(fresh.notated) == write(notate(sc))  # asking for the view writes it all
