"""Event objects, event type declarations and the precompiled validators used at emit."""

from __future__ import annotations

import numbers
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ._errors import (
    BusError,
    EventValidationError,
    FieldTypeError,
    PayloadTooLargeError,
    UnknownEventTypeError,
)

__all__ = [
    "DEFAULT_REGISTRY",
    "RESERVED_FIELDS",
    "TRANSPORT_STATES",
    "Event",
    "EventRegistry",
    "EventType",
    "Field",
    "register_event_type",
]

#: Names used by ``EventBus.emit`` itself; no event type may declare them as fields.
RESERVED_FIELDS = frozenset({"frame", "critical"})
#: States of the engine's transport (the ``transport`` event's ``state`` field).
TRANSPORT_STATES = frozenset(
    {"idle", "loading", "ready", "playing", "paused", "waiting_for_audio", "error"}
)
_ALLOWED_TYPES: tuple[type, ...] = (int, float, bool, str, bytes, list, tuple, dict, object)
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:[.:/-][A-Za-z0-9_]+)*$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Event:
    """One emitted event: a light, slotted record (no dataclass machinery on the hot path).

    ``type`` is the event type id, ``seq`` the bus-wide sequence number (delivery order),
    ``frame`` the audio sample frame it belongs to (or None), ``time`` the bus clock
    (monotonic seconds) at emit, ``data`` the validated fields, ``critical`` whether it is a
    state change a consumer must never drop or defer (transport, chord, score, error),
    ``chain`` the types of the events whose handlers emitted it.
    Treat ``data`` as read-only: every subscriber shares it.
    """

    __slots__ = ("chain", "critical", "data", "frame", "seq", "time", "type")

    type: str
    seq: int
    frame: int | None
    time: float
    data: dict[str, Any]
    critical: bool
    chain: tuple[str, ...]

    def __init__(
        self,
        type: str,
        seq: int,
        frame: int | None,
        time: float,
        data: dict[str, Any],
        critical: bool = False,
        chain: tuple[str, ...] = (),
    ) -> None:
        self.type = type
        self.seq = seq
        self.frame = frame
        self.time = time
        self.data = data
        self.critical = critical
        self.chain = chain

    def __getitem__(self, name: str) -> Any:
        """Shortcut for ``event.data[name]``."""
        return self.data[name]

    def get(self, name: str, default: Any = None) -> Any:
        """Shortcut for ``event.data.get(name, default)``."""
        return self.data.get(name, default)

    def __repr__(self) -> str:
        frame = f" frame={self.frame}" if self.frame is not None else ""
        crit = " critical" if self.critical else ""
        return f"<Event #{self.seq} {self.type}{frame}{crit} {self.data!r}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable data: not hashable

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-ready when the payload is)."""
        return {
            "seq": self.seq,
            "type": self.type,
            "frame": self.frame,
            "time": self.time,
            "critical": self.critical,
            "chain": list(self.chain),
            "data": self.data,
        }


_MISSING: Any = object()


@dataclass(frozen=True)
class Field:
    """One declared field: name, Python type, optional inclusive range or choices.

    ``type`` is one of int, float, bool, str, bytes, list, tuple, dict or object (anything;
    only the payload size is checked). Floats accept ints and numpy scalars (converted);
    ints accept numpy integers (converted) but never bool.
    """

    name: str
    type: type = object
    lo: float | None = None
    hi: float | None = None
    choices: frozenset[Any] | None = None
    required: bool = True
    doc: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _IDENT_RE.match(self.name):
            raise BusError(f"field name {self.name!r} is not a Python identifier")
        if self.name in RESERVED_FIELDS:
            raise BusError(f"field name {self.name!r} is reserved by EventBus.emit")
        if self.type not in _ALLOWED_TYPES:
            raise BusError(f"field {self.name!r}: unsupported type {self.type!r}")
        if (self.lo is not None or self.hi is not None) and self.type not in (int, float):
            raise BusError(f"field {self.name!r}: a range needs an int or float field")
        if self.choices is not None and not isinstance(self.choices, frozenset):
            object.__setattr__(self, "choices", frozenset(self.choices))

    def slow_check(self, event_type: str, value: Any, limit: int) -> Any:
        """Full check of one value: coerce numeric look-alikes or raise a named error."""
        t = self.type
        name = self.name
        if t is int:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise FieldTypeError(event_type, name, f"expected int, got {_tname(value)}")
            value = int(value)
        elif t is float:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise FieldTypeError(event_type, name, f"expected float, got {_tname(value)}")
            value = float(value)
        elif t is bool:
            if not isinstance(value, bool):
                if type(value).__name__ != "bool_":  # numpy.bool_
                    raise FieldTypeError(event_type, name, f"expected bool, got {_tname(value)}")
                value = bool(value)
        elif t is not object and not isinstance(value, t):
            raise FieldTypeError(event_type, name, f"expected {t.__name__}, got {_tname(value)}")
        size = payload_size(value, limit)
        if size > limit:
            raise PayloadTooLargeError(event_type, name, size, limit)
        if self.lo is not None and value < self.lo:
            raise EventValidationError(event_type, name, f"{value!r} is below {self.lo}")
        if self.hi is not None and value > self.hi:
            raise EventValidationError(event_type, name, f"{value!r} is above {self.hi}")
        if self.choices is not None and value not in self.choices:
            raise EventValidationError(
                event_type, name, f"{value!r} is not one of {sorted(map(str, self.choices))}"
            )
        return value


def _tname(value: Any) -> str:
    return type(value).__name__


def payload_size(value: Any, limit: int) -> int:
    """Approximate size of a value: chars/bytes of strings plus items of containers, nested.

    Stops counting once ``limit`` is passed, so the cost is bounded by the limit.
    """
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    if not isinstance(value, list | tuple | dict | set | frozenset):
        return 0
    total = 0
    stack: list[Any] = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str | bytes | bytearray):
            total += len(v)
        elif isinstance(v, dict):
            total += len(v)
            if total > limit:
                return total
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list | tuple | set | frozenset):
            total += len(v)
            if total > limit:
                return total
            stack.extend(v)
        if total > limit:
            return total
    return total


FieldSpec = Field | tuple[Any, ...]


def _as_field(spec: FieldSpec) -> Field:
    if isinstance(spec, Field):
        return spec
    if isinstance(spec, tuple) and 1 <= len(spec) <= 4:
        name, *rest = spec
        t = rest[0] if rest else object
        lo = rest[1] if len(rest) > 1 else None
        hi = rest[2] if len(rest) > 2 else None
        return Field(name, t, lo, hi)
    raise BusError(f"bad field spec {spec!r}: use Field(...) or (name, type[, lo[, hi]])")


@dataclass(frozen=True)
class EventType:
    """Declaration of one event type: its fields and whether it is critical by default.

    ``requires_frame`` makes ``emit(..., frame=N)`` mandatory (e.g. ``position``);
    ``extra`` allows undeclared fields (still size-checked).
    """

    name: str
    fields: tuple[Field, ...] = ()
    critical: bool = False
    requires_frame: bool = False
    extra: bool = False
    doc: str = ""
    _by_name: dict[str, Field] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise BusError(f"event type name {self.name!r} is not a valid id (e.g. 'plugin.thing')")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise BusError(f"event type {self.name!r} declares a field twice: {names}")
        self._by_name.update({f.name: f for f in self.fields})

    def compile(self, limit: int) -> Callable[[dict[str, Any]], None]:
        """Build a validator for this type (generated code: one inline test per field)."""
        return _compile_checker(self, limit)


def _compile_checker(et: EventType, limit: int) -> Callable[[dict[str, Any]], None]:
    ns: dict[str, Any] = {"_MISS": _MISSING, "_len": len, "_LIMIT": limit}
    name = et.name
    req = [f for f in et.fields if f.required]
    opt = [f for f in et.fields if not f.required]
    lines = ["def check(d):"]
    if opt:
        lines.append("    n = 0")
    for i, f in enumerate(et.fields):
        key = repr(f.name)
        ns[f"_slow{i}"] = (lambda fl: lambda v: fl.slow_check(name, v, limit))(f)
        if f.required:
            lines += [
                "    try:",
                f"        v = d[{key}]",
                "    except KeyError:",
                f"        _missing({key})",
            ]
            ind = "    "
        else:
            lines += [f"    v = d.get({key}, _MISS)", "    if v is not _MISS:", "        n += 1"]
            ind = "        "
        cond = _fast_fail(f, i, ns)
        if cond is None:
            lines.append(f"{ind}d[{key}] = _slow{i}(v)")
        else:
            lines += [f"{ind}if {cond}:", f"{ind}    d[{key}] = _slow{i}(v)"]
    if not et.extra:
        expected = f"{len(req)} + n" if opt else str(len(req))
        lines += [f"    if _len(d) != {expected}:", "        _extra(d)"]
    else:
        lines += [
            "    for k, v in d.items():",
            "        _extra_size(k, v)",
        ]

    def _missing(key: str) -> None:
        raise EventValidationError(name, key, "required field is missing")

    def _extra(d: dict[str, Any]) -> None:
        unknown = sorted(set(d) - set(et._by_name))
        declared = ", ".join(f.name for f in et.fields) or "none"
        raise EventValidationError(
            name, unknown[0] if unknown else None,
            f"unexpected field(s) {unknown}; declared fields: {declared}",
        )

    def _extra_size(k: str, v: Any) -> None:
        if k not in et._by_name:
            size = payload_size(v, limit)
            if size > limit:
                raise PayloadTooLargeError(name, k, size, limit)

    ns["_missing"] = _missing
    ns["_extra"] = _extra
    ns["_extra_size"] = _extra_size
    exec("\n".join(lines), ns)
    check: Callable[[dict[str, Any]], None] = ns["check"]
    check.__qualname__ = check.__name__ = f"check_{name.replace('.', '_')}"
    return check


def _fast_fail(f: Field, i: int, ns: dict[str, Any]) -> str | None:
    """Python expression true when ``v`` needs the slow path (None: always take it)."""
    t = f.type
    if t in (int, float):
        parts = [f"v.__class__ is not {t.__name__}"]
        if f.lo is not None:
            ns[f"_lo{i}"] = f.lo
            parts.append(f"v < _lo{i}")
        if f.hi is not None:
            ns[f"_hi{i}"] = f.hi
            parts.append(f"v > _hi{i}")
        if f.choices is not None:
            ns[f"_c{i}"] = f.choices
            parts.append(f"v not in _c{i}")
        return " or ".join(parts)
    if t is bool:
        if f.choices is not None:
            ns[f"_c{i}"] = f.choices
            return f"v.__class__ is not bool or v not in _c{i}"
        return "v.__class__ is not bool"
    if t in (str, bytes):
        parts = [f"v.__class__ is not {t.__name__}", "_len(v) > _LIMIT"]
        if f.choices is not None:
            ns[f"_c{i}"] = f.choices
            parts.append(f"v not in _c{i}")
        return " or ".join(parts)
    return None


class EventRegistry:
    """The set of known event types. Plugins add theirs with :meth:`register`.

    Registering the same declaration twice is a no-op; a conflicting one raises BusError.
    Types cannot be removed (buses cache validators by name).
    """

    def __init__(self, types: Iterable[EventType] = ()) -> None:
        self._types: dict[str, EventType] = {}
        self._lock = threading.Lock()
        for et in types:
            self.add(et)

    @classmethod
    def with_builtins(cls) -> EventRegistry:
        """A new registry holding the standard mos_lab event types."""
        return cls(BUILTIN_TYPES)

    def add(self, et: EventType) -> EventType:
        """Add a declared type; returns the registered one."""
        with self._lock:
            old = self._types.get(et.name)
            if old is not None:
                if old != et:
                    raise BusError(
                        f"event type {et.name!r} is already registered with another declaration"
                    )
                return old
            self._types[et.name] = et
            return et

    def register(
        self,
        name: str,
        *fields: FieldSpec,
        critical: bool = False,
        requires_frame: bool = False,
        extra: bool = False,
        doc: str = "",
    ) -> EventType:
        """Declare a type, e.g. ``register("myplugin.hit", ("x", int, 0, 9), critical=True)``."""
        return self.add(
            EventType(
                name,
                tuple(_as_field(f) for f in fields),
                critical=critical,
                requires_frame=requires_frame,
                extra=extra,
                doc=doc,
            )
        )

    def get(self, name: str) -> EventType:
        """The declaration of ``name``; raises UnknownEventTypeError."""
        et = self._types.get(name)
        if et is None:
            raise UnknownEventTypeError(name, tuple(self._types))
        return et

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def names(self) -> tuple[str, ...]:
        """All registered type ids, in registration order."""
        return tuple(self._types)

    def copy(self) -> EventRegistry:
        """An independent registry with the same types."""
        return EventRegistry(self._types.values())


def _f(name: str, t: type, lo: float | None = None, hi: float | None = None, **kw: Any) -> Field:
    return Field(name, t, lo, hi, **kw)


BUILTIN_TYPES: tuple[EventType, ...] = (
    EventType(
        "note_on",
        (
            _f("pitch", int, 0, 127),
            _f("velocity", int, 1, 127),
            _f("channel", int, 0, 15),
            _f("track", int, 0, required=False),
        ),
        doc="A note starts.",
    ),
    EventType(
        "note_off",
        (
            _f("pitch", int, 0, 127),
            _f("channel", int, 0, 15),
            _f("velocity", int, 0, 127, required=False),
            _f("track", int, 0, required=False),
        ),
        doc="A note ends.",
    ),
    EventType(
        "control",
        (_f("number", int, 0, 127), _f("value", int, 0, 127), _f("channel", int, 0, 15)),
        doc="MIDI control change.",
    ),
    EventType(
        "program",
        (_f("program", int, 0, 127), _f("channel", int, 0, 15)),
        doc="MIDI program change.",
    ),
    EventType(
        "transport",
        (_f("state", str, choices=TRANSPORT_STATES),),
        critical=True,
        doc="The transport state machine changed state.",
    ),
    EventType(
        "position",
        (_f("seconds", float, 0.0), _f("tick", int, 0, required=False)),
        requires_frame=True,
        doc="Playback position; the sample frame is the event's frame (emit(..., frame=n)).",
    ),
    EventType(
        "chord",
        (
            _f("symbol", str),
            _f("roman", str, required=False),
            _f("key", str, required=False),
        ),
        critical=True,
        doc="The current chord changed.",
    ),
    EventType(
        "score_loaded",
        (_f("title", str), _f("notes", int, 0)),
        critical=True,
        doc="A score finished loading.",
    ),
    EventType(
        "error",
        (_f("source", str), _f("message", str), _f("kind", str, required=False)),
        critical=True,
        doc="Something failed (also emitted by the bus when a handler raises).",
    ),
    EventType(
        "progress",
        (_f("task", str), _f("done", float, 0.0), _f("total", float, 0.0)),
        doc="Progress of a long task (loading, rendering, generating).",
    ),
)

#: The process-wide registry that buses use by default; plugins register their types here.
DEFAULT_REGISTRY = EventRegistry.with_builtins()


def register_event_type(
    name: str,
    *fields: FieldSpec,
    critical: bool = False,
    requires_frame: bool = False,
    extra: bool = False,
    doc: str = "",
) -> EventType:
    """Declare an event type in :data:`DEFAULT_REGISTRY` (the plugin extension point)."""
    return DEFAULT_REGISTRY.register(
        name, *fields, critical=critical, requires_frame=requires_frame, extra=extra, doc=doc
    )
