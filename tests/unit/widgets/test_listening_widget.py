"""The A/B widget: blind players at one loudness, a click stores a rating, the tally shows."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from mos_lab.ai.core.types import Provenance
from mos_lab.ai.data.listening import ABStore, Generation, loudness_db
from mos_lab.widgets.listening import ABListening

pytest.importorskip("ipywidgets")
SR = 8000


def gen(model: str, amp: float, seed: int) -> Generation:
    t = np.arange(SR) / SR
    audio = (amp * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    return Generation(audio, SR, Provenance(model, "", f"{model}hash", seed, "p", 0.0))


def decode(wav: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(wav)) as w:
        assert w.getframerate() == SR
        return np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32767


def test_clicks_rate_blind_pairs_and_update_the_tally(tmp_path):
    store = ABStore(tmp_path / "ab.sqlite", rng=np.random.default_rng(1))
    pairs = [(gen("markov", 0.9, i), gen("notagen", 0.1, i)) for i in range(3)]
    w = ABListening(store, pairs, rater="ada")
    assert "Pair 1 of 3" in w.header.value and "no ratings yet" in w.tally.value
    one, two = (decode(p.value) for p in w.players)
    assert loudness_db(one, SR) == pytest.approx(loudness_db(two, SR), abs=0.01)
    assert b"markov" not in bytes(w.players[0].value) + w.header.value.encode()
    for _ in range(3):  # ada prefers notagen wherever it plays
        side = "right" if w.trial.a_is_left else "left"
        w.buttons[0 if side == "left" else 1].click()
    assert w.done and all(b.disabled for b in w.buttons)
    assert "Done: 3 pairs rated" in w.header.value
    assert "0-3 (0 same)" in w.tally.value
    assert [r["rater"] for r in store.ratings()] == ["ada"] * 3
    with pytest.raises(ValueError, match="every pair is rated"):
        w.choose("same")
