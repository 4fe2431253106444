"""Notes packed for the page: one little-endian float32 row per note.

Row: start seconds, end seconds, pitch, track (16 bytes), sorted by start, drums
included. Sent once per score as a binary buffer (no JSON of numbers); the page finds what
sounds at the playhead with a binary search over starts plus the longest duration.
"""

from __future__ import annotations

import numpy as np

from mos_lab.score import Score
from mos_lab.theater.roll import note_spans

PALETTE = ["#4fc3f7", "#ffb74d", "#81c784", "#f06292", "#ba68c8", "#4db6ac", "#fff176",
           "#e57373", "#7986cb", "#a1887f", "#90a4ae", "#aed581"]


def pack_notes(score: Score | None) -> bytes:
    """The score's notes as ``(n, 4)`` float32 bytes: start s, end s, pitch, track."""
    if score is None or not score.n_notes:
        return b""
    n = score.notes
    start, end = note_spans(score)
    rows = np.empty((len(n), 4), dtype="<f4")
    rows[:, 0], rows[:, 1] = start, np.maximum(end, start + 0.01)
    rows[:, 2], rows[:, 3] = n["pitch"], n["track"]
    return rows.tobytes()


def track_names(score: Score | None) -> list[str]:
    if score is None:
        return []
    return [t.name or f"track {i + 1}" for i, t in enumerate(score.tracks)]
