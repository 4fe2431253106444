"""Nothing is lost in a burst, and a day of events does not grow memory (BUS-01, SCL-02).

The bus has no batching: every event is delivered as it is emitted (critical ones and
others alike), so a burst cannot be dropped by a batcher; its history is a bounded ring.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from mos_lab.bus import Event, EventBus
from mos_lab.bus._events import EventRegistry


@pytest.fixture
def bus() -> Iterator[EventBus]:
    with EventBus(EventRegistry.with_builtins(), history_size=500) as b:
        yield b


@pytest.mark.seed("BUS-01")
def test_a_burst_of_100_events_in_16_ms_all_arrive_and_critical_ones_at_once(
        bus: EventBus) -> None:
    got: list[Event] = []
    seen_before_return: list[bool] = []
    bus.subscribe("*", got.append)
    go = threading.Barrier(2)

    def burst(offset: int) -> None:
        go.wait()
        for i in range(50):
            if i % 10 == 0:  # critical: must be delivered before emit returns
                ev = bus.emit("chord", symbol=f"C{offset + i}")
                seen_before_return.append(ev in got)
            else:
                bus.emit("note_on", pitch=(offset + i) % 128, velocity=90, channel=0)

    threads = [threading.Thread(target=burst, args=(k * 50,)) for k in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - t0
    assert len(got) == 100, len(got)  # none dropped, none merged
    assert [e.seq for e in got] == sorted(e.seq for e in got)  # in sequence order
    assert all(seen_before_return) and len(seen_before_return) == 10
    assert sorted(e["pitch"] for e in got if e.type == "note_on") == sorted(
        (k * 50 + i) % 128 for k in range(2) for i in range(50) if i % 10)
    print(f"100 events from 2 threads delivered in {took * 1000:.1f} ms")


@pytest.mark.seed("SCL-02")
def test_a_simulated_day_of_events_keeps_memory_bounded() -> None:
    """A day of a playing session at 4 events a second (345,600 emits, clock simulated):
    the history stays at its bound and the bus's memory does not grow with the day."""
    now = [0.0]
    day = EventBus(EventRegistry.with_builtins(), history_size=500, clock=lambda: now[0])
    seen = [0]
    day.subscribe("position", lambda ev: seen.__setitem__(0, seen[0] + 1))
    tracemalloc.start()
    try:
        def hour(h: int) -> None:
            for i in range(14_400):
                now[0] = h * 3600 + i / 4
                day.emit("position", seconds=now[0], frame=int(now[0] * 48_000))

        hour(0)
        base = tracemalloc.get_traced_memory()[0]
        for h in range(1, 24):
            hour(h)
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
        day.close()
    assert seen[0] == 345_600
    assert len(day.history) <= 500 + max(16, 500 // 8)
    assert day.history[-1].time == pytest.approx(24 * 3600 - 0.25)
    assert grown < 2 << 20, f"memory grew {grown / 2**20:.1f} MB over the simulated day"
