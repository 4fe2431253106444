"""EventBus: validated, sequenced, ordered delivery with owned subscriptions."""

from __future__ import annotations

import logging
import threading
import time as _time
import weakref
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from types import MethodType
from typing import Any

from ._errors import BusError, EmitDepthError, FieldTypeError
from ._events import DEFAULT_REGISTRY, Event, EventRegistry

__all__ = ["BusMetrics", "EventBus", "HandlerFailure", "HandlerTiming", "Subscription"]

log = logging.getLogger("mos_lab.bus")

Handler = Callable[[Event], Any]
WILDCARD = "*"
_get_ident = threading.get_ident
_NEVER = 1 << 62  # "sample every" value that disables handler timing


def _noop(event: Any) -> None:
    """Stands in for the handler of a disposed subscription still in a delivery snapshot."""


def _describe(handler: Any) -> str:
    mod = getattr(handler, "__module__", None) or ""
    qn = getattr(handler, "__qualname__", None) or type(handler).__qualname__
    return f"{mod}.{qn}" if mod else str(qn)


class Subscription:
    """A handler registered for one event type; ``dispose()`` removes it (idempotent).

    Bound-method handlers are held weakly (the subscription ends when their object dies);
    the owner, if any, is held weakly too. Also a context manager.
    """

    __slots__ = ("__weakref__", "_bus", "_func", "_obj", "_owner_key", "event_type", "fn",
                 "name")

    fn: Callable[[Any], Any]

    def __init__(self, bus: EventBus, event_type: str, handler: Callable[[Any], Any],
                 weak: bool) -> None:
        self._bus: weakref.ref[EventBus] = weakref.ref(bus)
        self.event_type = event_type
        self.name = _describe(handler)
        self._owner_key: int | None = None
        if weak and isinstance(handler, MethodType):
            wself = weakref.ref(self)
            bus_ref = self._bus

            def died(_: Any) -> None:  # the handler's object was collected: end this
                sub = wself()
                b = bus_ref()
                if sub is not None and b is not None:
                    b._dead.append(sub)
                    b._reap()

            # a weak ref to the object plus the plain function: cheaper to call than
            # weakref.WeakMethod, whose __call__ is Python code
            self._obj: weakref.ref[Any] | None = weakref.ref(handler.__self__, died)
            self._func: Callable[[Any, Any], Any] | None = handler.__func__
            self.fn = self._call_weak
        else:
            self._obj = None
            self._func = None
            self.fn = handler

    def _call_weak(self, event: Any) -> None:
        obj = self._obj() if self._obj is not None else None
        if obj is None:  # the handler's object died: end this subscription
            self.dispose()
            return
        self._func(obj, event)  # type: ignore[misc]

    @property
    def active(self) -> bool:
        """True until disposed (explicitly, with its owner, or when its handler died)."""
        return self.fn is not _noop

    def dispose(self) -> None:
        """Remove this subscription; it gets no further calls, even mid-delivery."""
        bus = self._bus()
        if bus is not None:
            bus._remove([self])
        else:
            self._deactivate()

    def _deactivate(self) -> None:
        self.fn = _noop

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        state = "active" if self.active else "disposed"
        return f"<Subscription {self.event_type!r} -> {self.name} ({state})>"


@dataclass(frozen=True)
class HandlerFailure:
    """A handler that raised: kept in ``EventBus.errors`` (bounded)."""

    handler: str
    event: Event
    exception: BaseException


@dataclass(frozen=True)
class HandlerTiming:
    """Sampled timing of one handler: calls timed, total and worst seconds."""

    calls: int
    total_s: float
    max_s: float


@dataclass(frozen=True)
class BusMetrics:
    """Snapshot of the bus's counters. Counts are exact; handler timing is sampled."""

    events: int
    counts: dict[str, int]
    sample_every: int
    sampled_events: int
    timed_calls: int
    handler_time: dict[str, HandlerTiming]
    errors: int
    subscribers: int
    history: int


class EventBus:
    """Typed, ordered event bus. See the package docstring for the map and an example.

    Delivery: every event gets a sequence number under a lock and is appended to a queue
    that one thread at a time drains, so all subscribers see events in sequence order,
    also when several threads emit at once. A handler that emits queues its event; it is
    delivered after the current event has reached every subscriber (FIFO, breadth-first).

    The last ``history_size`` events stay in memory (older ones are dropped); keep it in
    the low thousands: a large in-memory history makes the garbage collector rescan it.
    ``max_payload`` bounds each string/bytes/container in a payload; ``max_depth`` bounds
    chains of handlers emitting events; every ``sample_every``-th event has its handlers
    timed (0: never); ``clock`` stamps ``Event.time`` (inject one to simulate time).
    """

    def __init__(
        self,
        registry: EventRegistry | None = None,
        *,
        history_size: int = 1000,
        max_payload: int = 64 * 1024,
        max_depth: int = 32,
        sample_every: int = 64,
        max_errors: int = 100,
        clock: Callable[[], float] = _time.monotonic,
    ) -> None:
        if history_size < 1 or max_depth < 1 or max_payload < 1:
            raise BusError("history_size, max_depth and max_payload must be positive")
        self.registry = registry if registry is not None else DEFAULT_REGISTRY
        self.max_payload = max_payload
        self.max_depth = max_depth
        self.history_size = history_size
        self._clock = clock
        self._compiled: dict[str, tuple[Callable[[dict[str, Any]], None], bool, bool]] = {}
        # delivery state (guarded by _lock)
        self._lock = threading.Lock()
        self._seq = 0
        self._pending: deque[Event] = deque()
        self._draining = False
        self._drainer: int | None = None
        self._current: Event | None = None
        self._history: deque[Event] = deque()
        self._trim_chunk = max(16, history_size // 8)
        self._trim_at = history_size + self._trim_chunk
        # subscriptions (copy-on-write tuples; mutations under _sub_lock)
        self._sub_lock = threading.Lock()
        self._subs: dict[str, tuple[Subscription, ...]] = {}
        self._wild: tuple[Subscription, ...] = ()
        self._routes: dict[str, tuple[Subscription, ...]] = {}
        self._owned: dict[int, tuple[weakref.ref[Any], list[Subscription]]] = {}
        # owners (key, ref) and subscriptions whose handler or owner was collected
        self._dead: deque[tuple[int, weakref.ref[Any]] | Subscription] = deque()
        # metrics and errors
        self._counts: defaultdict[str, int] = defaultdict(int)
        self._sample_every = sample_every if sample_every > 0 else _NEVER
        self._sampled = 0
        self._timed_calls = 0
        self._timing: dict[str, list[float]] = {}
        self._error_count = 0
        self.errors: deque[HandlerFailure] = deque(maxlen=max_errors)
        self._closed = False

    # ------------------------------------------------------------------ emit
    def emit(
        self,
        event_type: str,
        /,
        *,
        frame: int | None = None,
        critical: bool | None = None,
        **data: Any,
    ) -> Event:
        """Validate, sequence and deliver one event; returns it.

        Raises BusError subclasses for an unknown type, a bad field, a too large payload,
        or an emit chain deeper than ``max_depth``. Called from a handler, the event is
        queued and delivered after the current one (its handlers have not run on return).
        """
        c = self._compiled.get(event_type)
        if c is None:
            c = self._compile(event_type)
        check, crit, needs_frame = c
        check(data)
        if frame is not None:
            if frame.__class__ is not int or frame < 0:
                frame = self._check_frame(event_type, frame)
        elif needs_frame:
            raise FieldTypeError(event_type, "frame", "this event type needs emit(..., frame=n)")
        if critical is None:
            critical = crit
        chain: tuple[str, ...] = ()
        if self._draining and self._drainer == _get_ident():
            cur = self._current
            if cur is not None:
                chain = (*cur.chain, cur.type)
                if len(chain) >= self.max_depth:
                    raise EmitDepthError((*chain, event_type), self.max_depth)
        lock = self._lock
        lock.acquire()
        try:
            seq = self._seq = self._seq + 1
            out = ev = Event(event_type, seq, frame, self._clock(), data, critical, chain)
            self._history.append(ev)
            self._counts[event_type] += 1
            if seq >= self._trim_at:
                self._trim()
            if self._draining or self._pending:
                self._pending.append(ev)
                if self._draining:
                    return ev
                ev = self._pending.popleft()  # an interrupted drain left older events
                seq, event_type = ev.seq, ev.type
            self._draining = True
            self._drainer = _get_ident()
        finally:
            lock.release()
        # fast path: deliver inline, then hand anything queued meanwhile to _drain
        self._current = ev
        try:
            if seq % self._sample_every:
                for s in self._routes.get(event_type, self._wild):
                    try:
                        s.fn(ev)
                    except Exception as exc:
                        self._failed(s, ev, exc)
            else:
                self._deliver_timed(ev, self._routes.get(event_type, self._wild))
        except BaseException:
            self._stop_draining()
            raise
        lock.acquire()
        if not self._pending:
            self._draining = False
            self._drainer = None
            self._current = None
            lock.release()
            return out
        nxt = self._pending.popleft()
        lock.release()
        self._drain(nxt)
        return out

    def _stop_draining(self) -> None:
        # KeyboardInterrupt & co: leave the queue for the next emitter, keep the bus usable
        with self._lock:
            self._draining = False
            self._drainer = None
            self._current = None

    def _post(self, event_type: str, data: dict[str, Any]) -> None:
        """Emit from inside the bus (error reports): validated, no depth chain."""
        check, crit, _ = self._compiled.get(event_type) or self._compile(event_type)
        check(data)
        with self._lock:
            seq = self._seq = self._seq + 1
            ev = Event(event_type, seq, None, self._clock(), data, crit, ())
            self._history.append(ev)
            self._counts[event_type] += 1
            if seq >= self._trim_at:
                self._trim()
            self._pending.append(ev)
            if self._draining:
                return
            ev = self._pending.popleft()
            self._draining = True
            self._drainer = _get_ident()
        self._drain(ev)

    def _drain(self, ev: Event) -> None:
        """Deliver ``ev`` and then everything queued meanwhile, in sequence order."""
        lock = self._lock
        pending = self._pending
        routes = self._routes
        every = self._sample_every
        try:
            while True:
                self._current = ev
                subs = routes.get(ev.type, self._wild)
                if ev.seq % every:
                    for s in subs:
                        try:
                            s.fn(ev)
                        except Exception as exc:
                            self._failed(s, ev, exc)
                else:
                    self._deliver_timed(ev, subs)
                lock.acquire()
                if not pending:
                    self._draining = False
                    self._drainer = None
                    self._current = None
                    lock.release()
                    return
                ev = pending.popleft()
                lock.release()
        except BaseException:
            self._stop_draining()
            raise

    def _deliver_timed(self, ev: Event, subs: tuple[Subscription, ...]) -> None:
        pc = _time.perf_counter
        timing = self._timing
        for s in subs:
            t0 = pc()
            try:
                s.fn(ev)
            except Exception as exc:
                self._failed(s, ev, exc)
            dt = pc() - t0
            st = timing.get(s.name)
            if st is None:
                timing[s.name] = [1, dt, dt]
            else:
                st[0] += 1
                st[1] += dt
                if dt > st[2]:
                    st[2] = dt
        self._sampled += 1
        self._timed_calls += len(subs)

    def _failed(self, sub: Subscription | str, ev: Event, exc: BaseException) -> None:
        """Isolate a failing handler: record, log, and report it as an ``error`` event."""
        name = sub if isinstance(sub, str) else sub.name
        with self._lock:  # metrics() may read the count from another thread
            self._error_count += 1
            self.errors.append(HandlerFailure(name, ev, exc))
        log.error("handler %s failed on %r", name, ev, exc_info=exc)
        if ev.type == "error" or "error" not in self.registry:
            return  # never report failures of error handlers as events (no feedback loop)
        message = f"{type(exc).__name__}: {exc}"
        if len(message) > 2000:
            message = message[:2000] + "…"
        try:
            self._post(
                "error",
                {"source": f"handler {name} on {ev.type} #{ev.seq}", "message": message,
                 "kind": type(exc).__name__},
            )
        except BusError as e:  # pragma: no cover - only with a foreign 'error' declaration
            log.error("could not report handler failure as an event: %s", e)

    def _compile(self, event_type: str) -> tuple[Callable[[dict[str, Any]], None], bool, bool]:
        et = self.registry.get(event_type)  # raises UnknownEventTypeError
        c = (et.compile(self.max_payload), et.critical, et.requires_frame)
        self._compiled[event_type] = c
        return c

    @staticmethod
    def _check_frame(event_type: str, frame: Any) -> int:
        import numbers

        if isinstance(frame, bool) or not isinstance(frame, numbers.Integral):
            raise FieldTypeError(event_type, "frame", f"expected int, got {type(frame).__name__}")
        if frame < 0:
            raise FieldTypeError(event_type, "frame", f"{frame} is below 0")
        return int(frame)

    # --------------------------------------------------------------- history
    def _trim(self) -> None:
        """Drop the oldest events beyond ``history_size`` (caller holds _lock)."""
        h = self._history
        for _ in range(len(h) - self.history_size):
            h.popleft()
        self._trim_at = self._seq + self._trim_chunk

    @property
    def history(self) -> list[Event]:
        """The events kept in memory (at most ``history_size`` plus a small trim chunk)."""
        with self._lock:
            return list(self._history)

    def recent(self, n: int = 100, event_type: str | None = None) -> list[Event]:
        """The last ``n`` events in memory, optionally of one type."""
        with self._lock:
            items = list(self._history)
        if event_type is not None:
            items = [e for e in items if e.type == event_type]
        return items[-n:] if n > 0 else []

    @property
    def seq(self) -> int:
        """Sequence number of the last emitted event (0 before the first)."""
        return self._seq

    # ---------------------------------------------------------- subscriptions
    def subscribe(
        self,
        event_type: str,
        handler: Handler,
        owner: object | None = None,
        *,
        weak: bool = True,
    ) -> Subscription:
        """Call ``handler(event)`` for each event of ``event_type`` (``"*"``: every type).

        With ``owner``, the subscription ends when the owner is garbage-collected or
        ``dispose_owner(owner)`` is called. Bound methods are held weakly unless weak=False.
        """
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {type(handler).__name__}")
        if event_type != WILDCARD:
            self.registry.get(event_type)  # raises UnknownEventTypeError
        sub = Subscription(self, event_type, handler, weak)
        self._add(sub, owner)
        return sub

    def _add(self, sub: Subscription, owner: object | None) -> None:
        if owner is not None:
            try:
                weakref.ref(owner)
            except TypeError:
                raise TypeError(
                    f"owner must support weak references, got {type(owner).__name__}"
                ) from None
        with self._sub_lock:
            if self._closed:
                raise BusError("the bus is closed")
            if owner is not None:
                key = id(owner)
                entry = self._owned.get(key)
                if entry is not None and entry[0]() is not owner:
                    self._remove_locked(list(entry[1]))  # a dead owner whose id was reused
                    self._owned.pop(key, None)
                    entry = None
                if entry is None:
                    wself = weakref.ref(self)

                    def died(ref: weakref.ref[Any], key: int = key) -> None:
                        bus = wself()
                        if bus is not None:
                            bus._dead.append((key, ref))
                            bus._reap()

                    entry = (weakref.ref(owner, died), [])
                    self._owned[key] = entry
                entry[1].append(sub)
                sub._owner_key = key
            if sub.event_type == WILDCARD:
                self._wild = (*self._wild, sub)
                self._rebuild_routes()
            else:
                t = sub.event_type
                self._subs[t] = (*self._subs.get(t, ()), sub)
                self._routes[t] = self._subs[t] + self._wild
        self._reap()

    def _remove(self, subs: list[Subscription]) -> None:
        with self._sub_lock:
            done = self._remove_locked(subs)
        for s in done:
            s._deactivate()
        self._reap()

    def _remove_locked(self, subs: list[Subscription]) -> list[Subscription]:
        """Unlink ``subs`` from the routing tables; returns those that were still active."""
        done = []
        wild_changed = False
        for sub in subs:
            if not sub.active:
                continue
            done.append(sub)
            t = sub.event_type
            if t == WILDCARD:
                self._wild = tuple(s for s in self._wild if s is not sub)
                wild_changed = True
            else:
                left = tuple(s for s in self._subs.get(t, ()) if s is not sub)
                if left:
                    self._subs[t] = left
                    self._routes[t] = left + self._wild
                else:
                    self._subs.pop(t, None)
                    self._routes.pop(t, None)
            key = sub._owner_key
            if key is not None:
                entry = self._owned.get(key)
                if entry is not None:
                    lst = entry[1]
                    for i, s in enumerate(lst):
                        if s is sub:
                            del lst[i]
                            break
                    if not lst:
                        del self._owned[key]
        if wild_changed:
            self._rebuild_routes()
        for s in done:  # stop calls from snapshots being delivered right now
            s.fn = _noop
        return done

    def _rebuild_routes(self) -> None:
        self._routes = {t: subs + self._wild for t, subs in self._subs.items()}

    def _reap(self) -> None:
        """Dispose subscriptions of owners that were garbage-collected.

        Called from weakref callbacks, which may run inside a subscription change; then
        the lock is busy and the thread holding it reaps after releasing it.
        """
        while self._dead:
            if not self._sub_lock.acquire(blocking=False):
                return
            done: list[Subscription] = []
            try:
                while self._dead:
                    item = self._dead.popleft()
                    if isinstance(item, Subscription):
                        done += self._remove_locked([item])
                        continue
                    key, ref = item
                    entry = self._owned.get(key)
                    if entry is not None and entry[0] is ref:
                        done += self._remove_locked(list(entry[1]))
                        self._owned.pop(key, None)
            finally:
                self._sub_lock.release()
            for s in done:
                s._deactivate()

    def dispose_owner(self, owner: object) -> int:
        """Remove every subscription of ``owner``; returns how many were removed."""
        with self._sub_lock:
            entry = self._owned.get(id(owner))
            if entry is None or entry[0]() is not owner:
                done: list[Subscription] = []
            else:
                done = self._remove_locked(list(entry[1]))
                self._owned.pop(id(owner), None)
        for s in done:
            s._deactivate()
        self._reap()
        return len(done)

    def subscriber_count(self, event_type: str | None = None) -> int:
        """Live subscriptions, of one type (``"*"`` for wildcards) or in total."""
        self._reap()
        if event_type is None:
            return sum(len(v) for v in self._subs.values()) + len(self._wild)
        if event_type == WILDCARD:
            return len(self._wild)
        return len(self._subs.get(event_type, ()))

    def subscribers(self, event_type: str) -> tuple[Subscription, ...]:
        """The subscriptions an event of ``event_type`` is delivered to, in call order."""
        self._reap()
        return self._routes.get(event_type, self._wild)

    def owner_count(self) -> int:
        """How many live owners hold subscriptions."""
        self._reap()
        return len(self._owned)

    # --------------------------------------------------------------- metrics
    def metrics(self) -> BusMetrics:
        """Exact counts per type plus sampled handler timing (every ``sample_every``-th event)."""
        with self._lock:
            counts = dict(self._counts)
            events = self._seq
            hist = len(self._history)
        timing = {k: HandlerTiming(int(v[0]), v[1], v[2]) for k, v in list(self._timing.items())}
        every = 0 if self._sample_every == _NEVER else self._sample_every
        return BusMetrics(
            events=events,
            counts=counts,
            sample_every=every,
            sampled_events=self._sampled,
            timed_calls=self._timed_calls,
            handler_time=timing,
            errors=self._error_count,
            subscribers=self.subscriber_count(),
            history=hist,
        )

    # -------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Remove every subscription; later subscriptions are refused."""
        if self._closed:
            return
        with self._sub_lock:
            self._closed = True
        subs = [s for v in self._subs.values() for s in v] + list(self._wild)
        self._remove(subs)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def __enter__(self) -> EventBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<EventBus seq={self._seq} subscribers={self.subscriber_count()} "
                f"history={len(self._history)}>")
