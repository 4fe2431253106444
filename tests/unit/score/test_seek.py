import time

import numpy as np
import pytest

from mos_lab.score import NOTE_DTYPE, PROGRAM
from mos_lab.score._types import CONTROL_DTYPE
from mos_lab.score.seek import SeekIndex


def random_notes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    notes = np.zeros(n, dtype=NOTE_DTYPE)
    notes["start"] = np.sort(rng.integers(0, n * 50, n))
    notes["duration"] = rng.integers(1, 4000, n)
    if n:
        notes["duration"][rng.integers(0, n, 3)] = n * 20  # a few very long notes
    notes["pitch"] = rng.integers(0, 128, n)
    notes["velocity"] = rng.integers(1, 128, n)
    return notes


def brute(notes: np.ndarray, t: int) -> np.ndarray:
    return np.flatnonzero((notes["start"] <= t) & (notes["start"] + notes["duration"] > t))


@pytest.mark.parametrize("n", [0, 1, 10, 5000])
def test_notes_at_matches_brute_force(n):
    notes = random_notes(n)
    idx = SeekIndex(notes)
    end = int((notes["start"] + notes["duration"]).max()) if n else 10
    for t in np.linspace(-5, end + 5, 200).astype(int):
        assert idx.notes_at(int(t)).tolist() == brute(notes, int(t)).tolist()


def test_note_boundaries_are_half_open():
    notes = np.zeros(2, dtype=NOTE_DTYPE)
    notes["start"], notes["duration"] = [0, 100], [100, 0]
    idx = SeekIndex(notes)
    assert idx.notes_at(99).tolist() == [0]
    assert idx.notes_at(100).tolist() == []  # ends are exclusive; zero-length never sounds


def test_controls_at_restores_last_values_per_channel_and_number():
    c = np.zeros(6, dtype=CONTROL_DTYPE)
    c["time"] = [0, 10, 20, 30, 40, 50]
    c["number"] = [64, 64, 7, 64, PROGRAM, 7]
    c["value"] = [127, 0, 90, 127, 5, 60]
    c["channel"] = [0, 0, 0, 0, 0, 1]
    idx = SeekIndex(np.zeros(0, dtype=NOTE_DTYPE), c)
    state = {(int(r["channel"]), int(r["number"])): int(r["value"]) for r in idx.controls_at(35)}
    assert state == {(0, 64): 127, (0, 7): 90}  # pedal held again at 30
    state = {(int(r["channel"]), int(r["number"])): int(r["value"]) for r in idx.controls_at(60)}
    assert state == {(0, 64): 127, (0, 7): 90, (0, PROGRAM): 5, (1, 7): 60}
    assert len(idx.controls_at(-1)) == 0


@pytest.mark.seed("DRF-05")
def test_seek_on_a_million_notes_is_logarithmic_and_correct():
    """DRF-05: seek on 1,000,000 notes; p99 far under the seed's 10 ms (bench has the figure)."""
    notes = random_notes(1_000_000, seed=1)
    idx = SeekIndex(notes)
    rng = np.random.default_rng(2)
    times = rng.integers(0, int(notes["start"][-1]), 300)
    took = []
    for t in times:
        t0 = time.perf_counter()
        got = idx.notes_at(int(t))
        took.append(time.perf_counter() - t0)
        assert len(got) == len(brute(notes, int(t)))
    assert np.percentile(took, 99) < 0.010
