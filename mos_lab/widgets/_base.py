"""MosWidget: the base of every mos_lab widget (an anywidget) and its lifecycle rules.

- Bound to a session (the current one by default) and registered in its registry under a
  key; the default key is (notebook cell, class, n-th in that cell run), so re-running a
  cell closes the widgets its previous run made.
- Owns a :class:`Lifecycle`: bus subscriptions, timers, threads, streams; ``close()``
  releases them, closes the ipywidgets ``Layout`` child and the comm.
- Receives transport state changes from the bus (not a stream of positions) and mirrors
  them in the ``clock`` trait; the page moves the playhead itself at display rate.
- Every message from the page is validated (``_messages.check``); a bad one gets an
  ``{"type": "error"}`` reply and is recorded in ``errors``; nothing raises in the kernel's
  message loop.
- ``update(**fields)`` changes several traits as one transaction: all or nothing, one
  message to the page.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

import anywidget
import traitlets as t

from mos_lab.bus import DEFAULT_REGISTRY, Event, register_event_type
from mos_lab.score import Score
from mos_lab.widgets import _esm
from mos_lab.widgets._context import SessionLike, current_session
from mos_lab.widgets._lifecycle import Lifecycle
from mos_lab.widgets._messages import Spec, check
from mos_lab.widgets._order import InOrder

AUTO = "auto"
CLOCK_EVENTS = ("transport", "position", "score_loaded", "mos.clock")
if "mos.clock" not in DEFAULT_REGISTRY:
    register_event_type("mos.clock", critical=True,
                        doc="tempo, loop or output changed: widgets re-read the transport")


def _cell_key(kind: str, session: SessionLike) -> str | None:
    """(cell id, kind, ordinal in this execution), or None outside a notebook cell."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        parent = kernel.get_parent("shell") if kernel is not None else None
    except Exception:
        return None
    if not parent:
        return None
    cell = (parent.get("metadata") or {}).get("cellId")
    msg_id = (parent.get("header") or {}).get("msg_id")
    if not cell or not msg_id:
        return None
    n = session.registry.ordinal(msg_id, kind)
    return f"{cell}:{kind}:{n}"


def clock_state(session: SessionLike, stamp: int, score: Score | None = None) -> dict[str, Any]:
    """The transport as the page needs it to move a playhead on its own.

    A widget bound to another score than the engine's shows that score stopped at 0.
    """
    eng = session.engine
    state = eng.state
    loop = eng.loop
    out = session.browser_output
    if score is not None and eng.score is not score:
        return {"state": "ready", "pos": 0.0, "rate": 0.0, "duration": score.duration,
                "loop": None, "tempo": eng.tempo, "output": session.output,
                "audio": "none" if out is None else ("on" if out.unlocked else "locked"),
                "stamp": stamp, "engine": False}
    score = eng.score
    return {
        "state": state, "pos": round(eng.position, 6),
        "rate": eng.tempo if state == "playing" else 0.0,
        "duration": score.duration if score is not None else 0.0,
        "loop": [loop[0], loop[1]] if loop else None, "tempo": eng.tempo,
        "output": session.output,
        "audio": "none" if out is None else ("on" if out.unlocked else "locked"),
        "stamp": stamp, "engine": True,
    }


class MosWidget(anywidget.AnyWidget):
    """Base widget: session binding, owned lifecycle, validated messages, clock mirror."""

    _esm_name: ClassVar[str] = ""
    _commands: ClassVar[dict[str, Spec]] = {}

    session_id = t.Unicode("").tag(sync=True)
    clock = t.Dict().tag(sync=True)
    visible = t.Bool(False).tag(sync=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if cls.__dict__.get("_esm_name"):
            cls._esm = _esm.module(cls._esm_name)
            cls._css = _esm.css()
        super().__init_subclass__(**kwargs)

    def __init__(self, score: Score | None = None, *, session: SessionLike | None = None,
                 key: str | None = AUTO, **kwargs: Any) -> None:
        if score is not None and not isinstance(score, Score):
            raise TypeError(f"score: expected a mos_lab.Score, got {type(score).__name__}")
        self.session: SessionLike = session if session is not None else current_session()
        self.score = score  # None: follow the session's current score
        self._dirty = True  # data for the page (notes, chords) must be sent when visible
        self.pushes = 0  # how many times data was sent to the page
        self._lock = threading.RLock()
        self._closed = False
        self._stamp = 0
        self.errors: deque[str] = deque(maxlen=100)
        self.sent_at: deque[tuple[float, str]] = deque(maxlen=4096)  # (perf time, what)
        kwargs.setdefault("clock", clock_state(self.session, 0, score))
        super().__init__(session_id=self.session.id, **kwargs)
        self.life = Lifecycle(f"{type(self).__name__}#{self.model_id[:8]}")
        self._order = InOrder(self._handle_page_msg)  # the page's sent order (ipykernel 7)
        self.on_msg(self._on_page_msg)
        for kind in CLOCK_EVENTS:
            self.life.subscribe(self.session.bus, kind, self._on_engine_event)
        self.observe(self._on_visible, names="visible")
        self.key = _cell_key(type(self).__name__, self.session) if key == AUTO else key
        self.session.registry.add(self, self.key)

    # -- engine -> page ----------------------------------------------------------------
    def _on_engine_event(self, ev: Event) -> None:
        if self._closed:
            return
        self._refresh_clock()
        if ev.type == "score_loaded" and self.score is None:
            self._dirty = True
            self._push()

    def _refresh_clock(self) -> None:
        with self._lock:
            self._stamp += 1
            self.clock = clock_state(self.session, self._stamp, self.score)
            self.sent_at.append((time.perf_counter(), self.clock["state"]))

    @property
    def current_score(self) -> Score | None:
        """The score shown: the bound one, else the session's current one."""
        return self.score if self.score is not None else self.session.engine.score

    def _payload(self) -> dict[str, Any]:
        """Hook: the traits that carry data for the page (sent only while visible)."""
        return {}

    def _push(self) -> None:
        """Send the data traits if they changed and the widget is on screen (WID-07)."""
        if not (self._dirty and self.visible) or self._closed:
            return
        payload = self._payload()
        self._dirty = False
        if payload:
            self.update(**payload)
            self.pushes += 1

    def _on_visible(self, change: dict[str, Any]) -> None:
        self._push()

    # -- page -> kernel ----------------------------------------------------------------
    def _on_page_msg(self, _w: Any, content: Any, buffers: list[Any]) -> None:
        self._order.feed(content)

    def _handle_page_msg(self, content: Any) -> None:
        try:
            problems = self._dispatch(content)
        except Exception as exc:  # a failing command is reported, never raised
            problems = [f"{type(exc).__name__}: {exc}"]
        if problems:
            self._reply_error(content, problems)

    def _dispatch(self, content: Any) -> list[str]:
        cmd, fields, problems = check(content, self._commands)
        if problems:
            return problems
        handler: Callable[..., Any] = getattr(self, f"_cmd_{cmd}")
        handler(**fields)  # not under the widget lock: engine calls emit events back to us
        return []

    def _reply_error(self, content: Any, problems: list[str]) -> None:
        message = "; ".join(problems)[:1000]
        self.errors.append(message)
        request = content.get("type") if isinstance(content, dict) else None
        with contextlib.suppress(Exception):  # the comm may be gone already
            self.send({"type": "error", "message": message,
                       "request": request if isinstance(request, str) else None})

    # -- transactions (WID-10) ---------------------------------------------------------
    def update(self, **fields: Any) -> None:
        """Set several traits at once: validated together, all or nothing, one message."""
        unknown = [k for k in fields if not self.has_trait(k)]
        if unknown:
            raise t.TraitError(f"{type(self).__name__}: unknown fields {unknown}")
        with self._lock, self.hold_sync(), self.hold_trait_notifications():
            for k, v in fields.items():
                setattr(self, k, v)

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once ``close()`` ran (nothing is sent or received after it)."""
        return self._closed

    def close(self) -> None:
        """Release subscriptions, timers, threads and streams, then the comm; idempotent."""
        if "life" not in self.__dict__:  # construction failed part-way (a refused option)
            with contextlib.suppress(Exception):
                super().close()
            return
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._order.close()
        self.life.close()
        self._close_children()
        self.session.registry.remove(self)
        layout = self.__dict__.get("_trait_values", {}).get("layout")
        if layout is not None:
            layout.close()
        super().close()

    def _close_children(self) -> None:
        """Hook: close owned child widgets."""

    def __enter__(self) -> MosWidget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
