"""Voices of one staff: notes grouped into chords and chords into at most four voices.

Chords are notes of one staff that start and end together. Each chord goes, highest first
at each onset, to the lowest-numbered voice free at its start, so the upper line stays
voice 1. A performance's small overlaps (legato) and gaps are read as the notated line:
the earlier note is cut or held to the next onset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mos_lab.notation.model import UNITS

MAX_VOICES = 4


@dataclass(slots=True)
class Chord:
    """Notes (rows of ``Score.notes``) sounding together in one voice, in units."""

    start: int
    end: int
    notes: list[int] = field(default_factory=list)
    top: int = 0  # highest pitch


def separate(start: np.ndarray, end: np.ndarray, pitch: np.ndarray, rows: np.ndarray,
             performed: bool) -> list[list[Chord]]:
    """The chords of each voice (voice 1 first) of notes ``rows`` of one staff."""
    order = np.lexsort((-pitch.astype(np.int64), end, start))
    chords: list[Chord] = []
    index: dict[tuple[int, int], Chord] = {}
    for i in order.tolist():
        key = (int(start[i]), int(end[i]))
        c = index.get(key)
        if c is None:
            c = index[key] = Chord(key[0], key[1], top=int(pitch[i]))
            chords.append(c)
        c.notes.append(int(rows[i]))
    chords.sort(key=lambda c: (c.start, -c.top))  # highest chord first at each onset
    slack = UNITS // 4 if performed else 0
    voices: list[list[Chord]] = []
    for c in chords:
        home = None
        for v in voices:
            last = v[-1]
            overlap = last.end - c.start
            if overlap <= 0 or (overlap <= slack and c.start - last.start >= 2 * overlap):
                home = v
                break
        if home is None and len(voices) < MAX_VOICES:
            voices.append([c])
            continue
        if home is None:  # more than four lines at once: cut the voice that ends first
            home = min(voices, key=lambda v: v[-1].end)
            if home[-1].start == c.start:
                home[-1].notes += c.notes
                continue
        last = home[-1]
        if last.end > c.start or (performed and 0 < c.start - last.end <= slack):
            last.end = c.start
        home.append(c)
    return voices
