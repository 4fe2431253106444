"""Bars and note values: measures from meters and a pickup, durations as written notes
(with dots, ties and 3:2 triplets), rests that fill each voice, and beams per beat.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence

from mos_lab.notation.model import UNITS, Event

#: Written values in units, longest first.
VALUES = (("breve", 8 * UNITS), ("whole", 4 * UNITS), ("half", 2 * UNITS),
          ("quarter", UNITS), ("eighth", UNITS // 2), ("16th", UNITS // 4),
          ("32nd", UNITS // 8), ("64th", UNITS // 16), ("128th", UNITS // 32))
_BEAMED = {"eighth", "16th", "32nd", "64th", "128th"}
_BIN = UNITS // 16  # binary grid inside a beat (64ths)
_TER = UNITS // 12  # triplet grid inside a beat (triplet 32nds)


def bar_units(numerator: int, denominator: int) -> int:
    """Length of a bar of ``numerator/denominator`` in units."""
    return numerator * 4 * UNITS // denominator


def measures(meters: list[tuple[int, int, int]], pickup: int | Sequence[int], end: int
             ) -> list[tuple[int, int, tuple[int, int]]]:
    """(start, length, meter) of each bar up to ``end`` (units).

    ``meters`` are (start, numerator, denominator) sorted by start; each starts a section
    (a meter event marks a bar line, also when it repeats the meter, as at a repeat seam),
    and the section's last bar is cut short where the next one starts. ``pickup`` is the
    first section's pickup, or one per section. A piece with a pickup whose last bar
    completes it ends with that short bar."""
    out: list[tuple[int, int, tuple[int, int]]] = []
    changes = sorted(meters) or [(0, 4, 4)]
    pickups = [pickup] if isinstance(pickup, int) else list(pickup)
    pickups += [0] * (len(changes) - len(pickups))
    for k, (start, num, den) in enumerate(changes):
        last = k + 1 == len(changes)
        if k and start >= end:
            break
        stop = end if last else changes[k + 1][0]
        meter, full = (num, den), bar_units(num, den)
        pos, first = start, len(out)
        p = pickups[k] % full
        if p > 0 and (last or start + p < stop):
            out.append((pos, p, meter))
            pos += p
        while pos < stop or len(out) == first:
            length = full if last else min(full, stop - pos)
            out.append((pos, length, meter))
            pos += length
        if last and p > 0 and len(out) - first > 2:
            s, length, _ = out[-1]
            if end - s == length - p:
                out[-1] = (s, end - s, meter)
    return out


@functools.lru_cache(maxsize=4096)  # pure, called per note on few distinct durations
def single(d: int) -> tuple[str, int] | None:
    """(type, dots) of a duration that one written note shows, else None."""
    for name, v in VALUES:
        if d == v:
            return name, 0
        if 2 * d == 3 * v and v >= 2 * _BIN:
            return name, 1
        if 4 * d == 7 * v and v >= 4 * _BIN:
            return name, 2
    return None


def pieces(d: int) -> list[int]:
    """Durations of the fewest written notes adding up to ``d`` (longest first)."""
    return list(_pieces(d))


@functools.lru_cache(maxsize=4096)
def _pieces(d: int) -> tuple[int, ...]:
    """``pieces`` worked out once per duration."""
    out: list[int] = []
    while d > 0:
        if single(d) is not None:
            out.append(d)
            break
        best = next((c for c in _candidates() if c <= d and single(d - c) is not None), None)
        if best is None:
            best = next((c for c in _candidates() if c <= d), None)
        if best is None:  # below the shortest value: cannot be written (callers snap first)
            out.append(d)
            break
        out.append(best)
        d -= best
    return tuple(out)


@functools.cache
def _candidates() -> tuple[int, ...]:
    vals = []
    for _, v in VALUES:
        vals += [v * 7 // 4, v * 3 // 2, v] if v >= 4 * _BIN else [v * 3 // 2, v] \
            if v >= 2 * _BIN else [v]
    return tuple(sorted(set(vals), reverse=True))


def _snap_in_beats(t: int, m_start: int, ternary: set[int]) -> int:
    beat, off = divmod(t - m_start, UNITS)
    step = _TER if beat in ternary else _BIN
    return m_start + beat * UNITS + round(off / step) * step


def fill_voice(items: list[tuple[int, int, object]], m_start: int, m_len: int,
               meter: tuple[int, int], rests: bool,
               written: Callable[[object], frozenset[int] | None] | None = None
               ) -> list[tuple[Event, object]]:
    """Written events of one voice in one bar: ``items`` are (start, end, payload) clipped
    to the bar, in order; gaps become rests (``rests``) or hidden space (payload None and
    ``type == ""``). Each event comes with its item's payload (None for rests).
    ``written(payload)``: where the source tied the note's heads (units), so the page shows
    the source's heads in place of the beat and mid-bar ties; None where it did not say."""
    m_end = m_start + m_len
    bounds = {t for s, e, _ in items for t in (s, e) if m_start < t < m_end}
    ternary = {(t - m_start) // UNITS for t in bounds if (t - m_start) % UNITS % _BIN}
    snapped: list[tuple[int, int, object]] = []
    for s, e, p in items:
        s2, e2 = _snap_in_beats(s, m_start, ternary), _snap_in_beats(e, m_start, ternary)
        s2, e2 = max(s2, m_start), min(e2, m_end)
        if snapped and s2 < snapped[-1][1]:
            s2 = snapped[-1][1]
        if e2 > s2:
            snapped.append((s2, e2, p))
    timeline: list[tuple[int, int, object]] = []
    pos = m_start
    for s, e, p in snapped:
        if s > pos:
            timeline.append((pos, s, None))
        timeline.append((s, e, p))
        pos = e
    if pos < m_end:
        timeline.append((pos, m_end, None))
    if rests and not snapped:
        return [(Event(m_start, m_len, "whole", whole_measure=True), None)]
    out: list[tuple[Event, object]] = []
    for s, e, p in timeline:
        if p is None and not rests:
            out.append((Event(s, e - s, ""), None))
            continue
        # cut at the edges of triplet beats, so each triplet stays inside its beat
        told = None if p is None or written is None else written(p)
        style = _middle(s, e, m_start, m_len, meter) | _beat_cuts(s, e, m_start, meter) \
            if told is None else {t for t in told if s < t < e}
        cuts = sorted({s, e} | {m_start + b * UNITS + k for b in ternary for k in (0, UNITS)
                                if s < m_start + b * UNITS + k < e} | style)
        for a, b in itertools.pairwise(cuts):
            trip = (a - m_start) // UNITS in ternary
            shown = (b - a) * 3 // 2 if trip else b - a
            parts = pieces(shown)
            if a - m_start != 0 and (a - m_start) % max(parts[0], 1) and len(parts) > 1:
                parts = parts[::-1]  # off the beat: short values first, to reach it
            t = a
            for sp in parts:
                actual = sp * 2 // 3 if trip else sp
                kind = single(sp) or ("128th", 0)
                out.append((Event(t, actual, kind[0], kind[1], tuplet=trip), p))
                t += actual
    _tuplets(out, m_start)
    _beams([(ev, p is None) for ev, p in out], m_start, meter)
    return out


def _middle(s: int, e: int, m_start: int, m_len: int, meter: tuple[int, int]) -> set[int]:
    """The middle of a full 4/4, 4/2 or 2/2 bar, where a note that starts after the
    downbeat is tied unless it starts on a half beat and lasts a beat or more: a half or
    dotted quarter on beat 2 and a syncopated quarter stay whole, as in the chorale
    editions, while shorter notes show the half bar."""
    num, den = meter
    if not (num == 4 or (num, den) == (2, 2)) or m_len != bar_units(num, den):
        return set()
    mid = m_start + m_len // 2
    beat = 4 * UNITS // den
    whole = (s - m_start) % (beat // 2) == 0 and e - s >= beat
    return {mid} if m_start < s < mid < e and not whole else set()


def _beat_cuts(s: int, e: int, m_start: int, meter: tuple[int, int]) -> set[int]:
    """The beats inside ``(s, e)`` where a note or rest shorter than a beat, or starting
    off the half beat (a third of one in compound meters), is tied, so the beat stays
    visible in fast syncopations (a dotted eighth on the off-beat, a 16th-note push)."""
    compound = meter[1] == 8 and meter[0] % 3 == 0 and meter[0] > 3
    beat = 3 * UNITS // 2 if compound else 4 * UNITS // meter[1]
    sub = beat // 3 if compound else beat // 2
    if e - s >= beat and (s - m_start) % sub == 0:
        return set()
    first = m_start + ((s - m_start) // beat + 1) * beat
    return set(range(first, e, beat))


def _tuplets(events: list[tuple[Event, object]], m_start: int) -> None:
    """Mark where each triplet beat's bracket starts and stops."""
    by_beat: dict[int, list[Event]] = {}
    for ev, _ in events:
        if ev.tuplet:
            by_beat.setdefault((ev.start - m_start) // UNITS, []).append(ev)
    for evs in by_beat.values():
        evs[0].tuplet_mark = "start"
        if len(evs) > 1:
            evs[-1].tuplet_mark = "stop"
        else:
            evs[0].tuplet = False  # a lone member is not a bracket (cannot happen on a grid)


def beam_group(meter: tuple[int, int]) -> int:
    """Units per beam group: a dotted quarter in compound meters, else a quarter."""
    num, den = meter
    if den == 8 and num % 3 == 0 and num > 3:
        return 3 * UNITS // 2
    return UNITS


def _beams(events: list[tuple[Event, bool]], m_start: int, meter: tuple[int, int]) -> None:
    """Beam consecutive short notes inside one beat group (rests break a beam)."""
    size = beam_group(meter)
    run: list[Event] = []

    def close() -> None:
        if len(run) > 1:
            run[0].beam = "begin"
            for ev in run[1:-1]:
                ev.beam = "continue"
            run[-1].beam = "end"
        run.clear()

    for ev, rest in events:
        g0 = (ev.start - m_start) // size
        g1 = (ev.start + ev.duration - 1 - m_start) // size
        beamable = ev.type in _BEAMED and g0 == g1 and not rest
        if not beamable or (run and (run[0].start - m_start) // size != g0):
            close()
        if beamable:
            run.append(ev)
    close()
