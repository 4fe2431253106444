"""Ordering with threads and nested emits (BUS-06), emit depth and cycles (BUS-07)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mos_lab.bus import Event, EventBus
from mos_lab.bus._errors import EmitDepthError
from mos_lab.bus._events import EventRegistry


@pytest.fixture
def bus() -> Iterator[EventBus]:
    with EventBus(EventRegistry.with_builtins()) as b:
        yield b


@pytest.mark.seed("BUS-06")
def test_sequence_numbers_and_timestamps(bus: EventBus) -> None:
    a = bus.emit("transport", state="playing")
    b = bus.emit("position", seconds=0.5, frame=22050)
    assert (a.seq, b.seq) == (1, 2)
    assert a.frame is None and b.frame == 22050
    assert b.time >= a.time > 0


@pytest.mark.seed("BUS-06")
def test_nested_emits_are_fifo(bus: EventBus) -> None:
    log: list[tuple[str, str, int]] = []

    def first(ev: Event) -> None:
        log.append(("first", ev.type, ev.seq))
        if ev.type == "chord":
            bus.emit("progress", task="a", done=1, total=2)
            bus.emit("progress", task="b", done=2, total=2)

    def second(ev: Event) -> None:
        log.append(("second", ev.type, ev.seq))

    bus.subscribe("*", first)
    bus.subscribe("*", second)
    bus.emit("chord", symbol="C")
    # the chord reaches every subscriber before the events its handler emitted
    assert log == [
        ("first", "chord", 1), ("second", "chord", 1),
        ("first", "progress", 2), ("second", "progress", 2),
        ("first", "progress", 3), ("second", "progress", 3),
    ]
    progress = [e for e in bus.history if e.type == "progress"]
    assert all(e.chain == ("chord",) for e in progress)


@pytest.mark.seed("BUS-06")
def test_threads_emitting_concurrently_keep_order(bus: EventBus) -> None:
    n_threads, per_thread = 4, 1500
    seen_a: list[int] = []
    seen_b: list[int] = []
    nested: list[int] = []

    def a(ev: Event) -> None:
        seen_a.append(ev.seq)
        if ev.type == "note_on" and ev["pitch"] == 0:  # some handlers emit too
            bus.emit("note_off", pitch=0, channel=ev["channel"])

    def b(ev: Event) -> None:
        seen_b.append(ev.seq)
        if ev.type == "note_off":
            nested.append(ev.seq)

    bus.subscribe("*", a)
    bus.subscribe("*", b)
    start = threading.Barrier(n_threads)

    def worker(ch: int) -> None:
        start.wait()
        for i in range(per_thread):
            bus.emit("note_on", pitch=i % 100, velocity=1, channel=ch)

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bus.emit("transport", state="idle")  # drains anything still queued
    total = n_threads * per_thread + len(nested) + 1
    assert seen_a == seen_b == list(range(1, total + 1))
    assert len(nested) == n_threads * per_thread // 100


@pytest.mark.seed("BUS-07")
def test_cycle_is_reported_not_recursed(bus: EventBus) -> None:
    errors: list[Event] = []
    bus.subscribe("chord", lambda ev: bus.emit("progress", task="x", done=0, total=1))
    bus.subscribe("progress", lambda ev: bus.emit("chord", symbol="C"))
    bus.subscribe("error", errors.append)
    bus.emit("chord", symbol="C")
    assert bus.metrics().counts["chord"] + bus.metrics().counts["progress"] == bus.max_depth
    failure = bus.errors[-1]
    assert isinstance(failure.exception, EmitDepthError)
    msg = str(failure.exception)
    assert "depth limit 32" in msg and "cycle" in msg
    assert "chord -> progress -> chord" in msg or "progress -> chord -> progress" in msg
    assert len(failure.exception.chain) == 33
    assert len(errors) == 1 and "EmitDepthError" in errors[0]["message"]


@pytest.mark.seed("BUS-07")
def test_depth_limit_is_configurable_and_deep_chains_below_it_work() -> None:
    with EventBus(EventRegistry.with_builtins(), max_depth=5) as bus:
        got: list[int] = []

        def relay(ev: Event) -> None:
            got.append(len(ev.chain))
            if ev["done"] < 10:
                bus.emit("progress", task="t", done=ev["done"] + 1, total=10)

        bus.subscribe("progress", relay)
        bus.emit("progress", task="t", done=0, total=10)
        assert got == [0, 1, 2, 3, 4]
        assert isinstance(bus.errors[-1].exception, EmitDepthError)
        assert "progress -> progress" in str(bus.errors[-1].exception)


_TYPES = ["note_on", "control", "chord"]


def _emit(bus: EventBus, t: str) -> Event:
    if t == "note_on":
        return bus.emit("note_on", pitch=1, velocity=1, channel=0)
    if t == "control":
        return bus.emit("control", number=1, value=1, channel=0)
    return bus.emit("chord", symbol="C")


ops = st.lists(
    st.one_of(
        st.tuples(st.just("sub"), st.sampled_from([*_TYPES, "*"])),
        st.tuples(st.just("unsub"), st.integers(0, 20)),
        st.tuples(st.just("emit"), st.sampled_from(_TYPES)),
        st.tuples(st.just("emit_nested"), st.sampled_from(_TYPES)),
    ),
    max_size=60,
)


@pytest.mark.seed("BUS-05", "BUS-06")
@settings(max_examples=60, deadline=None)
@given(ops)
def test_property_each_subscriber_sees_its_events_in_order(
    program: list[tuple[str, object]],
) -> None:
    with EventBus(EventRegistry.with_builtins()) as bus:
        subs: list[tuple[str, list[Event], object]] = []
        emitted: list[Event] = []
        active: list[bool] = []

        def nested_emitter(ev: Event) -> None:
            if ev.type == "chord" and ev.chain == ():
                emitted.append(_emit(bus, "control"))

        for op, arg in program:
            if op == "sub":
                got: list[Event] = []
                s = bus.subscribe(str(arg), got.append)
                subs.append((str(arg), got, s))
                active.append(True)
                # remember from which seq on it listens
                got.append(Event("__start__", bus.seq, None, 0.0, {}))
            elif op == "unsub" and subs:
                i = int(str(arg)) % len(subs)
                subs[i][2].dispose()  # type: ignore[attr-defined]
                subs[i][1].append(Event("__stop__", bus.seq, None, 0.0, {}))
                active[i] = False
            elif op == "emit":
                emitted.append(_emit(bus, str(arg)))
            elif op == "emit_nested":
                ns = bus.subscribe("chord", nested_emitter)
                emitted.append(_emit(bus, "chord"))
                ns.dispose()
        for (typ, got, _), _alive in zip(subs, active, strict=True):
            start = got[0].seq
            stop = next((e.seq for e in got if e.type == "__stop__"), bus.seq)
            real = [e for e in got if not e.type.startswith("__")]
            expected = [e for e in sorted(emitted, key=lambda e: e.seq)
                        if start < e.seq <= stop and (typ == "*" or e.type == typ)]
            assert [e.seq for e in real] == [e.seq for e in expected]


@pytest.mark.seed("BUS-06")
def test_interrupted_delivery_keeps_order_and_bus_usable(bus: EventBus) -> None:
    seen: list[tuple[str, int]] = []

    def h(ev: Event) -> None:
        seen.append((ev.type, ev.seq))
        if ev.type == "chord":
            bus.emit("progress", task="a", done=0, total=1)
            bus.emit("progress", task="b", done=0, total=1)
            raise KeyboardInterrupt  # not an Exception: propagates, like Ctrl-C in a kernel

    bus.subscribe("*", h)
    with pytest.raises(KeyboardInterrupt):
        bus.emit("chord", symbol="C")
    ev = bus.emit("transport", state="idle")
    assert ev.type == "transport" and ev.seq == 4
    assert seen == [("chord", 1), ("progress", 2), ("progress", 3), ("transport", 4)]
