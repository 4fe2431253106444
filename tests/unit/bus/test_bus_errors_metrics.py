"""Failing handlers are isolated (BUS-09); metrics are sampled and cheap (BUS-10)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from mos_lab.bus import Event, EventBus
from mos_lab.bus._events import EventRegistry


@pytest.fixture
def bus() -> Iterator[EventBus]:
    with EventBus(EventRegistry.with_builtins()) as b:
        yield b


def note(bus: EventBus) -> Event:
    return bus.emit("note_on", pitch=60, velocity=100, channel=0)


@pytest.mark.seed("BUS-09")
def test_failing_handler_isolated_and_reported(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    before: list[Event] = []
    after: list[Event] = []
    reports: list[Event] = []

    def broken(ev: Event) -> None:
        raise RuntimeError(f"bad {ev.seq}")

    bus.subscribe("note_on", before.append)
    bus.subscribe("note_on", broken)
    bus.subscribe("note_on", after.append)
    bus.subscribe("error", reports.append)
    with caplog.at_level(logging.ERROR, logger="mos_lab.bus"):
        e1 = note(bus)
        e2 = note(bus)
    assert len(before) == len(after) == 2  # the others still ran
    assert [f.event for f in bus.errors] == [e1, e2]
    assert isinstance(bus.errors[0].exception, RuntimeError)
    assert "broken" in bus.errors[0].handler
    assert [r["kind"] for r in reports] == ["RuntimeError", "RuntimeError"]
    assert "bad 1" in reports[0]["message"] and "note_on #1" in reports[0]["source"]
    assert "broken" in caplog.text and f"bad {e2.seq}" in caplog.text
    assert bus.metrics().errors == 2


@pytest.mark.seed("BUS-09")
def test_failing_error_handler_does_not_loop(bus: EventBus) -> None:
    def bad_error_handler(ev: Event) -> None:
        raise ValueError("error handler broken")

    bus.subscribe("note_on", lambda ev: 1 / 0)
    bus.subscribe("error", bad_error_handler)
    note(bus)
    assert bus.metrics().counts == {"note_on": 1, "error": 1}
    assert [type(f.exception) for f in bus.errors] == [ZeroDivisionError, ValueError]


@pytest.mark.seed("BUS-09")
def test_error_list_is_bounded() -> None:
    with EventBus(EventRegistry.with_builtins(), max_errors=10) as bus:
        bus.subscribe("note_on", lambda ev: 1 / 0)
        for _ in range(50):
            note(bus)
        assert len(bus.errors) == 10 and bus.metrics().errors == 50
        assert bus.errors[-1].event.type == "note_on"


@pytest.mark.seed("BUS-10")
def test_metrics_counts_exact_and_timing_sampled() -> None:
    with EventBus(EventRegistry.with_builtins(), sample_every=64) as bus:
        def h1(ev: Event) -> None:
            pass

        def h2(ev: Event) -> None:
            pass

        bus.subscribe("note_on", h1)
        bus.subscribe("*", h2)
        for _ in range(6400):
            note(bus)
        for _ in range(40):
            bus.emit("chord", symbol="C")
        m = bus.metrics()
        assert m.events == 6440 and m.counts == {"note_on": 6400, "chord": 40}
        assert m.sample_every == 64
        assert m.sampled_events == 6440 // 64  # 1 in 64 events timed
        note_samples = 6400 // 64
        assert m.timed_calls == 2 * note_samples + (m.sampled_events - note_samples)
        t1 = next(v for k, v in m.handler_time.items() if k.endswith("h1"))
        t2 = next(v for k, v in m.handler_time.items() if k.endswith("h2"))
        assert t1.calls == note_samples and t2.calls == m.sampled_events
        assert 0 <= t1.max_s <= t1.total_s


@pytest.mark.seed("BUS-10")
def test_sampling_can_be_disabled() -> None:
    with EventBus(EventRegistry.with_builtins(), sample_every=0) as bus:
        bus.subscribe("note_on", lambda ev: None)
        for _ in range(1000):
            note(bus)
        m = bus.metrics()
        assert m.sampled_events == 0 and m.timed_calls == 0 and m.counts["note_on"] == 1000
