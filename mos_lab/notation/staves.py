"""Staves of a part: when a part needs two (a piano's hands), where to split, which clefs.

The split follows the hands: a Viterbi pass over the part's onsets picks a split pitch per
onset (each note below it goes to the lower staff) that stays near middle C, keeps each
hand's notes within about a tenth, and moves little. Clefs are the ones that need the
fewest ledger lines for the notes the staff holds.
"""

from __future__ import annotations

import numpy as np

#: Split pitches tried (MIDI): from C3 to C5.
SPLITS = np.arange(48, 73)
#: Staff span per clef as diatonic numbers (octave * 7 + letter), bottom and top lines.
CLEF_LINES = {"treble": (30, 38), "bass": (18, 26), "treble8vb": (23, 31)}
#: Ledger lines a clef must save per note before it replaces the plain treble or bass.
CLEF_BIAS = {"treble": 0.0, "bass": 0.0, "treble8vb": 0.75}
_PIANOS = set(range(0, 8)) | set(range(16, 24)) | {46}  # pianos, organs, harp
_DIATONIC = np.array([0, 0, 1, 2, 2, 3, 3, 4, 4, 5, 6, 6])  # letter of each pitch class


def needs_grand_staff(pitches: np.ndarray, program: int, drums: bool) -> bool:
    """Two staves when one cannot hold the part: its best clef would need more than 1.2
    ledger lines per note on average (0.8 for a keyboard reaching across middle C; a
    ragtime left hand, bass and chords, still fits one bass staff)."""
    if drums or len(pitches) < 2:
        return False
    dia = (pitches.astype(np.int64) // 12 - 1) * 7 + _DIATONIC[pitches.astype(np.int64) % 12]
    ledgers = min(float(_ledgers(dia, lo, hi).mean()) for lo, hi in CLEF_LINES.values())
    keyboard = program in _PIANOS and pitches.min() < 55 and pitches.max() > 65
    return ledgers > (0.8 if keyboard else 1.2)


def _ledgers(diatonic: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return np.maximum(diatonic - hi, 0) // 2 + np.maximum(lo - diatonic, 0) // 2


def split_hands(onsets: np.ndarray, pitches: np.ndarray) -> np.ndarray:
    """Staff (0 upper, 1 lower) of each note, from a split point chosen per onset."""
    n = len(onsets)
    if not n:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(onsets, kind="stable")
    times, group = np.unique(onsets[order], return_inverse=True)
    g = len(times)
    p = pitches[order].astype(np.int64)
    lower = p[:, None] < SPLITS[None, :]  # (notes, splits)
    big = 1000
    # per group and split: span of each hand beyond a tenth (16 semitones)
    def span(mask: np.ndarray) -> np.ndarray:
        hi = np.full((g, len(SPLITS)), -big)
        lo = np.full((g, len(SPLITS)), big)
        vals = np.where(mask, p[:, None], -big)
        np.maximum.at(hi, group, vals)
        vals = np.where(mask, p[:, None], big)
        np.minimum.at(lo, group, vals)
        s = np.where(hi > -big, hi - lo, 0)
        return np.maximum(s - 16, 0).astype(np.float64)

    cost = span(lower) + span(~lower) + 0.04 * np.abs(SPLITS - 60)[None, :]
    trans = 0.08 * np.abs(SPLITS[:, None] - SPLITS[None, :])
    acc = cost[0].copy()
    back = np.zeros((g, len(SPLITS)), dtype=np.int64)
    for i in range(1, g):
        tot = acc[:, None] + trans
        back[i] = np.argmin(tot, axis=0)
        acc = tot[back[i], np.arange(len(SPLITS))] + cost[i]
    path = np.zeros(g, dtype=np.int64)
    path[-1] = int(np.argmin(acc))
    for i in range(g - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    staff = np.empty(n, dtype=np.int64)
    staff[order] = (p < SPLITS[path[group]]).astype(np.int64)
    return staff


def choose_clef(diatonic: np.ndarray) -> str:
    """The clef (treble, bass or octave-treble) needing the fewest ledger lines."""
    if not len(diatonic):
        return "treble"
    best, name = None, "treble"
    for clef, (lo, hi) in CLEF_LINES.items():
        cost = float(_ledgers(diatonic, lo, hi).mean()) + CLEF_BIAS[clef]
        if best is None or cost < best - 1e-9:
            best, name = cost, clef
    return name
