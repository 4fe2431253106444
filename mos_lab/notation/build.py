"""Score -> :class:`Notated`: quantised times, spelled pitches, staves, voices, bars, notes.

The steps, each in its own module: ``quantize`` (times in units), ``staves`` (piano split,
clefs), ``voices`` (chords and voices), ``rhythm`` (bars, written values, ties, triplets,
beams); here they are put together with the spelling, keys, accidentals and dynamics.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mos_lab.notation.errors import EngraveError
from mos_lab.notation.model import UNITS, Direction, Event, Head, Measure, Notated, Part, Voice
from mos_lab.notation.quantize import Quantized, quantize
from mos_lab.notation.rhythm import bar_units, fill_voice, measures
from mos_lab.notation.staves import choose_clef, needs_grand_staff, split_hands
from mos_lab.notation.voices import MAX_VOICES, Chord, separate
from mos_lab.score import Score

if TYPE_CHECKING:
    from mos_lab.theory import Analysis

#: Limits of what one engraving holds; past them the score is refused with an EngraveError.
MAX_PARTS = 64
MAX_BARS = 10_000
MAX_NOTE_BARS = 1_000
_LETTERS = "CDEFGAB"
_ACCIDENTALS = {-2: "flat-flat", -1: "flat", 0: "natural", 1: "sharp", 2: "double-sharp"}
_DYNAMICS = ((40, "pp"), (56, "p"), (72, "mp"), (88, "mf"), (104, "f"), (128, "ff"))


def check(score: Score, q: Quantized) -> None:
    """Raise EngraveError when the score cannot make a page (nothing, or too much)."""
    if not score.n_notes:
        raise EngraveError("nothing to engrave: the score has no notes")
    used = len(np.unique(score.notes["track"]))
    if used > MAX_PARTS:
        raise EngraveError(f"{used} parts have notes; an engraving holds at most {MAX_PARTS} "
                           "(engrave a selection of tracks)")
    shortest = min(bar_units(ts.numerator, ts.denominator) for ts in score.time_signatures) \
        if score.time_signatures else 4 * UNITS
    bars = int(q.end.max()) // max(shortest, 1) + 1
    if score.measures is not None:  # the source's own bars, however short they are
        bars = max(bars, len(score.measures) - 1)
    if bars > MAX_BARS:
        raise EngraveError(f"the score lasts about {bars} bars ({score.duration:.0f} s); an "
                           f"engraving holds at most {MAX_BARS}")
    longest = int(np.argmax(q.end - q.start))
    span = int(q.end[longest] - q.start[longest]) // max(shortest, 1)
    if span > MAX_NOTE_BARS:
        raise EngraveError(f"notes[{longest}] lasts about {span} bars; a note may last at most "
                           f"{MAX_NOTE_BARS} (is its duration right?)")


def to_units(ticks: int, tpq: int) -> int:
    """Ticks as units, on the 64th grid."""
    return round(ticks * 16 / tpq) * (UNITS // 16)


def sections(score: Score, q: Quantized | None = None) -> list[tuple[int, int, int]]:
    """(start in units, numerator, denominator) of each meter event, one per time: each
    starts a bar (a repeated meter too: notation exports write one at a repeat's seam,
    where a section ending in a short bar starts again with its pickup). With the
    quantised times ``q``, a seam is also added where a section played again note for
    note ends (the file marks where an expanded repeat starts over, not where its second
    time ends, and that bar is cut as the first time's last was)."""
    by_time = {to_units(t.tick, score.tpq): (to_units(t.tick, score.tpq), t.numerator,
                                              t.denominator) for t in score.time_signatures}
    out = sorted(by_time.values()) or [(0, 4, 4)]
    if out[0][0] > 0:
        out.insert(0, (0, out[0][1], out[0][2]))
    if q is None or len(out) < 2:
        return out
    added = []
    for k in range(1, len(out)):
        (a, *m0), (b, num, den) = out[k - 1], out[k]
        length = b - a
        nxt = out[k + 1][0] if k + 1 < len(out) else int(q.start.max()) + 1
        if m0 == [num, den] and b + length < nxt and repeats(score, q, a, b, length):
            added.append((b + length, num, den))
    return sorted(out + added)


def stored_bars(score: Score, end: int) -> list[tuple[int, int, tuple[int, int]]]:
    """(start, length, meter) in units of the bars the source wrote (``Score.measures``),
    each in the meter in force where it starts; before its first bar line and after its
    last (notes added since) the meter's own bars run."""
    assert score.measures is not None
    lines = sorted({to_units(int(t), score.tpq) for t in score.measures.tolist()})
    sigs = sorted((to_units(t.tick, score.tpq), t.numerator, t.denominator)
                  for t in score.time_signatures) or [(0, 4, 4)]
    at = [s[0] for s in sigs]

    def meter(t: int) -> tuple[int, int]:
        _, num, den = sigs[max(bisect.bisect_right(at, t) - 1, 0)]
        return num, den

    out: list[tuple[int, int, tuple[int, int]]] = []
    if lines[0] > 0:  # notes before the first bar: bars back from it, short one first
        full = bar_units(*meter(0))
        head = [(max(t - full, 0), t) for t in range(lines[0], 0, -full)]
        out += [(a, b - a, meter(a)) for a, b in reversed(head)]
    out += [(a, b - a, meter(a)) for a, b in itertools.pairwise(lines)]
    if end > lines[-1]:
        m = meter(lines[-1])
        out += measures([(lines[-1], *m)], 0, end)
    return out


def repeats(score: Score, q: Quantized, a: int, b: int, length: int) -> bool:
    """Whether the notes starting in ``[b, b + length)`` are those of ``[a, a + length)``
    again (same tracks, pitches and written times): a repeat played a second time."""
    def passage(t: int) -> list[tuple[int, ...]]:
        sel = np.flatnonzero((q.start >= t) & (q.start < t + length))
        cols = (q.start[sel] - t, q.end[sel] - q.start[sel], score.notes["pitch"][sel],
                score.notes["track"][sel])
        return sorted(zip(*(c.tolist() for c in cols), strict=True))

    first = passage(a)
    return bool(first) and first == passage(b)


def infer_pickup(q: Quantized, meters: Sequence[tuple[int, int, int]], score: Score,
                 first: int | None = None) -> list[int]:
    """Pickup length in units of each section (see :func:`sections`), from its own notes
    (``first``: the first section's when it is known, in units). A section in the meter of
    the one before takes that one's pickup when it plays it again note for note (the same
    bar lines the second time), else the rest of the bar the seam cut short when there is
    one (the two halves make one bar)."""
    end = int(q.end.max()) if len(q.end) else 0
    out: list[int] = []
    for k, (start, num, den) in enumerate(meters):
        stop = meters[k + 1][0] if k + 1 < len(meters) else end
        full = bar_units(num, den)
        if k and meters[k - 1][1:] == (num, den):
            before = meters[k - 1][0]
            if repeats(score, q, before, start, start - before):
                out.append(out[-1])
                continue
            left = (start - before - out[-1]) % full
            if left or _second_time_ends(score, q, meters, k):
                out.append((full - left) % full)  # the bars run on where nothing cut one
                continue
        if k == 0 and first is not None:
            out.append(first % full)
            continue
        sel = (q.start >= start) & (q.start < stop)
        out.append(section_pickup(q.start[sel] - start, q.end[sel] - start, num, den))
    return out


def _second_time_ends(score: Score, q: Quantized, meters: Sequence[tuple[int, int, int]],
                      k: int) -> bool:
    """Whether section ``k`` starts where the section before it, a repeat played a second
    time, ends (a seam :func:`sections` adds)."""
    if k < 2 or meters[k - 2][1:] != meters[k][1:]:
        return False
    a, b = meters[k - 2][0], meters[k - 1][0]
    return meters[k][0] - b == b - a and repeats(score, q, a, b, b - a)


#: Share of a passage's weight that its last chord adds to the phases putting it on a
#: strong beat (chosen on the Bach chorales; each half of them alone picks the same value).
FINAL_WEIGHT = 0.1


def section_pickup(start: np.ndarray, end: np.ndarray, num: int, den: int) -> int:
    """Pickup in units of a passage in one meter (times from its start).

    Each whole-beat phase of the bar is scored by the squared lengths of the notes on its
    downbeats (half that at mid-bar in even meters: long notes start on strong beats), plus
    a tenth of all that weight where the passage's last chord falls on a strong beat
    (pieces and repeated sections end on one). A pickup of half a bar or more gives way to
    the phase half a bar earlier (strong beats cannot tell the two apart) unless that one
    ties clearly more notes over bar lines: upbeats are short."""
    bar = bar_units(num, den)
    beat = 3 * UNITS // 2 if den == 8 and num % 3 == 0 else 4 * UNITS // den
    if bar <= beat or not len(start):
        return 0
    weight = (end - start).astype(np.float64) ** 2
    even = (bar // beat) % 2 == 0
    strong = bar // 2 if even else bar
    final = int(start[end >= end.max()].min())
    score: dict[int, float] = {}
    for p in range(0, bar, beat):
        pos = (start - p) % bar
        score[p] = float(weight[pos == 0].sum()) + \
            (0.5 * float(weight[pos == bar // 2].sum()) if even else 0.0) + \
            (FINAL_WEIGHT * float(weight.sum()) if (final - p) % strong == 0 else 0.0)
    best = max(score.values())
    pickup = next(p for p in score if score[p] >= best * (1 - 1e-9))
    crossing = {p: int(np.count_nonzero((start - p) // bar != (end - 1 - p) // bar))
                for p in range(0, bar, beat)}
    shorter = pickup - bar // 2
    if bar % 2 == 0 and shorter in crossing and \
            crossing[shorter] <= crossing[pickup] + 2 + crossing[pickup] // 4:
        return shorter
    return pickup


def _key_signatures(score: Score, q: Quantized) -> list[tuple[int, int, bool]]:
    """(units, sharps, minor) of each key; a score without any gets one found from its notes."""
    if score.key_signatures:
        return sorted((to_units(k.tick, score.tpq), k.key, k.minor)
                      for k in score.key_signatures)
    from mos_lab.theory.keyfinding import key_fifths, key_scores

    notes = score.notes
    hist = np.bincount(notes["pitch"] % 12, weights=(q.end - q.start).astype(float),
                       minlength=12)
    key = int(np.argmax(key_scores(hist)))
    minor = key >= 12
    sharps = key_fifths(key) - (3 if minor else 0)
    if abs(sharps) > 7:
        sharps -= 12 * int(np.sign(sharps))
    return [(0, sharps, minor)]


def _spelling(score: Score) -> np.ndarray:
    if score.spelling is not None:
        return np.asarray(score.spelling, dtype=np.int64)
    from mos_lab.theory import spell

    return spell(score)


def _bucket(velocity: float) -> str:
    return next(name for top, name in _DYNAMICS if velocity < top)


def notate(score: Score, *, analysis: Analysis | None = None, harmony: str = "both",
           pickup: int | None = None, quantized: Quantized | None = None) -> Notated:
    """The engraving-ready view of a score; ``pickup`` in ticks (None: inferred)."""
    notated, filler = notate_lazily(score, analysis=analysis, harmony=harmony, pickup=pickup,
                                    quantized=quantized)
    filler.fill(0, filler.bars)
    return notated


def notate_lazily(score: Score, *, analysis: Analysis | None = None, harmony: str = "both",
                  pickup: int | None = None, quantized: Quantized | None = None
                  ) -> tuple[Notated, Filler]:
    """The view with every bar, meter, key, clef and dynamic but no notes yet, and the
    :class:`Filler` that writes the notes of a run of bars when it is needed (a long score
    pages in a chunk at a time); the bar lines, spelling, staves and voices are worked out
    here, over the whole score, so any run of bars comes out as it would in one go."""
    q = quantize(score) if quantized is None else quantized
    check(score, q)
    notes, tpq = score.notes, score.tpq
    meters = sections(score, q)
    bars = [] if score.measures is None or pickup is not None else \
        stored_bars(score, int(q.end.max()))
    if bars:  # the source's own bar lines
        first_len, first_meter = bars[0][1], bars[0][2]
        p_units = [first_len if first_len < bar_units(*first_meter) else 0]
    else:
        p_units = infer_pickup(q, meters, score,
                               None if pickup is None else to_units(pickup, tpq))
        p_units = [p % bar_units(m[1], m[2]) for p, m in zip(p_units, meters, strict=True)]
        bars = measures(meters, p_units, int(q.end.max()))
    starts = np.array([b[0] for b in bars], dtype=np.int64)
    keys = _key_signatures(score, q)
    fifths = _spelling(score)
    from mos_lab.theory.pitch import Pitch

    pairs = notes["pitch"].astype(np.int64) * 1000 + fifths + 100  # few distinct spellings
    uniq, inverse = np.unique(pairs, return_inverse=True)
    made = [Pitch.from_midi(int(u) // 1000, int(u) % 1000 - 100) for u in uniq]
    spelled = [made[k] for k in inverse.ravel().tolist()]
    tracks = np.unique(notes["track"]).tolist()
    plans = [_part(score, q, ti, bars, starts, spelled) for ti in tracks]
    parts = [plan.part for plan in plans]
    _bar_attributes(parts, bars, meters, keys)
    placed: list[tuple[int, int, list[str]]] = []
    first_line = 1
    if analysis is not None and harmony != "none":
        verses = [max((ly.verse for ly in score.lyrics if ly.track == ti), default=0)
                  for ti in tracks]
        first_line = verses[-1] + 1
        placed = _harmony_lines(analysis, harmony, score, q, starts)
    title = score.title
    bpm = score.tempo.changes[0].bpm if score.tempo.changes else 120.0
    notated = Notated(title, parts, bpm=bpm, pickup=p_units[0], performed=q.performed,
                      composer=score.composer)
    return notated, Filler(score, bars, spelled, plans, tracks, placed, first_line)


@dataclass
class _Lane:
    """One voice of one staff of a part: its chords cut into the bars they sound in."""

    staff: int
    voice: int
    per_bar: dict[int, list[tuple[int, int, Chord]]]


@dataclass
class _Plan:
    """A part with its bars but no notes yet, and the voices that fill them."""

    part: Part
    lanes: list[_Lane]
    drums: bool
    written: Callable[[object], frozenset[int] | None] | None


class Filler:
    """Writes the notes of runs of bars into a lazily made :class:`Notated` (each bar once:
    its voices, written values, ties, accidentals, lyrics and harmony)."""

    def __init__(self, score: Score, bars: list[tuple[int, int, tuple[int, int]]],
                 spelled: list, plans: list[_Plan], tracks: list[int],
                 harmony: list[tuple[int, int, list[str]]], first_line: int) -> None:
        self.score = score
        self._bars = bars
        self._spelled = spelled
        self._plans = plans
        self._tracks = tracks
        self._harmony = harmony
        self._first_line = first_line
        self._done = np.zeros(len(bars), dtype=bool)
        self._lock = threading.Lock()

    @property
    def bars(self) -> int:
        """How many bars the view has."""
        return len(self._bars)

    @property
    def complete(self) -> bool:
        """Whether every bar has its notes."""
        return bool(self._done.all())

    def fill(self, first: int, end: int) -> None:
        """Write the notes of bars ``first``..``end - 1`` not written yet (thread-safe)."""
        with self._lock:
            todo = [b for b in range(max(first, 0), min(end, len(self._bars)))
                    if not self._done[b]]
            if not todo:
                return
            for plan in self._plans:
                for lane in plan.lanes:
                    for b in todo:
                        items = lane.per_bar.get(b, [])
                        if lane.voice > 0 and not items:
                            continue
                        bs, bl, meter = self._bars[b]
                        voice = Voice(lane.staff + 1, lane.staff * 4 + lane.voice + 1)
                        for ev, payload in fill_voice(items, bs, bl, meter,  # type: ignore[arg-type]
                                                      rests=lane.voice == 0,
                                                      written=plan.written):
                            if isinstance(payload, Chord):
                                ev.heads = _heads(payload, ev, self._spelled, plan.drums)
                            voice.events.append(ev)
                        plan.part.measures[b].voices.append(voice)
            parts = [plan.part for plan in self._plans]
            _accidentals(parts, todo)
            _lyrics(parts, self._tracks, self.score, todo)
            wanted = set(todo)
            for b, t, lines in self._harmony:
                if b in wanted:
                    _place_harmony(parts[-1], b, t, lines, self._first_line)
            self._done[todo] = True


def _lyrics(parts: list[Part], tracks: list[int], score: Score, bars: list[int]) -> None:
    """Put each sung syllable of ``bars`` under the first head of the note its track
    starts at its tick (the highest voice's where several do)."""
    if not score.lyrics:
        return
    notes = score.notes
    for part, ti in zip(parts, tracks, strict=True):
        sung = [ly for ly in score.lyrics if ly.track == ti]
        if not sung:
            continue
        host: dict[int, Event] = {}  # onset tick -> the event whose note starts there
        for b in bars:
            for v in sorted(part.measures[b].voices, key=lambda v: v.number):
                for ev in v.events:
                    for h in ev.heads:
                        if not h.tie_stop:
                            host.setdefault(int(notes["start"][h.note]), ev)
        for ly in sung:
            at = host.get(ly.tick)
            if at is not None:
                at.lyrics[ly.verse] = ly.text


def _source_voices(score: Score, q: Quantized, rows: np.ndarray, sel: np.ndarray,
                   pitch: np.ndarray) -> list[list[Chord]] | None:
    """The voices of one staff as the source wrote them (``Score.voices``), each source
    voice's chords separated like any notes (a voice may hold overlapping notes), in the
    source's order; None where the source gave none or one voice here, or more than fit a
    staff (the engraver then separates the notes itself)."""
    if score.voices is None or not sel.any():
        return None
    given = score.voices[rows].astype(np.int64)
    labels = np.unique(given[sel]).tolist()
    if len(labels) < 2:
        return None
    out: list[list[Chord]] = []
    for label in labels:
        m = sel & (given == label)
        out += separate(q.start[rows[m]], q.end[rows[m]], pitch[m], rows[m], q.performed)
    return out if len(out) <= MAX_VOICES else None


def _part(score: Score, q: Quantized, ti: int, bars: list[tuple[int, int, tuple[int, int]]],
          starts: np.ndarray, spelled: list) -> _Plan:
    notes = score.notes
    track = score.tracks[ti]
    rows = np.flatnonzero(notes["track"] == ti)
    pitch = notes["pitch"][rows].astype(np.int64)
    staff = np.zeros(len(rows), dtype=np.int64)
    if needs_grand_staff(pitch, track.program, track.drums):
        staff = split_hands(q.start[rows], pitch)
        if staff.min() == staff.max():  # the hands never parted: one staff after all
            staff[:] = 0
    n_staves = int(staff.max()) + 1
    bar_starts = starts.tolist()
    clefs = []
    for s in range(n_staves):
        sel = rows[staff == s]
        if track.drums:
            clefs.append("percussion")
        else:
            dia = np.array([spelled[i].octave * 7 + spelled[i].step for i in sel.tolist()])
            clefs.append("treble" if n_staves == 2 and s == 0 else
                         "bass" if n_staves == 2 else choose_clef(dia))
    part = Part(track.name or f"Track {ti + 1}", clefs, program=track.program,
                drums=track.drums)
    first = 0 if bars[0][1] < bar_units(*bars[0][2]) else 1  # a pickup is bar 0
    part.measures = [Measure(i + first, s, ln, implicit=ln < bar_units(*m))
                     for i, (s, ln, m) in enumerate(bars)]
    lanes: list[_Lane] = []
    for s in range(n_staves):
        sel = staff == s
        voices = _source_voices(score, q, rows, sel, pitch)
        if voices is None:
            voices = separate(q.start[rows[sel]], q.end[rows[sel]], pitch[sel], rows[sel],
                              q.performed)
        if not voices:
            voices = [[]]
        for vi, chords in enumerate(voices):
            per_bar: dict[int, list[tuple[int, int, Chord]]] = {}
            for c in chords:
                b0 = bisect.bisect_right(bar_starts, c.start) - 1
                b1 = bisect.bisect_right(bar_starts, c.end - 1) - 1
                for b in range(b0, b1 + 1):
                    bs, bl, _ = bars[b]
                    per_bar.setdefault(b, []).append((max(c.start, bs), min(c.end, bs + bl), c))
            lanes.append(_Lane(s, vi, per_bar))
    _dynamics(part, score, q, rows, starts)
    return _Plan(part, lanes, track.drums, _written_ties(score, q))


def _written_ties(score: Score, q: Quantized) -> Callable[[object], frozenset[int] | None] | None:
    """Where the source tied each chord's heads (units), from ``Score.ties``; None where the
    source said nothing (MIDI), so the page's own rules split notes."""
    if score.ties is None:
        return None
    by_row: dict[int, set[int]] = {}
    for row, tick in score.ties.tolist():
        by_row.setdefault(row, set()).add(to_units(tick, score.tpq))
    none: frozenset[int] = frozenset()

    def written(chord: object) -> frozenset[int] | None:
        if not isinstance(chord, Chord):
            return None
        if q.performed:  # a performance's heads are the page's own (times were snapped)
            return None
        tied = [by_row[r] for r in chord.notes if r in by_row]
        return frozenset().union(*tied) if tied else none

    return written


def _heads(c: Chord, ev: Event, spelled: list, drums: bool) -> list[Head]:
    out = []
    for row in c.notes:
        p = spelled[row]
        stop, start = ev.start > c.start, ev.start + ev.duration < c.end
        hid = f"n{row}" if not stop else f"n{row}-{ev.start}"
        out.append(Head(_LETTERS[p.step], p.alter, int(p.octave), row, tie_start=start,
                        tie_stop=stop, id=hid, unpitched=drums))
    out.sort(key=lambda h: (h.octave, _LETTERS.index(h.step)))
    return out


def _bar_attributes(parts: list[Part], bars: list, meters: list, keys: list) -> None:
    """Meter and key at the first bar and wherever they change."""
    key_at = np.array([k[0] for k in keys])
    last_meter, last_key = None, None
    for b, (bs, _, meter) in enumerate(bars):
        k = keys[max(int(np.searchsorted(key_at, bs, "right")) - 1, 0)]
        key = (int(k[1]), bool(k[2]))
        for part in parts:
            m = part.measures[b]
            m.time = meter if meter != last_meter else None
            m.key = key if key != last_key else None
        last_meter, last_key = meter, key


def _accidentals(parts: list[Part], bars: list[int]) -> None:
    """Print an accidental where a note's alteration differs from what the bar says so far
    (key signature, then earlier notes of the same letter and octave on that staff)."""
    for part in parts:
        keyed = [b for b, m in enumerate(part.measures) if m.key is not None]
        for b in bars:
            m = part.measures[b]
            at = keyed[max(bisect.bisect_right(keyed, b) - 1, 0)] if keyed else None
            current = part.measures[at].key if at is not None else None
            sig = _key_alters((current or (0, False))[0])
            for staff in {v.staff for v in m.voices}:
                heads = sorted(((ev.start, h) for v in m.voices if v.staff == staff
                                for ev in v.events for h in ev.heads if not h.unpitched),
                               key=lambda x: x[0])
                state: dict[tuple[str, int], int] = {}
                for _, h in heads:
                    key = (h.step, h.octave)
                    now = state.get(key, sig[h.step])
                    if h.tie_stop:
                        continue
                    if h.alter != now:
                        h.accidental = _ACCIDENTALS.get(h.alter)
                        state[key] = h.alter


def _key_alters(sharps: int) -> dict[str, int]:
    order = "FCGDAEB"
    alters = dict.fromkeys(_LETTERS, 0)
    for i in range(abs(sharps)):
        alters[order[i] if sharps > 0 else order[::-1][i]] = 1 if sharps > 0 else -1
    return alters


def _dynamics(part: Part, score: Score, q: Quantized, rows: np.ndarray,
              starts: np.ndarray) -> None:
    """Dynamics where a part's loudness changes (a part at one velocity shows none)."""
    vel = score.notes["velocity"][rows].astype(np.float64)
    tops = [top for top, _ in _DYNAMICS]
    if len(np.unique(np.searchsorted(tops, vel, side="right"))) < 2:
        return
    bar_of = np.searchsorted(starts, q.start[rows], "right") - 1
    bars = np.unique(bar_of).tolist()
    levels = [_bucket(float(np.median(vel[bar_of == b]))) for b in bars]
    last = None
    for k, b in enumerate(bars):  # a new level is printed once it holds for two bars
        level = levels[k]
        held = k + 1 >= len(levels) or levels[k + 1] == level or last is None
        if level != last and held:
            part.measures[b].directions.append(
                Direction(1, part.measures[b].start, "dynamics", level))
            last = level


def _harmony_lines(analysis: Analysis, harmony: str, score: Score, q: Quantized,
                   starts: np.ndarray) -> list[tuple[int, int, list[str]]]:
    """(bar, time in units, text lines) of each harmony of an analysis: its chord symbol
    and Roman numeral (with the key where it changes), as ``harmony`` asks."""
    note_starts = score.notes["start"]
    last_key = None
    out: list[tuple[int, int, list[str]]] = []
    for seg in analysis.segments:
        i = int(np.clip(np.searchsorted(note_starts, seg.tick), 0, len(note_starts) - 1))
        t = int(q.start[i]) if note_starts[i] == seg.tick else to_units(seg.tick, score.tpq)
        b = int(np.searchsorted(starts, t, "right")) - 1
        if b < 0:
            continue
        lines = []
        if harmony in ("symbols", "both") and seg.chord:
            lines.append(seg.chord)
        if harmony in ("roman", "both") and seg.numeral:
            lines.append(seg.numeral if seg.key == last_key else f"{seg.key}: {seg.numeral}")
            last_key = seg.key
        out.append((b, t, lines))
    return out


def _place_harmony(part: Part, b: int, t: int, lines: list[str], first_line: int) -> None:
    """Chord symbols and Roman numerals under the part's lowest staff: as text lines under
    the note starting there (the page makes room for them, as for lyrics), else as words
    at that time."""
    staff = len(part.clefs)
    m = part.measures[b]
    host = next((ev for v in m.voices if v.staff == staff and v.number == (staff - 1) * 4 + 1
                 for ev in v.events if ev.start == t and ev.heads
                 and not ev.heads[0].tie_stop), None)
    for n, text in enumerate(lines, start=first_line):
        if host is not None:
            host.lyrics[n] = text
        else:
            m.directions.append(Direction(staff, t, "words", text))
