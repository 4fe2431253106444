"""Bar lines of a score read without them: sections at meter events, a pickup per section."""

from __future__ import annotations

import numpy as np

from mos_lab.notation.build import notate, section_pickup
from mos_lab.notation.model import UNITS
from mos_lab.score import TimeSignature
from tests.unit.notation.conftest import make_score

Q = 480  # ticks per quarter in make_score


def bar_starts(score, **kw) -> list[float]:
    return [m.start / UNITS for m in notate(score, **kw).parts[0].measures]


def test_a_hymn_of_quarters_ends_on_a_strong_beat_so_its_upbeat_is_found():
    # 1 + 3 x 4 + 3 quarters: every phase has the same notes on its downbeats; only the
    # last note tells: a piece ends on a strong beat, so bar 1 starts after one beat
    s = make_score([(i * Q, Q, 60 + i % 5, 0) for i in range(16)])
    assert notate(s).pickup == UNITS
    assert bar_starts(s)[:3] == [0.0, 1.0, 5.0]


def test_a_meter_event_at_a_repeat_seam_starts_a_new_section_with_its_own_pickup():
    # a section of 16 quarters (upbeat, 3 bars, a 3-beat last bar) played twice, with the
    # meter written again where the repeat starts (as notation programs export it): the
    # second time round the upbeat is a bar of its own, not beat 4 of a bar over the seam
    rows = []
    for rep in range(2):
        base = rep * 16 * Q
        rows.append((base, Q, 67, 0))
        for bar in range(3):
            rows += [(base + Q + bar * 4 * Q, 2 * Q, 72, 0), (base + 3 * Q + bar * 4 * Q, Q, 71, 0),
                     (base + 4 * Q + bar * 4 * Q, Q, 69, 0)]
        rows.append((base + 13 * Q, 3 * Q, 67, 0))
    s = make_score(rows).replace(time_signatures=(TimeSignature(0, 4, 4),
                                                  TimeSignature(16 * Q, 4, 4)))
    starts = bar_starts(s)
    assert starts == [0.0, 1.0, 5.0, 9.0, 13.0, 16.0, 17.0, 21.0, 25.0, 29.0]
    measures = notate(s).parts[0].measures
    # short bars: the first upbeat, the 3-beat bar before the seam, the upbeat after it,
    # and the last bar (the score ends 3 beats into it)
    assert [m.start / UNITS for m in measures if m.implicit] == [0.0, 13.0, 16.0, 29.0]
    assert measures[5].time is None  # the same meter is not printed again


def test_section_pickup_prefers_long_notes_on_downbeats_over_the_final_chord():
    # 3/4: half notes on beat 1 after a one-beat upbeat, ending on a short note
    start = [0] + [UNITS + b * 3 * UNITS + k for b in range(6) for k in (0, 2 * UNITS)]
    end = [UNITS] + [s + (2 * UNITS if (s - UNITS) % (3 * UNITS) == 0 else UNITS)
                     for s in start[1:]]
    assert section_pickup(np.array(start), np.array(end), 3, 4) == UNITS


def _hymn(base: int, upbeat: bool, top: int) -> list[tuple[int, int, int, int]]:
    """16 quarters: with ``upbeat`` an upbeat, 3 bars (half, quarter, quarter) and a 3-beat
    last bar; without, 4 such bars from the downbeat."""
    rows, first = [], base
    if upbeat:
        rows.append((base, Q, top - 5, 0))
        first += Q
    for bar in range(3 if upbeat else 4):
        b = first + bar * 4 * Q
        rows += [(b, 2 * Q, top, 0), (b + 2 * Q, Q, top - 1, 0), (b + 3 * Q, Q, top - 3, 0)]
    if upbeat:
        rows.append((base + 13 * Q, 3 * Q, top - 5, 0))
    return rows


def test_a_repeat_played_twice_ends_with_the_bar_its_first_time_ended_with():
    # A A B, the meter written again only where A starts over (as notation programs
    # export an expanded repeat): the second A ends in the same 3-beat bar, and B starts
    # with the beat left over, not with a bar running across the end of the repeat
    rows = _hymn(0, True, 72) + _hymn(16 * Q, True, 72) + _hymn(32 * Q, True, 79)
    s = make_score(rows).replace(time_signatures=(TimeSignature(0, 4, 4),
                                                  TimeSignature(16 * Q, 4, 4)))
    starts = bar_starts(s)
    assert starts[:10] == [0.0, 1.0, 5.0, 9.0, 13.0, 16.0, 17.0, 21.0, 25.0, 29.0]
    assert starts[10:13] == [32.0, 33.0, 37.0]
    # the pickup told for the piece holds for the repeat too
    told = bar_starts(s, pickup=0)
    assert told[:6] == [0.0, 4.0, 8.0, 12.0, 16.0, 20.0]


def test_bars_run_on_past_a_repeat_that_ends_with_a_full_bar():
    # A A B in full bars: where the second A ends nothing cuts a bar, so B keeps the bar
    # grid even though its own notes (an upbeat, then long notes) would suggest a pickup
    rows = _hymn(0, False, 72) + _hymn(16 * Q, False, 72) + _hymn(32 * Q, True, 79)
    s = make_score(rows).replace(time_signatures=(TimeSignature(0, 4, 4),
                                                  TimeSignature(16 * Q, 4, 4)))
    assert bar_starts(s) == [4.0 * i for i in range(12)]
