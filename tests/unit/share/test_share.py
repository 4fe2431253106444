"""Shared sessions: a join storm of 1,000+ simulated peers, fan-out, and jitter buffering."""

from __future__ import annotations

import numpy as np
import pytest

from mos_lab.share.hub import Hub, JoinRefused
from mos_lab.share.jitter import JitterBuffer


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.seed("INT-03")
def test_a_thousand_peers_storm_the_hub_and_the_topology_holds():
    clock = FakeClock()
    hub = Hub(max_peers=1000, joins_per_second=200, join_burst=100, outbox_limit=64,
              clock=clock)
    peers, refusals = {}, []
    # a reconnect storm: 1,500 peers all try at once, then retry when told to
    pending = [f"p{i}" for i in range(1500)]
    for _ in range(200):
        retry = []
        for pid in pending:
            try:
                peers[pid] = hub.join(pid)
            except JoinRefused as exc:
                refusals.append(str(exc))
                assert exc.retry_after > 0
                retry.append(pid)
        pending = retry
        clock.t += 0.1
        if not pending:
            break
    assert hub.peers == 1000  # never above the limit
    assert any("session full: 1000 peers" in r for r in refusals)
    assert any("too many joins at once" in r for r in refusals)
    # the join rate was respected: 1,000 admissions need >= (1000 - burst) / rate seconds
    assert clock.t >= (1000 - 100) / 200 - 0.1
    # fan-out: star topology, one event reaches every other peer once
    sender = next(iter(hub._peers))
    assert hub.broadcast(sender, {"chord": "C"}) == 999
    # peers that drain keep up; one that never drains is evicted, memory stays bounded
    slow = next(p for pid, p in hub._peers.items() if pid != sender)
    for k in range(100):
        hub.broadcast(sender, {"n": k})
        for peer in list(hub._peers.values()):
            if peer is not slow:
                hub.drain(peer)
    assert slow.dropped and hub.evicted == 1 and hub.peers == 999
    assert hub.queued() <= hub.peers * hub.outbox_limit
    # a peer that reconnects replaces its old link instead of adding one
    clock.t += 10
    first = next(iter(hub._peers))
    hub.join(first)
    assert hub.peers == 999


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
