"""Owned lifecycles: every subscription, timer, thread and stream has an owner that frees it.

A widget holds one :class:`Lifecycle`; ``close()`` releases everything in it, in reverse
order of acquisition, and never raises. The session's :class:`Registry` knows the live
owners (weakly, so it never keeps a widget alive itself), closes the previous widget when
a cell re-runs with the same key, and counts what is alive for ``Session.doctor()``.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from mos_lab.bus import EventBus

KINDS = ("subscriptions", "timers", "threads", "streams")


class Closeable(Protocol):
    def close(self) -> None: ...


class Lifecycle:
    """The resources of one owner, released together by :meth:`close`.

    Examples
    --------
    >>> from mos_lab.bus import EventBus
    >>> bus = EventBus()
    >>> life = Lifecycle("demo")
    >>> _ = life.subscribe(bus, "transport", print)
    >>> life.counts()["subscriptions"], bus.subscriber_count()
    (1, 1)
    >>> life.close(); bus.subscriber_count()
    0
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.closed = False
        self._items: list[tuple[str, str, Any, Callable[[], None]]] = []
        self._lock = threading.Lock()

    def _own(self, kind: str, name: str, obj: Any, release: Callable[[], None]) -> Any:
        with self._lock:
            if self.closed:
                release()
                raise RuntimeError(f"{self.owner} is closed: cannot own a new {kind[:-1]}")
            self._items.append((kind, name, obj, release))
        return obj

    def subscribe(self, bus: EventBus, event_type: str, handler: Callable[[Any], Any]) -> Any:
        """A bus subscription (unbatched: state changes reach the widget at emit)."""
        sub = bus.subscribe(event_type, handler, weak=False)
        return self._own("subscriptions", f"{event_type} -> {sub.name}", sub, sub.dispose)

    def timer(self, interval_s: float, fn: Callable[[], None], name: str = "timer") -> Any:
        """A one-shot ``threading.Timer``, cancelled on close."""
        t = threading.Timer(interval_s, fn)
        t.name, t.daemon = f"mos-timer-{self.owner}-{name}", True
        self._own("timers", name, t, t.cancel)
        t.start()
        return t

    def thread(self, target: Callable[[threading.Event], None], name: str) -> threading.Thread:
        """A thread given a stop event; close sets it and joins the thread."""
        stop = threading.Event()
        t = threading.Thread(target=target, args=(stop,), name=f"mos-{self.owner}-{name}",
                             daemon=True)

        def release() -> None:
            stop.set()
            if t is not threading.current_thread() and t.is_alive():
                t.join(timeout=5.0)

        self._own("threads", name, t, release)
        t.start()
        return t

    def stream(self, name: str, stop: Callable[[], None]) -> None:
        """A stream (audio link, frame feed) that ``stop`` ends."""
        self._own("streams", name, name, stop)

    def release(self, obj: Any) -> None:
        """Release one owned item early (e.g. a stream handed to another view)."""
        with self._lock:
            found = [it for it in self._items if it[2] is obj]
            self._items = [it for it in self._items if it[2] is not obj]
        for *_, rel in found:
            with contextlib.suppress(Exception):
                rel()

    def _alive(self, kind: str, obj: Any) -> bool:
        if kind == "subscriptions":
            return bool(getattr(obj, "active", True))
        if kind in ("timers", "threads"):
            return bool(obj.is_alive())
        return True

    def items(self) -> Iterator[tuple[str, str]]:
        """(kind, name) of everything alive."""
        with self._lock:
            items = list(self._items)
        for kind, name, obj, _ in items:
            if self._alive(kind, obj):
                yield kind, name

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(KINDS, 0)
        for kind, _ in self.items():
            out[kind] += 1
        return out

    def close(self) -> None:
        """Release everything, newest first; never raises; safe to call twice."""
        with self._lock:
            self.closed = True
            items, self._items = self._items, []
        for _, _, _, release in reversed(items):
            with contextlib.suppress(Exception):
                release()


class Owner(Protocol):
    life: Lifecycle

    def close(self) -> None: ...


class Registry:
    """Live widgets of a session, by key; re-registering a key closes the old widget."""

    def __init__(self) -> None:
        self._live: weakref.WeakSet[Any] = weakref.WeakSet()
        self._keys: dict[str, weakref.ref[Any]] = {}
        self._lock = threading.Lock()
        self.created = 0
        self.closed = 0
        self._run: str | None = None  # the cell execution whose widgets are being counted
        self._ordinals: dict[str, int] = {}

    def ordinal(self, run: str, kind: str) -> int:
        """0, 1, 2 ... for each widget of ``kind`` made during one cell execution ``run``."""
        with self._lock:
            if run != self._run:
                self._run, self._ordinals = run, {}
            n = self._ordinals.get(kind, 0)
            self._ordinals[kind] = n + 1
            return n

    def add(self, widget: Owner, key: str | None = None) -> None:
        old = None
        with self._lock:
            if key is not None:
                ref = self._keys.get(key)
                old = ref() if ref is not None else None
                self._keys[key] = weakref.ref(widget)
            self._live.add(widget)
            self.created += 1
        if old is not None and old is not widget:
            old.close()

    def remove(self, widget: Owner) -> None:
        with self._lock:
            if widget in self._live:
                self._live.discard(widget)
                self.closed += 1
            for k, ref in list(self._keys.items()):
                if ref() is widget or ref() is None:
                    del self._keys[k]

    def widgets(self) -> list[Any]:
        with self._lock:
            return list(self._live)

    def counts(self) -> dict[str, int]:
        """Widgets and what their lifecycles hold, by kind."""
        out = {"widgets": 0, **dict.fromkeys(KINDS, 0)}
        for w in self.widgets():
            out["widgets"] += 1
            for kind, n in w.life.counts().items():
                out[kind] += n
        return out

    def inventory(self) -> list[tuple[str, str, str]]:
        """(kind, name, owner) of every widget-owned resource alive."""
        rows = []
        for w in self.widgets():
            rows.append(("widgets", type(w).__name__, w.life.owner))
            rows += [(kind, name, w.life.owner) for kind, name in w.life.items()]
        return rows

    def close_all(self) -> None:
        for w in self.widgets():
            with contextlib.suppress(Exception):
                w.close()
