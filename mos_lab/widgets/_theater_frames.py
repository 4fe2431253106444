"""Kernel frames for notebook widgets: the theater's static layer, rendered once per view.

Why not rendercanvas' or jupyter_rfb's canvas widget: both are built for apps that redraw
every animation step (the app draws its playhead, so every frame differs) and send a
frame per step. A piano roll only needs its *static* layer from the kernel: notes, grid,
keyboard strip and text for a time window. The moving parts (playhead, highlights of the
sounding notes) are drawn by the page from the audio position, so playback costs the
kernel no render at all; a view change (score, window/zoom/scroll, size, colours) costs
one. Their transport rules are kept: PNG/JPEG as binary buffers, at most two unconfirmed
frames (:class:`~mos_lab.theater.FrameSink`), frames only while the widget is visible,
targets freed when it is hidden or closed (THR-02).

Pieces:

- :func:`get_renderer` / :func:`set_renderer`: one theater renderer per kernel (wgpu setup
  costs ~1.5 s), opened on the first frame a page asks for.
- :func:`theater_default`: whether ``PianoRoll()`` draws through the theater by default.
- :func:`static_state`: a scene snapshot showing ``[t0, t1)`` with no playhead/highlight.
- :class:`TheaterLayer`: renders and encodes the static layer of a widget's scene.
- :class:`FrameFeed`: one widget's frames: cache per view, backpressure, the latest
  refused request kept (never a queue), release on hide and close.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from mos_lab.score import Score
from mos_lab.theater.encode import encode
from mos_lab.theater.geometry import PALETTE, make_layout
from mos_lab.theater.render import Renderer, open_renderer
from mos_lab.theater.scene import ColorBy, Orientation, Scene, SceneState, View
from mos_lab.theater.sinks import EncodedFrame, FrameSink

THEATER_COLORS = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in PALETTE.tolist()]
ACK_TIMEOUT_S = 5.0  # an unconfirmed frame older than this is counted lost (page gone)

_lock = threading.Lock()
_renderer: Renderer | None = None


def get_renderer() -> Renderer:
    """The kernel's theater renderer (wgpu, else the numpy fallback), opened once."""
    global _renderer
    with _lock:
        if _renderer is None:
            _renderer = open_renderer("auto")
        return _renderer


def set_renderer(renderer: Renderer | None) -> Renderer | None:
    """Use ``renderer`` for every widget from now on (tests; a chosen adapter); returns the
    previous one, which the caller owns. ``None`` reopens the default on next use."""
    global _renderer
    with _lock:
        old, _renderer = _renderer, renderer
        return old


def theater_default() -> bool:
    """Whether ``PianoRoll()`` uses the theater by default: when wgpu can be imported and
    neither ``MOS_LAB_RENDERER=cpu`` nor ``MOS_LAB_ROLL=canvas`` is set. The adapter is
    only opened when a page asks for a frame; if it turns out to be the CPU fallback the
    roll goes back to browser drawing."""
    if os.environ.get("MOS_LAB_ROLL", "").strip().lower() == "canvas":
        return False
    if os.environ.get("MOS_LAB_RENDERER", "").strip().lower() == "cpu":
        return False
    return importlib.util.find_spec("wgpu") is not None


def static_state(state: SceneState, t0: float, t1: float) -> SceneState:
    """``state`` showing ``[t0, t1)`` with the playhead far past the score's end.

    A scene's window follows its playhead (``lead`` in [0, 1)), so every snapshot has a
    playhead in view. A static layer must have none: the playhead is put a million
    seconds after the last note (off the plot, nothing sounds there, so no highlight)
    and ``lead`` chosen so that the window still starts at ``t0``.
    """
    if not t1 > t0:
        raise ValueError(f"window: t1 {t1} must be after t0 {t0}")
    span = t1 - t0
    far = max(t1, state.score.duration) + 1e6
    return replace(state, playhead=far, span=span, lead=(far - t0) / span)


@dataclass(frozen=True, slots=True)
class Request:
    """What the page shows: the time window ``[t0, t1)`` at ``width`` x ``height`` pixels."""

    t0: float
    t1: float
    width: int
    height: int


class FrameSource(Protocol):
    """What a feed renders from: ``source(request) -> (encoded bytes, info for the page)``."""

    def __call__(self, req: Request) -> tuple[bytes, dict[str, Any]]: ...

    def version(self) -> Hashable:
        """Changes whenever the same request would draw something else (score, colours)."""

    def release(self) -> None:
        """Free render targets held for this source's views."""


class CallableSource:
    """A user's ``renderer(t0, t1, width, height) -> bytes`` (PianoRoll's ``renderer=``)."""

    def __init__(self, fn: Callable[[float, float, int, int], bytes]) -> None:
        self.fn = fn

    def __call__(self, req: Request) -> tuple[bytes, dict[str, Any]]:
        return self.fn(req.t0, req.t1, req.width, req.height), {}

    def version(self) -> Hashable:
        return 0

    def release(self) -> None:
        pass


class TheaterLayer:
    """The static layer of one widget's scene, rendered by the theater and encoded.

    ``score`` is read at each render (a widget that follows the session shows the score
    loaded now). The attributes ``orientation``, ``color_by``, ``overlays`` and
    ``pitch_range`` are the widget's settings; :meth:`version` changes with any of them.
    """

    def __init__(self, score: Callable[[], Score | None], *, renderer: Renderer | None = None,
                 orientation: Orientation = "landscape", color_by: ColorBy = "track",
                 overlays: bool = True, pitch_range: Callable[[Score], tuple[int, int]] | None
                 = None, fmt: str = "png", quality: int = 85) -> None:
        self._score = score
        self._renderer = renderer
        self.orientation: Orientation = orientation
        self.color_by: ColorBy = color_by
        self.overlays = overlays
        self.pitch_range = pitch_range
        self.fmt, self.quality = fmt, quality
        self._scene: Scene | None = None
        self._views: set[View] = set()
        self.render_ms = 0.0  # the last render, for the page's "slow link" judgement

    @property
    def renderer(self) -> Renderer:
        if self._renderer is None:
            self._renderer = get_renderer()
        return self._renderer

    def _current(self) -> Score:
        sc = self._score()
        return sc if sc is not None else Score.from_notes([])

    def version(self) -> Hashable:
        sc = self._score()
        return (id(sc), self.orientation, self.color_by, self.overlays)

    def _state(self, score: Score) -> SceneState:
        if self._scene is None:
            self._scene = Scene(score)
        sc = self._scene
        with sc.batch():
            if sc.score is not score:
                sc.set_score(score)
            sc.set_color_by(self.color_by)
            sc.set_overlays(keyboard=self.overlays, text=self.overlays, grid=True)
            sc.set_pitch_range(self.pitch_range(score) if self.pitch_range else None)
            return sc.snapshot()

    def __call__(self, req: Request) -> tuple[bytes, dict[str, Any]]:
        score = self._current()
        state = static_state(self._state(score), req.t0, req.t1)
        view = View(req.width, req.height, self.orientation)
        r = self.renderer
        t = time.perf_counter()
        img = r.render(state, view)
        self._views.add(view)
        data = encode(img, self.fmt, self.quality)
        self.render_ms = (time.perf_counter() - t) * 1000
        lo, hi = state.pitch_range
        return data, {"lo": lo, "hi": hi, "plot": list(make_layout(view, state).plot),
                      "width": view.width, "height": view.height, "fmt": self.fmt,
                      "n": score.n_notes, "renderer": r.name, "ms": round(self.render_ms, 1)}

    def release(self) -> None:
        """Free the renderer's targets and overlays of every view drawn here (THR-02)."""
        views, self._views = self._views, set()
        if self._renderer is None:
            return
        for v in views:
            self._renderer.release(v)


Deliver = Callable[[EncodedFrame, Request, dict[str, Any]], None]


class _Sink(FrameSink):
    def __init__(self, deliver: Callable[[EncodedFrame], None], **kw: Any) -> None:
        super().__init__(**kw)
        self._fn = deliver

    def _deliver(self, frame: EncodedFrame) -> None:
        self._fn(frame)


class FrameFeed:
    """One widget's frames: rendered on request, cached per view, sent with backpressure.

    - A request is served from the cache when the same view (and source version) was
      rendered before, else rendered once (``renders`` counts those).
    - At most ``max_pending`` frames are unconfirmed; a request made while the page is
      behind is kept as the one ``pending`` request (a newer one replaces it: never a
      queue) and served when the page confirms. A frame unconfirmed for ``ack_timeout``
      seconds is counted lost, so a page that went away cannot block a new one.
    - :meth:`hide` drops the pending request and frees the source's targets;
      :meth:`close` also closes the sink: nothing is sent after it.
    """

    def __init__(self, source: FrameSource, deliver: Deliver, *, fmt: str = "png",
                 max_pending: int = 2, cache_size: int = 4,
                 ack_timeout: float = ACK_TIMEOUT_S) -> None:
        self.source = source
        self._send = deliver
        self.cache_size = cache_size
        self.ack_timeout = ack_timeout
        self._lock = threading.RLock()
        self._sink = _Sink(self._deliver, fmt=fmt, max_pending=max_pending)
        self._sink.on_close(lambda _s: self.source.release())
        self._cache: OrderedDict[Request, tuple[bytes, dict[str, Any]]] = OrderedDict()
        self._version: Hashable = None
        self._current: tuple[Request, dict[str, Any]] | None = None
        self._unconfirmed: deque[tuple[int, float]] = deque()
        self.pending: Request | None = None
        self.renders = 0  # source calls (the kernel work)
        self.hits = 0  # requests served from the cache
        self.deferred = 0  # requests that found the page behind
        self.expired = 0  # frames never confirmed, counted lost after ack_timeout

    @property
    def sink(self) -> FrameSink:
        return self._sink

    @property
    def closed(self) -> bool:
        return self._sink.closed

    @property
    def in_flight(self) -> int:
        """Frames sent and not yet confirmed by the page."""
        return self._sink.pending

    def request(self, req: Request) -> bool:
        """The page shows ``req``: send its frame now if the page has room; True if sent."""
        with self._lock:
            if self._sink.closed:
                return False
            self._expire()
            if not self._sink.ready:
                self.pending = req
                self.deferred += 1
                return False
            self.pending = None
            return self._serve(req)

    def ack(self, seq: int) -> bool:
        """The page has shown frame ``seq``; serve the pending request if there is one."""
        with self._lock:
            for i, (s, _) in enumerate(self._unconfirmed):
                if s == seq:
                    del self._unconfirmed[i]
                    self._sink.confirm(seq)
                    break
            else:
                return False  # unknown or already expired: nothing to confirm
            req, self.pending = self.pending, None
            if req is not None and not self._sink.closed:
                self._serve(req)
            return True

    def _expire(self) -> None:
        now = time.monotonic()
        while self._unconfirmed and now - self._unconfirmed[0][1] > self.ack_timeout:
            seq, _ = self._unconfirmed.popleft()
            self._sink.confirm(seq)
            self.expired += 1

    def _serve(self, req: Request) -> bool:
        version = self.source.version()
        if version != self._version:
            self._cache.clear()
            self._version = version
        hit = self._cache.get(req)
        if hit is None:
            hit = self.source(req)
            self.renders += 1
            if self.cache_size:
                self._cache[req] = hit
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        else:
            self.hits += 1
            self._cache.move_to_end(req)
        data, info = hit
        self._current = (req, info)
        return self._sink.offer(data, req.width, req.height, req.t0, self.renders)

    def _deliver(self, frame: EncodedFrame) -> None:
        assert self._current is not None
        self._unconfirmed.append((frame.seq, time.monotonic()))
        req, info = self._current
        self._send(frame, req, info)

    def hide(self) -> None:
        """The widget left the screen: no pending frame, targets freed (cache kept)."""
        with self._lock:
            self.pending = None
            self.source.release()

    def close(self) -> None:
        """No frame after this; targets and cache freed; idempotent."""
        with self._lock:
            self.pending = None
            self._cache.clear()
        self._sink.close()
