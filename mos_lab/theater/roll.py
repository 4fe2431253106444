"""The piano roll's geometry, once for every drawer: where notes lie in time and pitch,
which pitches a roll shows, and which time window it shows.

Every place that draws a roll takes its numbers from here: the theater (``geometry``:
instances for wgpu and the numpy renderer), the notebook widgets (the notes and rows sent
to ``piano_roll.js``/``theater_view.js``, the kernel-drawn strips and pages) and the static
PNG for GitHub and nbconvert. The pages draw with the rows, leads and page steps the kernel
sends them, so the browser holds no formula of its own.

Examples
--------
>>> from mos_lab.score import Score
>>> sc = Score.from_notes([(0, 480, 60, 90), (480, 960, 64, 90)])
>>> [s.tolist() for s in note_spans(sc)]
[[0.0, 0.5], [0.5, 1.5]]
>>> pitch_range(sc)
(50, 74)
>>> page_window(5.0, span=8.0, lead=0.1, turn=0.8)
(-0.8, 7.2)
"""

from __future__ import annotations

import math

import numpy as np

from mos_lab.score import Score

PAD = 2  # rows shown below the lowest and above the highest note
MIN_ROWS = 24  # a roll shows at least two octaves, however narrow the music
EMPTY_RANGE = (48, 71)  # what a roll with no notes shows (C3..B4)
SCROLL_LEAD = 0.25  # a scrolling roll shows this fraction of its window before the playhead
PAGE_LEAD = 0.1  # a paged view (TheaterView) starts a page this far (of the span) before
PAGE_TURN = 0.8  # ... the playhead, and turns to the next page this far (of the span) later


def note_spans(score: Score) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of every note in seconds (float64, in ``score.notes`` order)."""
    n = score.notes
    start = np.asarray(score.tempo.ticks_to_seconds(n["start"].astype(np.int64)),
                       dtype=np.float64).reshape(-1)
    end = np.asarray(score.tempo.ticks_to_seconds(
        (n["start"] + n["duration"]).astype(np.int64)), dtype=np.float64).reshape(-1)
    return start, end


def pitch_range(score: Score | None, minimum: int = MIN_ROWS,
                pad: int = PAD) -> tuple[int, int]:
    """The pitches a roll shows, inclusive: the notes' span padded by ``pad`` and widened
    evenly to ``minimum`` rows, within MIDI's 0..127."""
    if score is None or not len(score.notes):
        return EMPTY_RANGE
    lo = int(score.notes["pitch"].min()) - pad
    hi = int(score.notes["pitch"].max()) + pad
    while hi - lo + 1 < minimum:
        lo, hi = lo - 1, hi + 1
    return max(lo, 0), min(hi, 127)


def scroll_window(playhead: float, span: float, lead: float = SCROLL_LEAD,
                  ) -> tuple[float, float]:
    """A window ``span`` seconds wide that scrolls with the playhead, ``lead`` into it."""
    t0 = playhead - lead * span
    return (t0, t0 + span)


def page_step(span: float, lead: float, turn: float | None = None) -> float:
    """Seconds between page turns: ``turn * span``; ``turn`` defaults to ``1 - lead`` (the
    playhead crosses the whole page after its lead, as ``Scene.set_paging`` pages)."""
    return (1.0 - lead if turn is None else turn) * span


def page_index(playhead: float, step: float) -> int:
    """The page the playhead is on, pages ``step`` seconds apart."""
    return math.floor(playhead / step)


def page_window(playhead: float, span: float, lead: float = PAGE_LEAD,
                turn: float | None = None) -> tuple[float, float]:
    """The page showing the playhead: page ``k`` starts at ``k * step - lead * span``
    (``step`` from :func:`page_step`), so it shows ``lead`` of the music before it."""
    step = page_step(span, lead, turn)
    t0 = page_index(playhead, step) * step - lead * span
    return (t0, t0 + span)
