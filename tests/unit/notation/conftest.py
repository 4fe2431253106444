"""Small scores made in the test, and the MusicXML they engrave as, parsed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from mos_lab.score import KeySignature, Score, TimeSignature, Track
from mos_lab.score._types import NOTE_DTYPE
from mos_lab.score.tempo import TempoChange, TempoMap

pytest.importorskip("verovio")


def make_score(rows: list[tuple[int, int, int, int]], *, tracks: int = 1, tpq: int = 480,
               bpm: float = 120.0, meter: tuple[int, int] = (4, 4), key: int | None = 0,
               spelling: list[int] | None = None, program: int = 0) -> Score:
    """A score from (start, duration, pitch, track) rows in ticks."""
    notes = np.zeros(len(rows), dtype=NOTE_DTYPE)
    for i, (s, d, p, t) in enumerate(rows):
        notes[i] = (s, d, p, 80, t, t)
    order = np.argsort(notes["start"], kind="stable")
    notes = notes[order]
    spell = None if spelling is None else np.asarray(spelling)[order]
    return Score(notes, tuple(Track(f"T{i}", program, i) for i in range(tracks)),
                 TempoMap(tpq, [TempoChange(0, round(60_000_000 / bpm))]),
                 time_signatures=(TimeSignature(0, *meter),),
                 key_signatures=() if key is None else (KeySignature(0, key),),
                 spelling=spell)


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml.encode("utf-8"))
