"""Known scores for the theater tests (imported by name: tests have no packages)."""

from __future__ import annotations

import numpy as np

from mos_lab.score import Score


def known_score() -> Score:
    """Four notes at 120 BPM (480 tpq: 1 beat = 0.5 s) on distinct pitches."""
    return Score.from_notes([
        (0, 960, 60, 100),      # 0.0-1.0 s, C4
        (960, 480, 64, 100),    # 1.0-1.5 s, E4
        (1440, 480, 67, 100),   # 1.5-2.0 s, G4
        (1920, 1920, 72, 100),  # 2.0-4.0 s, C5
    ])


def random_score(n: int, seed: int = 0, seconds: float = 120.0) -> Score:
    """``n`` notes spread over ``seconds`` (for draw-call and memory tests)."""
    rng = np.random.default_rng(seed)
    ticks = int(seconds * 960)
    rows = np.stack([rng.integers(0, ticks, n), rng.integers(60, 960, n),
                     rng.integers(36, 96, n), rng.integers(30, 127, n)], axis=1)
    return Score.from_notes(rows, bpm=120)
