"""Frame sinks: where encoded frames go (a notebook canvas, a test, a stream), with backpressure.

A sink accepts a frame only while fewer than ``max_pending`` (2) frames are unconfirmed;
its peer calls ``confirm()`` when a frame has been shown. A full sink makes the theater
skip rendering for it, so frames are never queued without bound. A closed sink accepts
nothing, and the theater frees the targets of its view (THR-02). A widget (issue 5,
section 2) implements ``_deliver`` to send ``frame.data`` as a binary buffer and calls
``confirm`` from the browser's acknowledgement.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One encoded image and what it shows."""

    data: bytes
    fmt: str  # "png" or "jpeg"
    width: int
    height: int
    playhead: float  # seconds, the scene time the frame shows
    revision: int  # scene revision it was rendered from
    seq: int  # per-sink sequence number, from 1


class FrameSink:
    """Base sink: locking, backpressure and close; subclasses fill in ``_deliver``."""

    def __init__(self, *, fmt: str = "jpeg", quality: int = 80, max_pending: int = 2) -> None:
        if fmt not in ("png", "jpeg"):
            raise ValueError(f"fmt: {fmt!r} is not 'png' or 'jpeg'")
        if max_pending < 1:
            raise ValueError(f"max_pending: {max_pending} must be at least 1")
        self.fmt, self.quality, self.max_pending = fmt, quality, max_pending
        self._lock = threading.Lock()
        self._pending = 0
        self._seq = 0
        self._closed = False
        self._on_close: list[Callable[[FrameSink], None]] = []
        self.sent = 0
        self.dropped = 0  # offers refused because the peer was behind

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def ready(self) -> bool:
        """Whether a frame offered now would be accepted."""
        return not self._closed and self._pending < self.max_pending

    @property
    def pending(self) -> int:
        return self._pending

    def offer(self, data: bytes, width: int, height: int, playhead: float, revision: int) -> bool:
        """Deliver a frame if the peer has room; False (and nothing sent) otherwise."""
        with self._lock:
            if self._closed or self._pending >= self.max_pending:
                self.dropped += not self._closed
                return False
            self._pending += 1
            self._seq += 1
            frame = EncodedFrame(data, self.fmt, width, height, playhead, revision, self._seq)
        try:
            self._deliver(frame)
        except Exception:
            self.close()  # a peer that cannot take frames is gone
            return False
        self.sent += 1
        return True

    def confirm(self, seq: int | None = None) -> None:
        """The peer has shown a frame (``seq`` is informative)."""
        with self._lock:
            self._pending = max(0, self._pending - 1)

    def on_close(self, fn: Callable[[FrameSink], None]) -> None:
        """Call ``fn(sink)`` once when the sink closes (the theater frees targets there)."""
        with self._lock:
            if not self._closed:
                self._on_close.append(fn)
                return
        fn(self)

    def close(self) -> None:
        """Stop frames for good; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            callbacks, self._on_close = self._on_close, []
        for fn in callbacks:
            fn(self)

    def __enter__(self) -> FrameSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _deliver(self, frame: EncodedFrame) -> None:
        raise NotImplementedError


class MemorySink(FrameSink):
    """Keeps delivered frames in a list (tests, notebooks); ``auto_confirm`` acks at once."""

    def __init__(self, *, auto_confirm: bool = False, keep: int = 8, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.auto_confirm = auto_confirm
        self.keep = keep
        self.frames: list[EncodedFrame] = []

    def _deliver(self, frame: EncodedFrame) -> None:
        self.frames = [*self.frames[-(self.keep - 1):], frame] if self.keep > 1 else [frame]
        if self.auto_confirm:
            self.confirm(frame.seq)


class CallbackSink(FrameSink):
    """Hands each frame to ``fn(frame)``; the peer confirms later via ``confirm()``."""

    def __init__(self, fn: Callable[[EncodedFrame], None], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._fn = fn

    def _deliver(self, frame: EncodedFrame) -> None:
        self._fn(frame)
