"""The chord labeller: symbols, Roman numerals with inversions, keys, speed."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from mos_lab.score import NOTE_DTYPE, Score, TempoMap, Track
from mos_lab.score.tempo import TempoChange
from mos_lab.widgets.chords import analyse, label, roman


@pytest.mark.parametrize(("pitches", "key", "symbol", "rn"), [
    ([60, 64, 67], "C", "C", "I"), ([57, 60, 64], "C", "Am", "vi"),
    ([55, 59, 62, 65], "C", "G7", "V7"), ([59, 62, 65], "C", "Bdim", "vii°"),
    ([64, 67, 72], "C", "C/E", "I6"), ([67, 72, 76], "C", "C/G", "I64"),
    ([59, 62, 65, 67], "C", "G7/B", "V65"), ([57, 60, 64], "a", "Am", "i"),
    ([52, 56, 59], "a", "E", "V"), ([60, 65, 67], "C", "Csus4", "Isus4"),
    ([60, 64, 67, 71], "C", "Cmaj7", "IM7"), ([58, 62, 65], "C", "Bb", "bVII"),
])
def test_labels(pitches, key, symbol, rn):
    assert label(pitches, key) == (symbol, rn)


def test_fewer_than_two_pitch_classes_is_no_chord():
    assert label([60]) == ("", "") and label([48, 60, 72]) == ("", "")


def test_roman_in_minor():
    assert roman(2, "hdim7", "c") == "iiø7" and roman(7, "dom7", "c") == "V7"


def test_a_hundred_thousand_notes_in_well_under_a_second():
    rng = np.random.default_rng(1)
    n = 100_000
    notes = np.zeros(n, dtype=NOTE_DTYPE)
    notes["start"] = np.sort(rng.integers(0, n * 60, n))
    notes["duration"] = rng.integers(60, 960, n)
    notes["pitch"] = rng.integers(36, 90, n)
    notes["velocity"] = 80
    score = Score(notes, (Track(),), TempoMap(480, [TempoChange(0, 500_000)]))
    t0 = time.perf_counter()
    spans = analyse(score)
    took = time.perf_counter() - t0
    assert spans and took < 1.0, took
    assert all(a.end <= b.start + 1e-9 for a, b in itertools.pairwise(spans))


def test_drums_are_left_out():
    notes = np.zeros(3, dtype=NOTE_DTYPE)
    notes["duration"], notes["velocity"] = 480, 90
    notes["pitch"] = [36, 38, 42]
    score = Score(notes, (Track("kit", 0, 9, True),), TempoMap(480, [TempoChange(0, 500_000)]))
    assert analyse(score) == []
