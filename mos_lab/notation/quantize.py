"""Quantisation for the page: note times in notation units, with a grid chosen per piece.

A score read from notation (MusicXML, ABC, a chorale rendered to MIDI) already sits on a
grid, and keeps its exact times. A performed one (notes off any grid) is snapped: the
binary grid is the coarsest subdivision of the quarter that the onsets sit on (mean
distance under a tenth of a step), and each beat whose onsets fit a triplet grid clearly
better is read as a triplet. This is a view for the page only; the Score never changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mos_lab.notation.model import UNITS
from mos_lab.score import Score

#: Binary subdivisions of the quarter tried for a performance, coarsest first.
BINARY = (1, 2, 4, 8)
#: Mean distance to the grid, in grid steps, under which the onsets "sit on" it.
FIT = 0.1


@dataclass(frozen=True)
class Quantized:
    """Note starts and ends in units (aligned with ``Score.notes``) and how they were found."""

    start: np.ndarray
    end: np.ndarray
    performed: bool  # snapped from a performance (False: the times were already notation)
    grid: int  # binary steps per quarter used for snapping (0: none needed)
    triplet_beats: int  # beats read as triplets


def _on_grid(units: np.ndarray) -> np.ndarray:
    """Times that notation can show as they are: on a 64th or a 32nd-triplet grid."""
    return (units % (UNITS // 16) == 0) | (units % (UNITS // 12) == 0)


def _ternary(binary: int) -> int:
    """The triplet grid compared with a binary one: no finer than it (triplet eighths
    against 16ths), so noise alone never looks like triplets."""
    return 3 if binary <= 4 else 6


def _snap(q: np.ndarray, binary: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(snapped onsets in quarters, triplet flag per beat index, beats) for onsets ``q``."""
    ternary = _ternary(binary)
    beat = np.floor(q).astype(np.int64)
    qb = np.round(q * binary) / binary
    qt = np.round(q * ternary) / ternary
    eb, et = np.abs(q - qb), np.abs(q - qt)
    n_beats = int(beat.max()) + 2 if len(beat) else 1
    sum_b = np.bincount(beat, weights=eb, minlength=n_beats)
    sum_t = np.bincount(beat, weights=et, minlength=n_beats)
    off = np.bincount(beat, weights=(eb * binary > 0.25).astype(float), minlength=n_beats)
    triplet = (sum_t < 0.5 * sum_b) & (off >= 2)
    return np.where(triplet[beat], qt, qb), triplet, beat


def quantize(score: Score) -> Quantized:
    """The notation view of a score's note times (see the module docstring)."""
    notes = score.notes
    tpq = score.tpq
    start = notes["start"].astype(np.int64)
    end = start + notes["duration"].astype(np.int64)
    if not len(notes):
        empty = np.zeros(0, dtype=np.int64)
        return Quantized(empty, empty, False, 0, 0)
    exact = (start * UNITS % tpq == 0) & (end * UNITS % tpq == 0)
    su, eu = start * UNITS // tpq, end * UNITS // tpq
    notation = exact & _on_grid(su) & _on_grid(eu)
    if notation.all():
        return Quantized(su, np.maximum(eu, su + 1), False, 0, 0)
    performed = notation.mean() < 0.9
    q, e = start / tpq, end / tpq
    if performed:
        binary = next((b for b in BINARY
                       if np.abs(q * b - np.round(q * b)).mean() <= FIT), 4)
    else:
        binary = 8
    qs, triplet, _ = _snap(q, binary)
    ternary = _ternary(binary)
    step = np.where(triplet[np.floor(q).astype(np.int64)], 1 / ternary, 1 / binary)
    e_beat = np.minimum(np.floor(e).astype(np.int64), len(triplet) - 1)
    es = np.where(triplet[e_beat], np.round(e * ternary) / ternary,
                  np.round(e * binary) / binary)
    es = np.maximum(es, qs + step)
    s_units = np.round(qs * UNITS).astype(np.int64)
    e_units = np.round(es * UNITS).astype(np.int64)
    keep = notation & ~performed
    s_units = np.where(keep, su, s_units)
    e_units = np.where(keep, eu, e_units)
    return Quantized(s_units, np.maximum(e_units, s_units + 1), bool(performed),
                     binary, int(triplet.sum()))
