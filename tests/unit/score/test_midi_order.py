"""The MIDI reader's merge of per-track note columns keeps the stable onset order."""

import numpy as np
import pytest

from mos_lab.score.midi import _in_order


@pytest.mark.parametrize("high", [4, 1_000, 2**31 - 1])
def test_in_order_is_a_stable_argsort_of_sorted_runs(high: int) -> None:
    """Ties keep track order then file order, as a stable argsort does; huge and negative
    times (outside what the sort keys hold) take the fallback and agree too."""
    rng = np.random.default_rng(high)
    for trial in range(60):
        low = -3 if trial % 5 == 0 else 0
        runs = [np.sort(rng.integers(low, high, int(rng.integers(0, 80)))).astype(np.int32)
                for _ in range(int(rng.integers(1, 9)))]
        t = np.concatenate(runs)
        times, order = _in_order(t)
        expected = np.argsort(t, kind="stable")
        assert np.array_equal(np.arange(len(t))[order], expected)
        assert np.array_equal(times, t[expected])


def test_in_order_of_more_rows_than_one_index_step() -> None:
    """Keys whose indices are added in several steps still give the stable order."""
    rng = np.random.default_rng(7)
    t = np.concatenate([np.sort(rng.integers(0, 5_000, 40_000)) for _ in range(3)])
    times, order = _in_order(t.astype(np.int32))
    expected = np.argsort(t, kind="stable")
    assert np.array_equal(np.arange(len(t))[order], expected)
    assert np.array_equal(times, t[expected])
