"""Quantisation for the page: a performance's onsets on a grid chosen per piece."""

from __future__ import annotations

import numpy as np

from mos_lab.notation.model import UNITS
from mos_lab.notation.quantize import quantize
from tests.unit.notation.conftest import make_score


def jitter(n: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(-25, 26, n)


def test_notation_times_are_kept_exactly():
    s = make_score([(0, 480, 60, 0), (480, 240, 62, 0), (720, 80, 64, 0), (800, 160, 65, 0)])
    q = quantize(s)
    assert not q.performed
    assert q.start.tolist() == [0, 96, 144, 160] and q.end.tolist() == [96, 144, 160, 192]


def test_played_eighths_land_on_an_eighth_grid():
    j = jitter(32)
    s = make_score([(max(i * 240 + int(j[i]), 0), 200, 60 + i % 7, 0) for i in range(32)])
    q = quantize(s)
    assert q.performed and q.grid == 2 and q.triplet_beats == 0
    assert (q.start % (UNITS // 2) == 0).all()
    assert sorted(q.start.tolist()) == [i * UNITS // 2 for i in range(32)]


def test_played_triplets_are_found_beside_straight_eighths():
    j = jitter(40, seed=5)
    onsets = [i * 240 for i in range(8)]  # a bar of eighths
    onsets += [1920 + b * 480 + k * 160 for b in range(2) for k in range(3)]  # 2 triplet beats
    onsets += [2880 + i * 240 for i in range(4)]  # eighths again
    s = make_score([(max(t + int(j[i]) // 2, 0), 150, 67, 0) for i, t in enumerate(onsets)])
    q = quantize(s)
    assert q.performed and q.triplet_beats == 2
    trip = sorted(q.start.tolist())[8:14]
    assert trip == [4 * UNITS + k * UNITS // 3 for k in range(6)]
