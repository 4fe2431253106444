"""Merging generated parts into one score, and checking the merge (JAM-04).

Parts made by different generators disagree in small ways: another resolution, another
tempo map, a note past the end, two notes on one key of one voice at once. ``merge_parts``
repairs what it safely can (re-timing resolution, adopting the first part's tempo map,
cutting at the length, trimming overlaps) and says what it did; ``merge_problems`` checks
the result: one length, one tempo map, no overlaps per voice.
"""

from __future__ import annotations

import numpy as np

from mos_lab.score import NOTE_DTYPE, Score, Track


class MergeError(ValueError):
    """Parts that cannot be merged (no parts, or nothing left after repair)."""


def _trim_overlaps(notes: np.ndarray) -> tuple[np.ndarray, int]:
    """Cut each note at the next start of the same (track, pitch); drop empty ones."""
    order = np.lexsort((notes["start"], notes["pitch"], notes["track"]))
    n = notes[order].copy()
    same = (n["track"][1:] == n["track"][:-1]) & (n["pitch"][1:] == n["pitch"][:-1])
    end = n["start"][:-1] + n["duration"][:-1]
    over = same & (end > n["start"][1:])
    idx = np.flatnonzero(over)
    n["duration"][idx] = n["start"][idx + 1] - n["start"][idx]
    n = n[n["duration"] > 0]
    return n[np.argsort(n["start"], kind="stable")], len(idx)


def merge_parts(parts: list[Score], length_ticks: int) -> tuple[Score, list[str]]:
    """One score with a track per part, cut to ``length_ticks`` of the first part's
    resolution and tempo map; the repairs made, as lines."""
    parts = [p for p in parts if p is not None and p.n_notes]
    if not parts:
        raise MergeError("merge: no part has notes")
    base = parts[0]
    notes: list[np.ndarray] = []
    tracks: list[Track] = []
    fixes: list[str] = []
    for i, part in enumerate(parts):
        n = part.notes.copy()
        if part.tpq != base.tpq:
            f = base.tpq / part.tpq
            n["start"] = np.rint(n["start"] * f)
            n["duration"] = np.rint(n["duration"] * f)
            fixes.append(f"part {i}: resolution {part.tpq} re-timed to {base.tpq}")
        if part.tempo != base.tempo:
            fixes.append(f"part {i}: its tempo map differs; the first part's is used")
        late = n["start"] >= length_ticks
        long = n["start"] + n["duration"] > length_ticks
        if late.any() or long.any():
            fixes.append(f"part {i}: {int(late.sum())} notes after the end dropped, "
                         f"{int((long & ~late).sum())} cut at the end")
        n = n[~late]
        n["duration"] = np.minimum(n["duration"], length_ticks - n["start"])
        for t_old, tr in enumerate(part.tracks):
            sel = n["track"] == t_old
            if not sel.any():
                continue
            ch = 9 if tr.drums else [c for c in range(16) if c != 9][len(tracks) % 15]
            m = n[sel].copy()
            m["track"], m["channel"] = len(tracks), ch
            notes.append(m)
            tracks.append(Track(tr.name or f"part {i}", tr.program, ch, tr.drums))
    table = np.concatenate(notes) if notes else np.zeros(0, NOTE_DTYPE)
    table, trimmed = _trim_overlaps(table)
    if trimmed:
        fixes.append(f"{trimmed} overlapping notes in one voice trimmed")
    if not len(table):
        raise MergeError("merge: no notes left inside the length")
    merged = base.replace(notes=table, tracks=tuple(tracks), controls=base.controls[:0])
    return merged, fixes


def merge_problems(score: Score, length_ticks: int, tempo: object | None = None) -> list[str]:
    """What is wrong with a merged score: past the length, another tempo map, overlaps."""
    p = []
    if score.end_tick > length_ticks:
        p.append(f"length: ends at tick {score.end_tick}, past {length_ticks}")
    if tempo is not None and score.tempo != tempo:
        p.append("tempo: the merged score's tempo map is not the skeleton's")
    _, overlaps = _trim_overlaps(score.notes)
    if overlaps:
        p.append(f"voices: {overlaps} notes overlap another on the same key of one track")
    return p
