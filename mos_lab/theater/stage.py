"""The Theater: one scene, one renderer, several views and the sinks fed from them.

Every publish takes ONE scene snapshot and renders all views from it, so landscape and
portrait always show the same playhead (THR-09). A sink gets a frame only when it has
room (backpressure) and only when the scene changed since its last frame; a closed sink
is detached and its view's targets freed (THR-02).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from mos_lab.score import Score
from mos_lab.theater.encode import encode
from mos_lab.theater.render import Prefer, Renderer, open_renderer
from mos_lab.theater.scene import Scene, SceneState, View
from mos_lab.theater.sinks import FrameSink


@dataclass
class _Attachment:
    sink: FrameSink
    view: View
    last_revision: int = -1


class PositionSource(Protocol):
    """What ``Theater.follow`` reads: an engine's heard position in seconds."""

    @property
    def position(self) -> float: ...


class Theater:
    """A scene rendered to views and sinks.

    Examples
    --------
    >>> import mos_lab
    >>> from mos_lab.theater import Theater, View, MemorySink
    >>> th = Theater(mos_lab.Score.from_notes([(0, 480, 60, 90)]), prefer="cpu")
    >>> th.scene.set_playhead(0.5)
    >>> th.render(View(320, 180)).shape
    (180, 320, 4)
    >>> sink = th.attach(MemorySink(auto_confirm=True), View(320, 180))
    >>> th.publish()
    1
    >>> th.close()
    """

    def __init__(self, score: Score | Scene, renderer: Renderer | None = None, *,
                 prefer: Prefer = "auto", timeout: float = 10.0) -> None:
        self.scene = score if isinstance(score, Scene) else Scene(score)
        self.renderer: Renderer = renderer or open_renderer(prefer, timeout=timeout)
        self._own_renderer = renderer is None
        self._lock = threading.RLock()
        self._attached: list[_Attachment] = []
        self._follow: tuple[threading.Thread, threading.Event] | None = None
        self.follow_errors = 0  # positions or frames the follow thread could not get

    @property
    def active_renderer(self) -> str:
        """Which renderer draws, and on what (e.g. ``"wgpu: llvmpipe ... (CPU, Vulkan)"``)."""
        return f"{self.renderer.name}: {self.renderer.description}"

    def render(self, view: View, state: SceneState | None = None) -> np.ndarray:
        """One RGBA frame of ``view`` (the current scene unless a snapshot is given)."""
        with self._lock:
            return self.renderer.render(state or self.scene.snapshot(), view)

    def render_views(self, views: list[View]) -> tuple[SceneState, list[np.ndarray]]:
        """All ``views`` from one snapshot: the same playhead in every image."""
        with self._lock:
            state = self.scene.snapshot()
            return state, [self.renderer.render(state, v) for v in views]

    def attach(self, sink: FrameSink, view: View) -> FrameSink:
        """Feed ``sink`` with frames of ``view`` on each ``publish()``."""
        with self._lock:
            att = _Attachment(sink, view)
            self._attached.append(att)
        sink.on_close(lambda s: self._detach(s))
        return sink

    def _detach(self, sink: FrameSink) -> None:
        with self._lock:
            gone = [a for a in self._attached if a.sink is sink]
            self._attached = [a for a in self._attached if a.sink is not sink]
            still = {a.view for a in self._attached}
            for a in gone:
                if a.view not in still:
                    self.renderer.release(a.view)

    @property
    def sinks(self) -> list[FrameSink]:
        return [a.sink for a in self._attached]

    def publish(self) -> int:
        """Render and offer a frame to every sink that has room and an outdated frame.

        Returns how many frames were delivered. Views are rendered once per call, from
        one snapshot, however many sinks share them.
        """
        with self._lock:
            state = self.scene.snapshot()
            cache: dict[View, np.ndarray] = {}
            encoded: dict[tuple[View, str, int], bytes] = {}
            sent = 0
            for a in list(self._attached):
                s = a.sink
                if s.closed or not s.ready or a.last_revision == state.revision:
                    continue
                if a.view not in cache:
                    cache[a.view] = self.renderer.render(state, a.view)
                key = (a.view, s.fmt, s.quality)
                if key not in encoded:
                    encoded[key] = encode(cache[a.view], s.fmt, s.quality)
                if s.offer(encoded[key], a.view.width, a.view.height, state.playhead,
                           state.revision):
                    a.last_revision = state.revision
                    sent += 1
            return sent

    def follow(self, source: PositionSource, fps: float = 30.0, *, paged: bool = True) -> None:
        """Keep the playhead on ``source.position`` (an engine's heard position) and
        publish at ``fps`` from a thread of this theater, until ``unfollow()`` or
        ``close()``: what streams a playing piece to OBS. Nothing is rendered while the
        position stands still (paused, stopped). ``paged`` turns pages instead of
        scrolling, so that frames are composed from the page's layers (cheap).
        """
        if not (0 < fps <= 240):
            raise ValueError(f"fps: {fps} is not in (0, 240]")
        self.unfollow()
        self.scene.set_paging(paged)
        stop = threading.Event()

        def run() -> None:
            period, last = 1.0 / fps, None
            due = time.monotonic()
            while not stop.wait(max(0.0, due - time.monotonic())):
                due = max(due + period, time.monotonic() - period)  # skip missed ticks
                try:
                    pos = float(source.position)
                    if pos != last:
                        self.scene.set_playhead(pos)
                        last = pos
                    self.publish()
                except Exception:  # a closing engine or sink: count it, keep following
                    self.follow_errors += 1

        t = threading.Thread(target=run, name="mos-lab-theater-follow", daemon=True)
        self._follow = (t, stop)
        t.start()

    def unfollow(self) -> None:
        """Stop following (the thread is joined)."""
        f, self._follow = self._follow, None
        if f is not None:
            f[1].set()
            if f[0] is not threading.current_thread():
                f[0].join(5.0)

    @property
    def following(self) -> bool:
        return self._follow is not None and self._follow[0].is_alive()

    def close(self) -> None:
        """Stop following, close every sink and, if this theater made it, the renderer."""
        self.unfollow()
        for s in self.sinks:
            s.close()
        if self._own_renderer:
            self.renderer.close()

    def __enter__(self) -> Theater:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
