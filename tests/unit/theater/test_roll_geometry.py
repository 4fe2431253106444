"""Item 8: every piano-roll drawer takes its geometry from ``mos_lab.theater.roll``: note
times, the rows shown and the time window. The theater, the widgets' pages and strips and
the static PNG agree, and none keeps a formula of its own (today each had one)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mos_lab.score import Score
from mos_lab.theater.cpu import CPURenderer
from mos_lab.theater.geometry import NoteGeometry
from mos_lab.theater.roll import (
    PAGE_LEAD,
    PAGE_TURN,
    SCROLL_LEAD,
    note_spans,
    page_window,
    pitch_range,
    scroll_window,
)
from mos_lab.theater.scene import Scene

PKG = Path(__file__).resolve().parents[3] / "mos_lab"


def _score() -> Score:
    rows = [(i * 240, 200 + 40 * (i % 3), 55 + (i * 7) % 19, 70) for i in range(80)]
    return Score.from_notes(rows, title="geometry", bpm=96)


def test_note_times_are_the_same_for_every_drawer() -> None:
    from mos_lab.widgets._notes import pack_notes

    sc = _score()
    start, end = note_spans(sc)
    geo = NoteGeometry(Scene(sc).snapshot())
    assert np.array_equal(geo.start, start)
    assert np.array_equal(geo.instances["rect"][:, 1], end.astype(np.float32))
    rows = np.frombuffer(pack_notes(sc), "<f4").reshape(-1, 4)
    assert np.array_equal(rows[:, 0], start.astype(np.float32))


def test_the_rows_shown_are_the_same_for_every_drawer(monkeypatch) -> None:
    from mos_lab.widgets import PianoRoll, set_provider
    from mos_lab.widgets._theater_frames import Request, TheaterLayer

    sc = _score()
    rows = pitch_range(sc)
    assert Scene(sc).snapshot().pitch_range == rows
    _, info = TheaterLayer(lambda: sc, renderer=CPURenderer("t"), overlays=False)(
        Request(0.0, 4.0, 200, 100))
    assert (info["lo"], info["hi"]) == rows  # the roll's kernel strip
    from mos_lab.kernel.session import Session
    from mos_lab.testing import ManualOutput

    s = Session(output=ManualOutput())
    set_provider(lambda: s)
    try:
        roll = PianoRoll(sc, mode="canvas", key=None)
        roll.visible = True  # the page gets its rows from the kernel, no formula of its own
        assert (roll.geometry["lo"], roll.geometry["hi"]) == rows
        assert roll.geometry["lead"] == SCROLL_LEAD
        roll.close()
    finally:
        set_provider(None)
        s.close()


@pytest.mark.parametrize("t", [0.0, 3.3, 7.99, 8.0, 123.4])
def test_windows_come_from_one_formula(t: float) -> None:
    sc = Scene(_score(), span=8.0, lead=0.2)
    sc.set_playhead(t)
    assert sc.snapshot().window == scroll_window(t, 8.0, 0.2)
    sc.set_paging(True)
    w = sc.snapshot().window
    assert w == page_window(t, 8.0, 0.2) and w[0] <= t < w[1]
    t0 = page_window(t, 8.0, PAGE_LEAD, PAGE_TURN)[0]  # TheaterView's pages
    assert t0 + PAGE_LEAD * 8.0 <= t < t0 + (PAGE_LEAD + PAGE_TURN) * 8.0


def test_no_drawer_keeps_a_geometry_formula_of_its_own() -> None:
    own = re.compile(r'ticks_to_seconds\([^)]*notes|n\["start"\] \+ n\["duration"\]'
                     r'|\["pitch"\]\.(min|max)\(\)')
    found = [f"{p.relative_to(PKG)}: {m.group(0)}"
             for d in ("theater", "widgets") for p in sorted((PKG / d).rglob("*.py"))
             if p.name != "roll.py" for m in own.finditer(p.read_text())]
    assert not found, found
    esm = PKG / "widgets" / "esm"
    js = {p.name: p.read_text() for p in esm.glob("*.js")}
    assert "notes.lo" not in js["piano_roll.js"] and "span() * 0.25" not in js["piano_roll.js"]
    assert "const LEAD" not in js["theater_view.js"]
