"""The model answer's move rules, checked as numpy arrays, agree with the rules written
one move at a time (parallels, direct fifths/octaves, leaps, overlap, the seventh)."""

from __future__ import annotations

import random

import numpy as np

from mos_lab.lessons.harmony import _allowed


def moves_ok(x, y, seventh, x_fifths) -> bool:
    """One move from voicing x to y (MIDI, soprano first), rule by rule."""
    if any(abs(y[v] - x[v]) > 7 for v in range(3)) or abs(y[3] - x[3]) > 12:
        return False
    for i in range(3):  # overlap
        if y[i] <= x[i + 1] or y[i + 1] >= x[i]:
            return False
    for i in range(4):
        for j in range(i + 1, 4):
            iv0, iv1 = (x[i] - x[j]) % 12, (y[i] - y[j]) % 12
            if x[i] != y[i] and x[j] != y[j] and iv0 == iv1 and iv0 in (0, 7):
                return False  # parallel fifths or octaves
            if (i, j) == (0, 3) and iv1 in (0, 7) and (y[0] - x[0]) * (y[3] - x[3]) > 0 \
                    and abs(y[0] - x[0]) > 2:
                return False  # direct fifths or octaves, soprano leaping
    if seventh is not None:
        for v in range(4):
            if x_fifths[v] == seventh and y[v] != x[v] and not 1 <= x[v] - y[v] <= 2:
                return False
    return True


def test_array_rules_match_the_rules_move_by_move():
    rng = random.Random(5)
    checked = allowed = 0
    for _ in range(200):
        n, m = rng.randint(1, 10), rng.randint(1, 10)
        # voicings near one another, so that most rules are met and broken in turn
        base = [72, 67, 60, 48]
        x = np.array([[b + rng.randint(-5, 5) for b in base] for _ in range(n)])
        y = np.array([[b + rng.randint(-5, 5) for b in base] for _ in range(m)])
        xf = np.array([[rng.randint(-2, 5) for _ in range(4)] for _ in range(n)])
        seventh = rng.choice([None, 0, 1, 2, 3])
        got = _allowed(x, y, seventh, xf)
        assert got.shape == (m, n)
        for j in range(m):
            for i in range(n):
                want = moves_ok(tuple(x[i]), tuple(y[j]), seventh, tuple(xf[i]))
                assert bool(got[j, i]) == want, (x[i], y[j], seventh, xf[i])
                checked += 1
                allowed += want
    assert 0 < allowed < checked  # both kinds of move were seen
