"""Shared sessions: the jitter buffer that re-times remote events from their timestamps."""

from __future__ import annotations

import numpy as np
import pytest

from mos_lab.share.jitter import JitterBuffer


@pytest.mark.seed("DRF-03")
def test_jitter_buffer_restores_the_rhythm_from_timestamps():
    rng = np.random.default_rng(7)
    buf = JitterBuffer(delay_s=0.1, max_late_s=0.05)
    skew = 1234.5  # the sender's clock is somewhere else entirely
    sent = np.arange(200) * 0.125  # sixteenth notes at 120 BPM
    network = rng.uniform(0.01, 0.09, len(sent))  # 80 ms of jitter
    arrivals = sorted(zip(sent + skew + network, sent, range(len(sent)), strict=True))
    out = []
    t = skew
    for arrive, s, i in arrivals:
        while t < arrive:
            out += buf.pop_due(t)
            t += 0.001
        buf.push(s, i, arrive)
    for _ in range(1000):
        out += buf.pop_due(t)
        t += 0.001
    assert [e.payload for e in out] == list(range(len(sent)))  # sender order kept
    # after the offset estimate settles, spacing matches the sender's within 1 ms
    due = np.array([e.due for e in out[20:]])
    assert np.allclose(np.diff(due), 0.125, atol=0.001)
    assert buf.dropped == 0


def test_events_too_late_are_dropped_and_counted_not_played_silently():
    buf = JitterBuffer(delay_s=0.02, max_late_s=0.01)
    buf.push(0.0, "a", now=0.0)
    buf.push(0.1, "b", now=0.5)  # 0.38 s later than its due time
    buf.push(0.2, "c", now=0.225)  # 5 ms late: played at once, marked
    got = buf.pop_due(1.0)
    assert [(e.payload, e.late) for e in got] == [("a", False), ("c", True)]
    assert buf.dropped == 1 and buf.late == 1
    with pytest.raises(ValueError, match="delay_s"):
        JitterBuffer(delay_s=0)
