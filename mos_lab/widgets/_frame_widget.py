"""FrameWidget: a MosWidget that shows images rendered in the kernel, on the page's terms.

The page asks (``view``: the time window and pixel size it shows) only while the widget
is visible, and confirms each frame once decoded (``frame_ack``); the kernel answers
through a :class:`FrameFeed` (cache per view, at most two unconfirmed frames, the latest
refused request kept). A frame is three traits set in one message: ``frame`` (PNG/JPEG
bytes, sent as a binary buffer), ``frame_window`` ([t0, t1]) and ``frame_info`` (seq,
pixel size, plot rectangle and pitch rows, so the page can draw the playhead and
highlights over it). Hidden: targets freed; closed: the feed is closed with the widget.
"""

from __future__ import annotations

from typing import Any, ClassVar

import traitlets as t

from mos_lab.theater.sinks import EncodedFrame
from mos_lab.widgets._base import MosWidget
from mos_lab.widgets._messages import Arg, Spec
from mos_lab.widgets._theater_frames import FrameFeed, Request

FRAME_COMMANDS: dict[str, Spec] = {
    "view": {"t0": Arg(float, -1e7, 1e7), "t1": Arg(float, -1e7, 1e7),
             "width": Arg(int, 1, 16384), "height": Arg(int, 1, 16384)},
    "frame_ack": {"seq": Arg(int, 0, 2**53)},
}


class FrameWidget(MosWidget):
    """Base of widgets fed with kernel frames; subclasses say where frames come from."""

    _commands: ClassVar[dict[str, Spec]] = dict(FRAME_COMMANDS)

    frame = t.Bytes(b"").tag(sync=True)
    frame_window = t.List(t.Float()).tag(sync=True)  # [t0, t1] that ``frame`` shows
    frame_info = t.Dict().tag(sync=True)  # seq, width, height, plot, lo, hi, renderer

    def __init__(self, score: Any = None, **kwargs: Any) -> None:
        super().__init__(score, **kwargs)
        self.frames_sent = 0
        self._feed: FrameFeed | None = None

    # -- hooks ---------------------------------------------------------------------------
    def _make_feed(self) -> FrameFeed | None:
        """The feed for this widget's current settings, or None (no kernel frames)."""
        return None

    # -- the feed ------------------------------------------------------------------------
    @property
    def feed(self) -> FrameFeed | None:
        """The frame feed, once a page asked for a frame (its counters: renders, hits...)."""
        return self._feed

    def _frames(self) -> FrameFeed | None:
        with self._lock:
            if self._feed is None and not self.closed:
                self._feed = self._make_feed()
            return self._feed

    def _reset_frames(self) -> None:
        """Close the feed (its source changed kind); the next request makes a new one."""
        with self._lock:
            feed, self._feed = self._feed, None
        if feed is not None:
            feed.close()

    def _close_children(self) -> None:
        """Closing the widget closes its feed: no frame after it, targets freed.

        The feed is closed here rather than owned by the Lifecycle as a stream: it holds
        no thread, timer or subscription, and ``doctor()``'s stream count stays the
        count of audio links.
        """
        super()._close_children()
        feed = self._feed
        if feed is not None:
            feed.close()

    def _deliver_frame(self, frame: EncodedFrame, req: Request, info: dict[str, Any]) -> None:
        self.update(frame=frame.data, frame_window=[req.t0, req.t1],
                    frame_info={**info, "seq": frame.seq, "width": req.width,
                                "height": req.height})
        self.frames_sent += 1

    # -- page -> kernel --------------------------------------------------------------------
    def _cmd_view(self, t0: float, t1: float, width: int, height: int) -> None:
        """The page shows [t0, t1] at width x height: send that frame (while visible)."""
        if t1 <= t0:
            raise ValueError(f"view: t1 {t1} must be after t0 {t0}")
        if not self.visible:
            return
        feed = self._frames()
        if feed is not None:
            feed.request(Request(t0, t1, width, height))

    def _cmd_frame_ack(self, seq: int) -> None:
        """The page decoded frame ``seq``: room for the next one."""
        if self._feed is not None:
            self._feed.ack(seq)

    def _on_visible(self, change: dict[str, Any]) -> None:
        super()._on_visible(change)
        if not change["new"] and self._feed is not None:
            self._feed.hide()
