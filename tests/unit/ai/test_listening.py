"""Blind A/B listening: loudness matched, sides hidden, ratings with provenance, a tally."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mos_lab.ai.core.types import GenerationResult, Provenance
from mos_lab.ai.data.listening import ABStore, Generation, loudness_db, match_loudness, wilson

SR = 8000


def tone(amp: float, f: float = 440.0, s: float = 2.0) -> np.ndarray:
    t = np.arange(int(SR * s)) / SR
    return (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)[:, None].repeat(2, 1)


def gen(model: str, amp: float, seed: int) -> Generation:
    return Generation(tone(amp), SR, Provenance(model, "1.0", f"{model}-sha256-0123456789ab",
                                                seed, "a calm chorale", 0.0))


def test_loudness_is_matched_to_the_quieter_clip():
    loud, quiet = tone(0.8), tone(0.1)
    assert loudness_db(loud, SR) - loudness_db(quiet, SR) == pytest.approx(18.06, abs=0.01)
    a, b = match_loudness((loud, SR), (quiet, SR))
    assert loudness_db(a, SR) == pytest.approx(loudness_db(b, SR), abs=1e-3)
    assert np.abs(a).max() <= 0.8 and np.allclose(b, quiet)
    assert loudness_db(np.zeros((SR, 2)), SR) == -math.inf


def test_sides_are_blind_and_ratings_keep_provenance(tmp_path):
    store = ABStore(tmp_path / "ab.sqlite", rng=np.random.default_rng(0))
    sides = set()
    for i in range(20):
        t = store.trial(gen("markov", 0.8, i), gen("notagen", 0.2, i))
        sides.add(t.a_is_left)
        assert loudness_db(t.left, SR) == pytest.approx(loudness_db(t.right, SR), abs=1e-3)
        # the rater always prefers notagen, wherever it was played
        winner = t.rate("right" if t.a_is_left else "left", rater="ada")
        assert winner == "notagen@1.0@notagen-sha2"
    assert sides == {True, False}
    store.close()
    again = ABStore(tmp_path / "ab.sqlite")  # stored on disk
    rows = again.ratings()
    assert len(rows) == 20 and rows[0]["rater"] == "ada"
    assert rows[3]["provenance_b"]["model"] == "notagen"
    assert rows[3]["provenance_b"]["checksum"] == "notagen-sha256-0123456789ab"
    assert rows[3]["provenance_b"]["seed"] == 3
    assert rows[3]["provenance_a"]["prompt"] == "a calm chorale"
    [t] = again.tally()
    assert (t.x, t.x_wins, t.y_wins, t.ties) == ("markov@1.0@markov-sha25", 0, 20, 0)
    assert t.high < 0.17 and t.low == 0.0
    assert "0-20 (0 same)" in again.table()


def test_ties_and_bad_choices():
    store = ABStore()
    t = store.trial(gen("a", 0.5, 1), gen("b", 0.5, 1))
    with pytest.raises(ValueError, match="not one of"):
        t.rate("both")
    assert t.rate("same") == "same"
    with pytest.raises(ValueError, match="already rated"):
        t.rate("left")
    [row] = store.tally()
    assert row.ties == 1 and math.isnan(row.share) and (row.low, row.high) == (0.0, 1.0)


def test_wilson_interval_matches_the_textbook_values():
    lo, hi = wilson(7, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.3968, 0.8922)


def test_a_generation_comes_from_a_service_result_with_audio_only():
    p = Provenance("render", "1", "abc", 4, "strings", 0.0)
    g = Generation.from_result(GenerationResult(audio=tone(0.5), sample_rate=SR, provenance=p))
    assert g.sample_rate == SR and g.provenance.seed == 4
    with pytest.raises(ValueError, match="render a symbolic result first"):
        Generation.from_result(GenerationResult(provenance=p))
