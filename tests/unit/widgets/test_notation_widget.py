"""The Notation widget: engraved pages (mos_lab.notation) sent one at a time, the notes
heard (the ManualOutput's audio clock) highlighted by id through the timemap, pages turning
where their music starts, clicks that seek and loop, re-layout for the cell's width, clear
messages for scores that cannot be engraved, nothing left alive after close; and the
Score's display: the engraved page beside the compact player."""

from __future__ import annotations

import gc
import time
from typing import Any

import numpy as np
import pytest

from mos_lab.kernel import display
from mos_lab.notation import engrave
from mos_lab.score import NOTE_DTYPE, Score, Track
from mos_lab.score.tempo import TempoChange, TempoMap
from mos_lab.widgets._base import MosWidget
from mos_lab.widgets.notation import Notation, note_times

pytest.importorskip("verovio")


def scale_score(bars: int = 16) -> Score:
    """A quarter-note line, four to a bar (120 BPM: 2 s a bar)."""
    rows = [(i * 480, 480, 60 + (i * 5) % 19, 90) for i in range(4 * bars)]
    return Score.from_notes(rows, title="line")


class Pages:
    """Records the pages a widget sends: (page, layout, svg text)."""

    def __init__(self, w: Notation) -> None:
        self.got: list[tuple[int, int, str]] = []
        self.errors: list[str] = []
        real = w.send

        def send(content: dict[str, Any], buffers: Any = None) -> None:
            if content.get("type") == "svg":
                self.got.append((content["page"], content["layout"],
                                 bytes(buffers[0]).decode("utf-8")))
            elif content.get("type") == "error":
                self.errors.append(content["message"])
            real(content, buffers)

        w.send = send  # type: ignore[method-assign]


def ask(w: Notation, page: int) -> None:
    w._handle_custom_msg({"type": "page", "page": page, "layout": w.layout_id}, [])
    w.wait_engraved()  # the worker's job, done here and now


def test_the_widget_sends_the_timemap_and_each_pages_first_onset(session):
    sc = session.load(scale_score(160))  # pages of unequal length: the search gallops
    w = Notation(height=300)
    e = w.wait_engraved()
    assert e is not None and w.status == "" and w.page_count == e.page_count > 10
    ids = w.note_ids.split(" ")
    times = np.frombuffer(w.note_times, dtype="<f8").reshape(-1, 2)
    assert len(ids) == sc.n_notes == len(times)
    for i, (on, off) in zip(ids, times, strict=True):  # Score seconds, as the timemap says
        assert on == pytest.approx(e.timemap[i]) and off > on
    # each page starts where its first note starts, and that note is on that page
    assert w.pages[0] == 0.0 and w.pages == sorted(w.pages)
    for p, start in enumerate(w.pages[1:], 2):
        first = ids[int(np.searchsorted(times[:, 0], start))]
        assert e.page_of(first) == p and e.page_of(ids[ids.index(first) - 1]) == p - 1
    w.close()


def test_the_highlight_follows_the_heard_position(session):
    """Played through the ManualOutput: at every block the ids lit (the page's rule,
    mirrored by ``ids_at``) are what the engraving says sounds at engine.position."""
    session.load(scale_score(4))
    w = Notation()
    e = w.wait_engraved()
    assert e is not None
    eng, out = session.engine, session.engine.output
    eng.play()
    seen: list[str] = []
    for _ in range(300):  # 512-frame blocks at 48 kHz: ~3.2 s
        out.tick(1)
        pos = eng.position
        lit = w.ids_at(pos)
        assert lit == e.ids_at(pos)
        if lit and (not seen or seen[-1] != lit[0]):
            seen.append(lit[0])
    assert seen[:6] == ["n0", "n1", "n2", "n3", "n4", "n5"]  # one quarter each, in order
    eng.pause()
    w.close()


def test_pages_are_rendered_only_when_asked_and_a_few_kept(session):
    session.load(scale_score(200))
    w = Notation(height=240, cache_pages=3)
    rec = Pages(w)
    e = w.wait_engraved()
    assert e is not None and w.page_count > 10
    assert list(w.rendered) == []  # laid out, nothing rendered yet
    for p in (1, 2, 3, 4, 1):
        ask(w, p)
    assert [g[0] for g in rec.got] == [1, 2, 3, 4, 1]
    assert list(w.rendered) == [1, 2, 3, 4, 1]  # page 1 fell out of a cache of 3
    ask(w, 4)
    assert list(w.rendered)[-1] == 1 and rec.got[-1][0] == 4  # 4 came from the cache
    _page, layout, svg = rec.got[0]
    assert svg.startswith("<svg") and layout == w.layout_id and 'id="n0"' in svg
    w.close()


def test_the_cells_width_and_zoom_lay_the_pages_out_again(session):
    session.load(scale_score(40))
    w = Notation(width=900)
    rec = Pages(w)
    w.wait_engraved()
    before, layout = w.page_count, w.layout_id
    w._handle_custom_msg({"type": "width", "width": 400}, [])
    e = w.wait_engraved()
    assert e is not None and e.options.page_width == 400 and w.width == 400
    assert w.layout_id == layout + 1 and w.page_count > before
    w._handle_custom_msg({"type": "page", "page": 1, "layout": layout}, [])  # stale: ignored
    w.wait_engraved()
    assert rec.got == []
    w.zoom = 1.5
    e = w.wait_engraved()
    assert e is not None and e.options.zoom == 1.5 and w.layout_id == layout + 2
    with pytest.raises(Exception, match="zoom"):
        w.zoom = 10
    w.close()


def test_clicking_a_note_seeks_and_selecting_a_passage_loops(session):
    session.load(scale_score(8))
    w = Notation()
    w.wait_engraved()
    w._handle_custom_msg({"type": "seek", "seconds": 2.5}, [])
    assert session.engine.position == pytest.approx(2.5, abs=1e-3) and list(w.seeks) == [2.5]
    w._handle_custom_msg({"type": "loop", "start": 1.0, "end": 3.0}, [])
    assert session.engine.loop == pytest.approx((1.0, 3.0), abs=1e-3)
    assert w.clock["loop"] == pytest.approx([1.0, 3.0], abs=1e-3)  # the page marks it
    w._handle_custom_msg({"type": "loop", "start": None, "end": None}, [])
    assert session.engine.loop is None and w.clock["loop"] is None
    w.close()


@pytest.mark.parametrize("content", [
    {"type": "seek", "seconds": -1}, {"type": "page", "page": 0, "layout": 0},
    {"type": "width", "width": "wide"}, {"type": "loop", "start": 3.0, "end": 1.0},
    {"type": "nonsense"},
])
def test_bad_messages_get_an_error_reply(session, content):
    session.load(scale_score(2))
    w = Notation()
    rec = Pages(w)
    w._handle_custom_msg(content, [])
    assert len(rec.errors) == 1 and w.errors
    w.close()


def _many_tracks() -> Score:
    n = 2000
    notes = np.zeros(n, dtype=NOTE_DTYPE)
    notes["start"] = np.arange(n) * 10
    notes["duration"], notes["pitch"], notes["velocity"] = 480, 60, 80
    notes["track"] = np.arange(n)
    return Score(notes, tuple(Track(f"t{i}", 0, i % 16) for i in range(n)),
                 TempoMap(480, [TempoChange(0, 500_000)]))


def _absurd() -> Score:
    return Score.from_notes([(0, 480, 60, 90), (480, 480 * 4 * 50_000, 62, 90)])


@pytest.mark.parametrize(("make", "words"), [
    (lambda: Score.from_notes([]), "no notes"),
    (_many_tracks, "parts"),
    (_absurd, "lasts about"),
])
def test_a_score_that_cannot_be_engraved_says_why_and_the_engine_plays_on(session, make,
                                                                         words):
    bad = make()
    good = session.load(scale_score(2))
    w = Notation(bad)
    assert w.wait_engraved() is None
    assert w.status.startswith("cannot engrave this score") and words in w.status
    assert w.page_count == 0 and w.note_ids == ""
    eng, out = session.engine, session.engine.output
    eng.play()
    out.tick(50)
    assert eng.score is good and eng.position > 0.4  # the engine is unharmed
    eng.pause()
    w.close()


def test_create_close_cycles_leave_nothing_alive(session):
    session.load(scale_score(4))
    for _ in range(3):
        Notation().close()
    gc.collect()
    base = session.doctor()
    alive = sum(issubclass(type(o), MosWidget) for o in gc.get_objects())
    for i in range(30):
        w = Notation(player=i % 5 == 0)
        w._repr_mimebundle_()
        w.visible = True  # starts the worker thread
        if i % 3 == 0:
            w.wait_engraved()
        w._handle_custom_msg({"type": "bogus"}, [])
        w.close()
    del w
    gc.collect()
    time.sleep(0.1)
    assert session.doctor() == base
    assert sum(issubclass(type(o), MosWidget) for o in gc.get_objects()) == alive


def test_a_score_displays_engraved_beside_the_compact_player(session):
    sc = scale_score(4)
    data, _ = display.score_mimebundle(sc)
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["image/png"].startswith("iVBORw0KGgo") and "line" in data["text/plain"]
    (w,) = [o for o in session.registry.widgets() if isinstance(o, Notation)]
    assert w.player is not None and w.player.compact
    assert w.wait_engraved() is not None and w.page_count >= 1
    w.close()
    assert w.player.closed


def test_an_unengravable_score_still_displays_with_its_player(session):
    data, _ = display.score_mimebundle(_absurd())
    assert "application/vnd.jupyter.widget-view+json" in data
    w = _only_notation()
    assert w.wait_engraved() is None and "cannot engrave" in w.status
    assert w.player is not None and not w.player.closed
    w.close()


def _only_notation() -> Notation:
    gc.collect()
    found = [o for o in gc.get_objects() if issubclass(type(o), Notation) and not o.closed]
    assert len(found) == 1, found
    return found[0]


def test_note_times_cover_tied_heads():
    rows = [(0, 480 * 6, 60, 90), (480 * 6, 480 * 2, 62, 90)]  # a note tied over the bar
    e = engrave(Score.from_notes(rows))
    ids, on, off = note_times(e)
    assert set(e.timemap) == set(ids)
    assert any("-" in i for i in ids)  # the tied-on head has its own time
    assert np.all(off > on)


def test_a_long_score_pages_in_a_chunk_at_a_time(session):
    """600 bars (five chunks of 128): the first chunk's pages and notes are sent at once; a
    page past them is laid out when asked, its notes lit at their times; the thread lays
    out the rest, adding to the lists without a new layout."""
    import re

    sc = session.load(scale_score(600))
    w = Notation()
    pages = Pages(w)
    e = w.wait_engraved(complete=False)
    with w._work_lock:  # the widget's thread goes on laying out meanwhile: a still picture
        assert e is not None and e.chunk_count == 5 and e.chunks_laid_out < 4
        assert not w.complete and 0 < w.page_count == e.pages_known == len(w.pages)
        assert 0 < len(w.note_ids.split(" ")) < sc.n_notes
        layout = w.layout_id
        target = w.page_count + 2  # in a chunk not laid out yet
    w._handle_custom_msg({"type": "page", "page": target, "layout": layout}, [])
    w._work()
    sent = [svg for p, lay, svg in pages.got if p == target and lay == layout]
    assert sent and w.page_count >= target and w.layout_id == layout
    ids = re.findall(r'<g id="(n\d+(?:-\d+)?)" class="note"', sent[0])
    assert ids
    with w._work_lock:
        known = w.note_ids.split(" ")
        times = np.frombuffer(w.note_times, dtype="<f8").reshape(-1, 2)
        for i in ids[::7]:
            on = times[known.index(i), 0]
            start = int(sc.notes["start"][int(i[1:])])
            assert on == pytest.approx(sc.tempo.ticks_to_seconds(start))
            assert i in w.ids_at(on + 0.01) and w.page_at(on + 0.01) == target

    while not w.complete:  # the worker's background passes, a chunk each
        w._work()
    assert w.layout_id == layout and w.page_count == e.page_count == len(w.pages)
    assert len(w.note_ids.split(" ")) == sc.n_notes and w.pages == sorted(w.pages)
    w.close()
