"""Owned subscriptions (BUS-02), indexing by type (BUS-04), (un)subscribe in handlers (BUS-05)."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator

import pytest

from mos_lab.bus import Event, EventBus
from mos_lab.bus._events import EventRegistry


@pytest.fixture
def bus() -> Iterator[EventBus]:
    with EventBus(EventRegistry.with_builtins()) as b:
        yield b


def note(bus: EventBus, pitch: int = 60) -> Event:
    return bus.emit("note_on", pitch=pitch, velocity=100, channel=0)


class Widget:
    """Stands in for a UI widget that mounts, subscribes and unmounts."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_note(self, ev: Event) -> None:
        self.seen.append(ev["pitch"])

    def on_event(self, ev: Event) -> None:
        self.seen.append(ev.seq)


@pytest.mark.seed("BUS-02")
def test_mount_unmount_cycles_leave_no_subscribers(bus: EventBus) -> None:
    for i in range(1200):
        w = Widget()
        bus.subscribe("note_on", w.on_note, owner=w)
        bus.subscribe("*", lambda ev: None, owner=w)
        bus.subscribe("chord", w.on_event, owner=w)
        if i % 3 == 0:
            assert bus.dispose_owner(w) == 3
        elif i % 3 == 1:
            for s in bus.subscribers("note_on"):
                s.dispose()
            bus.dispose_owner(w)
        # else: just drop the widget: weak owner
        del w
    gc.collect()
    assert bus.subscriber_count() == 0
    assert bus.owner_count() == 0
    assert bus.subscribers("note_on") == ()


@pytest.mark.seed("BUS-02")
def test_owner_garbage_collected_in_a_cycle(bus: EventBus) -> None:
    calls: list[int] = []

    class Cyclic:
        def __init__(self) -> None:
            self.me = self  # only the cycle collector can free it

    for _ in range(1000):
        o = Cyclic()
        bus.subscribe("note_on", lambda ev: calls.append(1), owner=o)
        del o
    assert bus.subscriber_count() > 0  # still alive until gc
    gc.collect()
    assert bus.subscriber_count() == 0 and bus.owner_count() == 0
    note(bus)
    assert calls == []


@pytest.mark.seed("BUS-02")
def test_bound_method_held_weakly(bus: EventBus) -> None:
    w = Widget()
    sub = bus.subscribe("note_on", w.on_note)  # no owner: the method's object decides
    note(bus, 61)
    assert w.seen == [61]
    del w
    assert not sub.active and bus.subscriber_count() == 0
    note(bus)
    # strong reference on request
    w2 = Widget()
    bus.subscribe("note_on", w2.on_note, weak=False)
    del w2
    note(bus, 62)
    assert bus.subscriber_count() == 1


@pytest.mark.seed("BUS-02")
def test_subscription_dispose_and_context_manager(bus: EventBus) -> None:
    got: list[int] = []
    with bus.subscribe("note_on", lambda ev: got.append(ev.seq)) as sub:
        note(bus)
    assert not sub.active and got == [1]
    sub.dispose()  # idempotent
    note(bus)
    assert got == [1] and bus.subscriber_count() == 0
    with pytest.raises(TypeError, match="weak references"):
        bus.subscribe("note_on", print, owner=42)


@pytest.mark.seed("BUS-04")
def test_listeners_indexed_by_type(bus: EventBus) -> None:
    other_calls = 0

    def other(ev: Event) -> None:
        nonlocal other_calls
        other_calls += 1

    mine: list[int] = []
    bus.subscribe("note_on", lambda ev: mine.append(ev.seq))
    for _ in range(1000):
        bus.subscribe("control", other)
    assert bus.subscriber_count("control") == 1000
    # the route for note_on holds exactly its own subscriber
    assert len(bus.subscribers("note_on")) == 1
    for _ in range(100):
        note(bus)
    assert other_calls == 0 and len(mine) == 100


@pytest.mark.seed("BUS-04")
def test_cost_independent_of_other_types_loosely() -> None:
    def per_emit(n_other: int) -> float:
        with EventBus(EventRegistry.with_builtins(), history_size=100) as b:
            b.subscribe("note_on", lambda ev: None)
            for _ in range(n_other):
                b.subscribe("control", lambda ev: None)
            best = float("inf")
            for _ in range(5):
                t = time.perf_counter()
                for _ in range(2000):
                    b.emit("note_on", pitch=60, velocity=100, channel=0)
                best = min(best, time.perf_counter() - t)
            return best

    one, many = per_emit(0), per_emit(1000)
    # a linear scan over 1000 handlers would be >10x slower; allow noise, not that
    assert many < one * 3, (one, many)


@pytest.mark.seed("BUS-05")
def test_subscribe_inside_handler_starts_with_next_event(bus: EventBus) -> None:
    late: list[int] = []

    def first(ev: Event) -> None:
        if ev.seq == 1:
            bus.subscribe("note_on", lambda e: late.append(e.seq))

    bus.subscribe("note_on", first)
    note(bus)
    note(bus)
    assert late == [2]


@pytest.mark.seed("BUS-05")
def test_unsubscribe_inside_handler_is_immediate(bus: EventBus) -> None:
    calls: list[str] = []
    subs: dict[str, object] = {}

    def a(ev: Event) -> None:
        calls.append("a")
        bus.subscribers("note_on")[1].dispose()  # removes b before it runs

    def b(ev: Event) -> None:
        calls.append("b")

    def c(ev: Event) -> None:
        calls.append("c")
        subs["c"].dispose()  # type: ignore[attr-defined]  # removes itself

    bus.subscribe("note_on", a)
    bus.subscribe("note_on", b)
    subs["c"] = bus.subscribe("note_on", c)
    note(bus)
    note(bus)
    assert calls == ["a", "c", "a"]
    assert bus.subscriber_count("note_on") == 1


@pytest.mark.seed("BUS-05")
def test_dispose_owner_inside_handler(bus: EventBus) -> None:
    w = Widget()
    got: list[int] = []

    def closer(ev: Event) -> None:
        bus.dispose_owner(w)

    bus.subscribe("note_on", closer)
    bus.subscribe("note_on", w.on_note, owner=w)
    bus.subscribe("note_on", lambda ev: got.append(ev.seq))
    note(bus)
    assert w.seen == [] and got == [1]
    assert bus.subscriber_count("note_on") == 2
