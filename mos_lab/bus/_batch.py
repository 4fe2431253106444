"""Batched delivery for widgets: lists of events, at most one window late, never dropped."""

from __future__ import annotations

import threading
import time as _time
import weakref
from collections.abc import Callable, Iterable
from types import MethodType
from typing import TYPE_CHECKING, Any

from ._bus import Subscription, _describe

if TYPE_CHECKING:
    from ._bus import EventBus
    from ._events import Event

__all__ = ["Batcher"]

_monotonic = _time.monotonic


class Batcher:
    """Collects events of some types and hands them to ``handler(events: list)`` in batches.

    A batch is delivered when its first event is ``window_s`` old (by the bus's flush
    timer thread, or by the next event that arrives after the window), at once when a
    critical event arrives (together with everything queued before it), or on ``flush()``.
    Batches arrive in sequence order and are never delivered concurrently; an event that a
    batch handler causes is delivered in a later batch, never re-entrantly.
    Made by :meth:`EventBus.subscribe_batched`.
    """

    def __init__(
        self,
        bus: EventBus,
        event_types: Iterable[str],
        handler: Callable[[list[Event]], Any],
        window_s: float = 0.016,
        owner: object | None = None,
        *,
        weak: bool = True,
    ) -> None:
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {type(handler).__name__}")
        if not window_s > 0:
            raise ValueError(f"window_s must be positive, got {window_s!r}")
        self.window_s = float(window_s)
        self.name = _describe(handler)
        self._bus = weakref.ref(bus)
        self._wm: weakref.WeakMethod[Any] | None = None
        self._handler: Callable[[list[Event]], Any] | None = None
        if weak and isinstance(handler, MethodType):
            wself = weakref.ref(self)

            def died(_: Any) -> None:  # the handler's object was collected: unsubscribe
                me = wself()
                b = me._bus() if me is not None else None
                if me is not None and b is not None:
                    me._closed = True
                    me._timer.remove(me)
                    b._dead.extend(me._subs)
                    b._reap()

            self._wm = weakref.WeakMethod(handler, died)
        else:
            self._handler = handler
        self._subs: tuple[Subscription, ...] = ()
        self._lock = threading.Lock()
        self._deliver_lock = threading.RLock()
        self._delivering = False
        self._buf: list[Event] = []
        self._first = 0.0
        self._closed = False
        self.batches = 0
        self.delivered = 0
        self.max_delay_s = 0.0  # worst age of a batch's first event at delivery
        self._timer = bus._flush_timer()
        subs: list[Subscription] = []
        try:
            for t in event_types:
                subs.append(bus.subscribe(t, self._on_event, owner, weak=False))
        except BaseException:
            for s in subs:
                s.dispose()
            raise
        if not subs:
            raise ValueError("subscribe_batched needs at least one event type")
        self._subs = tuple(subs)
        for s in subs:
            s._on_dispose = self._sub_gone

    # called by the bus's draining thread, in sequence order
    def _on_event(self, ev: Event) -> None:
        now = _monotonic()
        with self._lock:
            buf = self._buf
            buf.append(ev)
            if len(buf) == 1:
                self._first = now
                due = ev.critical
                schedule = not due
            else:
                due = ev.critical or now - self._first >= self.window_s
                schedule = False
        if due:
            self._flush()
        elif schedule:
            self._timer.add(self, now + self.window_s)

    def flush(self) -> None:
        """Deliver what is queued now (from any thread)."""
        self._flush()

    def _flush(self) -> None:
        with self._deliver_lock:
            if self._delivering:  # a batch handler caused this: its loop picks the events up
                return
            self._delivering = True
            try:
                while True:
                    with self._lock:
                        batch, self._buf = self._buf, []
                        first = self._first
                    if not batch:
                        return
                    self._deliver(batch, first)
            finally:
                self._delivering = False

    def _deliver(self, batch: list[Event], first: float) -> None:
        handler = self._handler
        if handler is None and self._wm is not None:
            handler = self._wm()
            if handler is None:  # the handler's object died
                self.dispose()
                return
        if handler is None:
            return
        delay = _monotonic() - first
        if delay > self.max_delay_s:
            self.max_delay_s = delay
        self.batches += 1
        self.delivered += len(batch)
        try:
            handler(batch)
        except Exception as exc:
            bus = self._bus()
            if bus is not None:
                bus._failed(self.name, batch[-1], exc)

    @property
    def pending(self) -> int:
        """Events waiting for the next batch."""
        return len(self._buf)

    @property
    def active(self) -> bool:
        """True until disposed or closed."""
        return not self._closed

    def _sub_gone(self) -> None:
        # one of our subscriptions ended (owner collected, dispose_owner, bus closed)
        if not self._closed:
            self._closed = True
            for s in self._subs:
                if s.active:
                    s.dispose()
            self._timer.remove(self)

    def dispose(self) -> None:
        """Deliver what is queued, then unsubscribe."""
        if self._closed:
            return
        self._flush()
        self._closed = True
        for s in self._subs:
            s.dispose()
        self._timer.remove(self)

    close = dispose

    def __enter__(self) -> Batcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"<Batcher {self.name} window={self.window_s}s pending={self.pending}>"


class _FlushTimer:
    """One thread per bus that flushes batches whose window has passed."""

    def __init__(self, bus: EventBus) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._due: dict[Batcher, float] = {}
        self._closed = False
        self._thread: threading.Thread | None = None
        self._bus = weakref.ref(bus)

    def add(self, b: Batcher, deadline: float) -> None:
        with self._cond:
            if self._closed:
                return
            old = self._due.get(b)
            if old is not None and old <= deadline:
                return
            earliest = min(self._due.values(), default=None)
            self._due[b] = deadline
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="mos_lab.bus-flush", daemon=True
                )
                self._thread.start()
            elif earliest is None or deadline < earliest:
                self._cond.notify()

    def remove(self, b: Batcher) -> None:
        with self._cond:
            self._due.pop(b, None)

    def _run(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while True:
                    if self._closed:
                        return
                    if not self._due:
                        cond.wait()
                        continue
                    b, deadline = min(self._due.items(), key=lambda kv: kv[1])
                    wait = deadline - _monotonic()
                    if wait > 0:
                        cond.wait(wait)
                        continue
                    del self._due[b]
                    break
            try:
                b._flush()
            except Exception as exc:  # pragma: no cover - _flush isolates handlers itself
                bus = self._bus()
                if bus is not None and b._buf:
                    bus._failed(b.name, b._buf[-1], exc)
            del b

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._due.clear()
            self._cond.notify_all()
            t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join()
