"""Validation at emit (BUS-03), payload limits (BUS-08) and the type registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mos_lab.bus import EventBus
from mos_lab.bus._errors import (
    BusError,
    EventValidationError,
    FieldTypeError,
    PayloadTooLargeError,
    UnknownEventTypeError,
)
from mos_lab.bus._events import EventRegistry, Field


@pytest.fixture
def bus() -> Iterator[EventBus]:
    with EventBus(EventRegistry.with_builtins()) as b:
        yield b


@pytest.mark.seed("BUS-03")
def test_unknown_type_raises_named_error(bus: EventBus) -> None:
    with pytest.raises(UnknownEventTypeError, match="'note_onn'") as ei:
        bus.emit("note_onn", pitch=60, velocity=1, channel=0)
    assert isinstance(ei.value, BusError) and isinstance(ei.value, ValueError)
    assert "note_on" in str(ei.value)  # lists the known types
    with pytest.raises(UnknownEventTypeError):
        bus.subscribe("nope", lambda ev: None)
    assert bus.seq == 0  # nothing was sequenced


@pytest.mark.seed("BUS-03")
@pytest.mark.parametrize(
    ("fields", "field", "exc", "words"),
    [
        ({"pitch": 128, "velocity": 100, "channel": 0}, "pitch", EventValidationError, "above 127"),
        ({"pitch": -1, "velocity": 100, "channel": 0}, "pitch", EventValidationError, "below 0"),
        ({"pitch": 60, "velocity": 0, "channel": 0}, "velocity", EventValidationError, "below 1"),
        ({"pitch": 60, "velocity": 100, "channel": 16}, "channel", EventValidationError, "above"),
        ({"pitch": 60.0, "velocity": 100, "channel": 0}, "pitch", FieldTypeError, "expected int"),
        ({"pitch": True, "velocity": 100, "channel": 0}, "pitch", FieldTypeError, "bool"),
        ({"pitch": "60", "velocity": 100, "channel": 0}, "pitch", FieldTypeError, "str"),
        ({"velocity": 100, "channel": 0}, "pitch", EventValidationError, "missing"),
        ({"pitch": 60, "velocity": 100, "channel": 0, "colour": 1}, "colour",
         EventValidationError, "unexpected"),
        ({"pitch": 60, "velocity": 100, "channel": 0, "track": -2}, "track",
         EventValidationError, "below 0"),
    ],
)
def test_bad_fields_raise_naming_type_and_field(
    bus: EventBus, fields: dict[str, Any], field: str, exc: type[Exception], words: str
) -> None:
    seen: list[object] = []
    bus.subscribe("note_on", seen.append)
    with pytest.raises(exc) as ei:
        bus.emit("note_on", **fields)
    err = ei.value
    assert isinstance(err, EventValidationError)
    assert err.event_type == "note_on" and err.field == field
    assert f"note_on.{field}" in str(err) and words in str(err)
    assert seen == [] and bus.seq == 0


@pytest.mark.seed("BUS-03")
def test_wrong_type_is_also_a_type_error(bus: EventBus) -> None:
    with pytest.raises(TypeError):
        bus.emit("control", number="7", value=1, channel=0)


@pytest.mark.seed("BUS-03")
def test_every_builtin_type_accepts_a_valid_event(bus: EventBus) -> None:
    got: list[str] = []
    bus.subscribe("*", lambda ev: got.append(ev.type))
    bus.emit("note_on", pitch=60, velocity=100, channel=0, track=2, frame=10)
    bus.emit("note_off", pitch=60, channel=0)
    bus.emit("control", number=7, value=100, channel=15)
    bus.emit("program", program=0, channel=9)
    bus.emit("transport", state="playing")
    bus.emit("position", seconds=1.5, tick=480, frame=66150)
    bus.emit("chord", symbol="Cmaj7", roman="Imaj7", key="C")
    bus.emit("score_loaded", title="Bach", notes=1234)
    bus.emit("error", source="test", message="boom")
    bus.emit("progress", task="load", done=1, total=2)
    assert got == ["note_on", "note_off", "control", "program", "transport", "position",
                   "chord", "score_loaded", "error", "progress"]
    ev = bus.history[-1]
    assert ev.data == {"task": "load", "done": 1.0, "total": 2.0}
    assert type(ev["done"]) is float  # ints are converted for float fields


@pytest.mark.seed("BUS-03")
def test_choices_frame_and_numpy_scalars(bus: EventBus) -> None:
    np = pytest.importorskip("numpy")
    with pytest.raises(EventValidationError, match=r"transport\.state: 'dancing' is not one of"):
        bus.emit("transport", state="dancing")
    with pytest.raises(FieldTypeError, match=r"position\.frame"):
        bus.emit("position", seconds=0.0)  # frame is required for positions
    with pytest.raises(FieldTypeError, match=r"note_on\.frame"):
        bus.emit("note_on", pitch=1, velocity=1, channel=0, frame=-5)
    ev = bus.emit("note_on", pitch=np.int64(61), velocity=np.uint8(9), channel=0,
                  frame=np.int64(512))
    assert ev.data == {"pitch": 61, "velocity": 9, "channel": 0} and ev.frame == 512
    assert type(ev["pitch"]) is int and type(ev.frame) is int


def test_registry_extension_for_plugins() -> None:
    reg = EventRegistry.with_builtins()
    et = reg.register("myplugin.hit", ("x", int, 0, 9), Field("label", str, required=False),
                      critical=True)
    assert reg.register("myplugin.hit", ("x", int, 0, 9), Field("label", str, required=False),
                        critical=True) is et  # same declaration twice: no-op
    with pytest.raises(BusError, match="already registered"):
        reg.register("myplugin.hit", ("x", float))
    with pytest.raises(BusError, match="reserved"):
        reg.register("myplugin.bad", ("frame", int))
    with pytest.raises(BusError, match="not a valid id"):
        reg.register("bad name")
    with EventBus(reg) as bus:
        ev = bus.emit("myplugin.hit", x=3)
        assert ev.critical and ev.data == {"x": 3}
        with pytest.raises(EventValidationError, match=r"myplugin\.hit\.x: 10 is above 9"):
            bus.emit("myplugin.hit", x=10)


def test_types_registered_after_bus_creation_are_seen() -> None:
    reg = EventRegistry.with_builtins()
    with EventBus(reg) as bus:
        with pytest.raises(UnknownEventTypeError):
            bus.emit("late.type", v=1)
        reg.register("late.type", ("v", int))
        assert bus.emit("late.type", v=1).data == {"v": 1}


@pytest.mark.seed("BUS-08")
def test_payload_limit_names_field_and_size() -> None:
    reg = EventRegistry.with_builtins()
    reg.register("blob", ("payload", object), ("name", str, None, None))
    with EventBus(reg, max_payload=1000) as bus:
        bus.emit("blob", payload=[1] * 1000, name="x" * 1000)  # at the limit: fine
        with pytest.raises(PayloadTooLargeError) as ei:
            bus.emit("blob", payload=None, name="x" * 1001)
        assert ei.value.field == "name" and ei.value.size == 1001 and ei.value.limit == 1000
        assert "blob.name" in str(ei.value) and "1001" in str(ei.value)
        with pytest.raises(PayloadTooLargeError, match=r"blob\.payload"):
            bus.emit("blob", payload={"notes": [[0] * 600, [0] * 600]}, name="")
        with pytest.raises(PayloadTooLargeError, match=r"blob\.payload"):
            bus.emit("blob", payload=b"\0" * 5000, name="")
        assert bus.seq == 1


@pytest.mark.seed("BUS-08")
def test_default_limit_is_64_kib(bus: EventBus) -> None:
    bus.emit("score_loaded", title="t" * 65536, notes=0)
    with pytest.raises(PayloadTooLargeError, match=r"score_loaded\.title: payload size 65537"):
        bus.emit("score_loaded", title="t" * 65537, notes=0)


@pytest.mark.seed("BUS-08")
def test_open_types_size_check_extra_fields() -> None:
    reg = EventRegistry.with_builtins()
    reg.register("free", extra=True)
    with EventBus(reg, max_payload=10) as bus:
        assert bus.emit("free", a=1, b="short").data == {"a": 1, "b": "short"}
        with pytest.raises(PayloadTooLargeError, match=r"free\.b"):
            bus.emit("free", a=1, b="far too long")


def test_bool_choices_and_bad_declarations() -> None:
    reg = EventRegistry.with_builtins()
    reg.register("flag", Field("on", bool, choices={True}), ("x", float, 0.0, 1.0))
    with pytest.raises(BusError, match="range needs an int or float"):
        Field("s", str, 0, 5)
    with EventBus(reg) as bus:
        assert bus.emit("flag", on=True, x=1).data == {"on": True, "x": 1.0}
        with pytest.raises(EventValidationError, match=r"flag\.on: False is not one of"):
            bus.emit("flag", on=False, x=0.5)
        with pytest.raises(FieldTypeError, match=r"flag\.on: expected bool"):
            bus.emit("flag", on=1, x=0.5)
        with pytest.raises(EventValidationError, match=r"flag\.x: 1\.5 is above 1\.0"):
            bus.emit("flag", on=True, x=1.5)
