"""Non-chord tones: each note outside its harmony, named by how its voice moves.

A voice is a track (its notes in time order; in a chord inside one track the nearest
pitch is the neighbour). With ``a`` the note before, ``p`` the note and ``b`` the note
after: a held-over note that falls by step is a suspension (rises: still "suspension",
a retardation); step in and on in the same direction is passing; step in and back is a
neighbour; leap in, step out an appoggiatura; step in, leap out an escape tone; a note
repeated as a chord tone of the next harmony an anticipation; a note held through two
or more changes of harmony, outside at least one of them, a pedal.
"""

from __future__ import annotations

import numpy as np

from mos_lab.theory.analysis.model import NonChordTone


def _step(x: int) -> bool:
    return 1 <= abs(x) <= 2


def classify(prev: int | None, pitch: int, nxt: int | None, held: bool,
             next_is_chord_tone: bool) -> str:
    """Kind of a non-chord tone from its neighbours in the voice (MIDI pitches)."""
    if held:
        if nxt is not None and _step(nxt - pitch):
            return "suspension"
        return "pedal"
    if prev is None or nxt is None:
        return "other"
    a, b = pitch - prev, nxt - pitch
    if b == 0 and next_is_chord_tone:
        return "anticipation"
    if _step(a) and _step(b):
        return "passing" if (a > 0) == (b > 0) else "neighbour"
    if abs(a) > 2 and _step(b):
        return "appoggiatura"
    if _step(a) and abs(b) > 2:
        return "escape"
    return "other"


def _neighbours(pitch: np.ndarray, order: np.ndarray, keys: np.ndarray, at: np.ndarray,
                near: np.ndarray) -> np.ndarray:
    """For each query, the pitch of the voice's note whose time (``keys``: track-offset
    ends or starts, sorted as ``order``) equals ``at``: the one nearest ``near`` when there
    are several, -1 when none."""
    lo = np.searchsorted(keys, at, side="left")
    hi = np.searchsorted(keys, at, side="right")
    out = np.where(hi > lo, pitch[order[np.minimum(lo, len(order) - 1)]], -1)
    for q in np.flatnonzero(hi - lo > 1).tolist():  # chords inside one track
        cands = pitch[order[lo[q]:hi[q]]]
        out[q] = cands[np.argmin(np.abs(cands - near[q]))]
    return out


def label(notes: np.ndarray, seg_start: np.ndarray, seg_end: np.ndarray,
          masks: np.ndarray) -> list[list[NonChordTone]]:
    """Non-chord tones of every segment, from a note table (start, duration, pitch, track)
    and each segment's chord as a 12-bit pitch-class mask."""
    out: list[list[NonChordTone]] = [[] for _ in range(len(seg_start))]
    if not len(notes) or not len(seg_start):
        return out
    start = notes["start"].astype(np.int64)
    end = start + notes["duration"].astype(np.int64)
    pitch = notes["pitch"].astype(np.int64)
    track = notes["track"].astype(np.int64)
    # the segment at each note's start, and at each segment start the notes held over
    first = np.clip(np.searchsorted(seg_start, start, side="right") - 1, 0, None)
    last = np.clip(np.searchsorted(seg_start, end - 1, side="right") - 1, 0, None)
    pc = pitch % 12
    outside_first = ((masks[first] >> pc) & 1) == 0
    spans = last > first
    cand = np.flatnonzero(outside_first | spans)
    if not len(cand):
        return out
    by_start = np.lexsort((start, track))
    by_end = np.lexsort((end, track))
    key_start = track[by_start] * (1 << 40) + start[by_start]
    key_end = track[by_end] * (1 << 40) + end[by_end]
    base = track[cand] * (1 << 40)
    prevs = _neighbours(pitch, by_end, key_end, base + start[cand], pitch[cand])
    nexts = _neighbours(pitch, by_start, key_start, base + end[cand], pitch[cand])
    for ni, pv, nx in zip(cand.tolist(), prevs.tolist(), nexts.tolist(), strict=True):
        prev = pv if pv >= 0 else None
        nxt = nx if nx >= 0 else None
        tr = int(track[ni])
        for s in range(int(first[ni]), int(last[ni]) + 1):
            if (masks[s] >> pc[ni]) & 1:
                continue
            held = bool(s > first[ni])
            nxt_ct = bool(nxt is not None and s + 1 < len(masks)
                          and (masks[s + 1] >> (nxt % 12)) & 1)
            kind = classify(prev, int(pitch[ni]), nxt, held, nxt_ct)
            if held and last[ni] - first[ni] >= 2:
                kind = "pedal"  # held through two or more changes of harmony
            tick = int(max(start[ni], seg_start[s]))
            out[s].append(NonChordTone(tick, int(pitch[ni]), int(tr), kind))
    return out
