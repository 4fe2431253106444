"""BrowserOutput: the engine's rendered PCM streamed to an AudioWorklet in a web page.

The kernel may have no speakers (remote Jupyter, Binder): the browser does. The render
thread fills the ring exactly as for a device; a sender thread takes blocks from the ring
and hands them to a *link* (a widget's ``send``) with their ring index and a timecode,
keeping at most ``buffer_s`` of audio unplayed in the browser (backpressure: the browser
acknowledges what it played). The worklet queues the blocks (a jitter buffer) and reports
the ring index it has played up to; that count is this output's clock, so when the
browser is the output, the browser's playback *is* the engine's position.

Autoplay: browsers start audio suspended until a user gesture. The output starts in state
"suspended" and only runs once a page reports ``{"type": "unlocked"}``; the engine's state
reads "waiting_for_audio" meanwhile, and a ``play()`` made before is kept, not lost.

Idle (issue 18): while the engine is silent and the page has played every loud block, the
output parks like the null clock: the sender thread ends and the render thread sleeps, so a
stopped kernel streams nothing and polls nothing; ``wake()`` (play, a live note) starts a
new sender, and a jump made meanwhile is flushed first. The page is not told: its worklet
plays out the silence it holds, then reports ``running: false`` (the page's clock falls
back to the kernel's, which is stopped) and keeps acknowledging its played index, so the
stream looks paused, not dead. Running dry after a park is counted by the worklet as one
underrun; acks whose played index shows no audio since the park (``<=`` the start of the
first block sent after waking) do not add those to ``browser_underruns``.

Messages from the page (``handle``)::

    {"type": "unlocked", "sample_rate": 48000}   the AudioContext runs (after a click)
    {"type": "ack", "played": ring_index, "underruns": n}
    {"type": "suspended"}                         the page lost its audio (tab closed ...)

Messages to the page (``link(header, buffers)``)::

    {"type": "pcm", "start": ring_index, "frames": n, "channels": 2, "encoding": "f32"|"s16",
     "pos": score_seconds_at_start, "rate": score_seconds_per_frame}   + one binary buffer
    {"type": "flush", "before": ring_index}       drop queued audio before this index
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from mos_lab.audio.devices.base import WAIT_S, Output, Source
from mos_lab.audio.devices.ring import RingBuffer

Link = Callable[[dict[str, Any], list[bytes]], None]
Timecode = Callable[[int, int], tuple[float, float]]
Encoding = Literal["float32", "int16"]


class _PlayedRing(RingBuffer):
    """A ring whose read pointer is what was *sent*, while ``frames_read`` (the clock) is
    what the browser *played*: the engine reads the heard position from ``frames_read``."""

    def __init__(self, capacity: int, channels: int = 2) -> None:
        super().__init__(capacity, channels)
        self.played = 0  # ring index the browser has played up to (monotonic)

    @property
    def frames_read(self) -> int:
        return min(self.played, self._r)

    @property
    def frames_sent(self) -> int:
        return self._r


class BrowserOutput(Output):
    """An output whose consumer is an AudioWorklet in the browser, reached through a link.

    Examples
    --------
    >>> out = BrowserOutput(48_000)
    >>> out.state
    'stopped'
    >>> out.handle({"type": "ack", "played": "oops"})   # malformed: refused, never raises
    'ack.played: expected a non-negative int'
    """

    can_park = True  # the sender thread ends while the engine is silent (see above)

    def __init__(self, sample_rate: int = 48_000, block: int = 256, *,
                 source: Source | None = None, lookahead_s: float = 0.1, chunk: int = 2048,
                 buffer_s: float = 0.25, encoding: Encoding = "float32") -> None:
        super().__init__(sample_rate, block, source=source, lookahead_s=lookahead_s)
        if encoding not in ("float32", "int16"):
            raise ValueError(f"encoding: {encoding!r} is not 'float32' or 'int16'")
        self.chunk = int(chunk)
        self.buffer_s = float(buffer_s)
        self.encoding: Encoding = encoding
        self.ring: _PlayedRing = _PlayedRing(max(self.ring.capacity, 2 * self.chunk), 2)
        self.timecode: Timecode | None = None  # ring index, frames -> (score s, s per frame)
        self._link: Link | None = None
        self._link_owner: str | None = None
        self.unlocked = False
        self.browser_rate = 0  # the page's AudioContext sample rate
        self.blocks_sent = 0
        self.frames_acked = 0
        self.browser_underruns = 0  # the page's underruns, less its run-outs while parked
        self._page_under = 0  # the highest underrun count the page reported
        self._idle_under = 0  # of those, the ones from running dry after a park
        self._draining = False  # parked, or woken with nothing sent yet
        self._drain_to = -1  # acks played <= this: the page has heard nothing since a park
        self.last_ack = 0.0  # monotonic time of the last acknowledgement
        self._flushed_to = 0
        self._cond = threading.Condition()
        self._sender: threading.Thread | None = None
        self._halt = threading.Event()

    # -- the link (a widget) -----------------------------------------------------------
    def attach(self, link: Link, owner: str = "") -> None:
        """Send audio through ``link`` from now on (replaces any previous link)."""
        with self._cond:
            self._link, self._link_owner = link, owner or getattr(link, "__qualname__", "link")
            self._cond.notify_all()

    def detach(self, link: Link | None = None) -> None:
        """Stop sending (to ``link`` only, if given); the output suspends until re-unlocked."""
        with self._cond:
            if link is not None and self._link != link:
                return
            self._link, self._link_owner = None, None
            self.unlocked = False
            self.suspend()
            self._cond.notify_all()

    @property
    def attached(self) -> str | None:
        """Who receives the audio now (None when no page is linked)."""
        return self._link_owner

    # -- messages from the page --------------------------------------------------------
    def handle(self, msg: Any) -> str | None:
        """Apply one message from the page; returns an error text for a malformed one."""
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            return "message: expected an object with a string 'type'"
        kind = msg["type"]
        if kind == "ack":
            played, under = msg.get("played"), msg.get("underruns", 0)
            if not isinstance(played, int) or not _count(played):
                return "ack.played: expected a non-negative int"
            if not _count(under):
                return "ack.underruns: expected a non-negative int"
            with self._cond:
                self.ring.played = max(self.ring.played, min(int(played), self.ring.frames_sent))
                self.frames_acked = self.ring.played
                if int(under) > self._page_under:
                    if self._draining or played <= self._drain_to:  # silence ran out idle
                        self._idle_under += int(under) - self._page_under
                    self._page_under = int(under)
                self.browser_underruns = self._page_under - self._idle_under
                self.last_ack = time.monotonic()
                self._cond.notify_all()
            self._wake.set()
            return None
        if kind == "unlocked":
            rate = msg.get("sample_rate", self.sample_rate)
            if not _count(rate) or not 8000 <= int(rate) <= 384_000:
                return "unlocked.sample_rate: expected an int in 8000..384000"
            with self._cond:
                self.unlocked = True
                self.browser_rate = int(rate)
                self.last_ack = time.monotonic()
                if self._state in ("suspended", "waiting"):
                    self._state = "running"
                self._cond.notify_all()
            self._wake.set()
            return None
        if kind == "suspended":
            with self._cond:
                self.unlocked = False
                self.suspend()
            return None
        return f"message.type: {kind[:40]!r} is not ack, unlocked or suspended"

    # -- Output hooks ------------------------------------------------------------------
    def _open(self) -> None:
        if not self.unlocked:
            self._state = "suspended"
        self._halt.clear()
        self._sender = threading.Thread(target=self._send_loop, name="apollo-browser-send",
                                        daemon=True)
        self._sender.start()

    def _close_device(self) -> None:
        self._halt.set()
        with self._cond:
            self._cond.notify_all()
        t = self._sender
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5.0)
        self._sender = None

    def discard_until(self, ring_index: int) -> None:
        """Drop audio before ``ring_index`` here (unsent) and in the page (queued)."""
        super().discard_until(ring_index)
        with self._cond:
            self._cond.notify_all()

    def resume(self) -> None:
        if self.unlocked:
            super().resume()
            with self._cond:
                self._cond.notify_all()

    def _park_device(self) -> None:
        """Idle: end the sender (nothing to stream, no polling); the page keeps its clock."""
        with self._cond:
            self._draining = True
        self._close_device()

    def _unpark_device(self) -> None:
        with self._cond:  # the page has played none of what comes now: extrapolate from
            if self.last_ack:  # here, not from its last ack (an idle page acks rarely)
                self.last_ack = time.monotonic()
        self._open()

    # -- the sender --------------------------------------------------------------------
    @property
    def buffer_frames(self) -> int:
        return int(self.buffer_s * self.sample_rate)

    def _credit(self) -> int:
        """Frames the page may still take: its buffer target minus what it holds unplayed.

        The page's played index is extrapolated from the last ack at the sample rate, so a
        kernel whose main thread is busy (acks waiting) still streams; never beyond sent.
        """
        ring = self.ring
        est = ring.played
        if self.last_ack:
            ahead = int((time.monotonic() - self.last_ack) * self.sample_rate)
            est = min(ring.frames_sent, ring.played + min(ahead, self.buffer_frames))
        return self.buffer_frames - (ring.frames_sent - est)

    def _send_loop(self) -> None:
        buf = np.zeros((self.chunk, 2), dtype=np.float32)
        while not self._halt.is_set():
            with self._cond:
                link = self._link
                ready = link is not None and self._state == "running"
                if link is not None and ready and self._discard_to > self._flushed_to:
                    self._flushed_to = self._discard_to
                    self._emit(link, {"type": "flush", "before": self._discard_to}, [])
                    self.ring.played = max(self.ring.played, self._discard_to)
                if not ready and self._state == "suspended":
                    self._drop_held()
                n = min(self._credit(), self.chunk) if ready else 0
                if n < self.chunk // 4 or self.ring.available <= 0:
                    # A locked or absent page: woken by unlock, attach, resume, a jump.
                    self._cond.wait(0.005 if ready else WAIT_S)
                    continue
            if link is not None:
                self._send_block(link, buf[: min(n, self.ring.available)])

    def _drop_held(self) -> None:
        """While suspended, drop what a jump discarded at once (caller holds ``_cond``).

        Nothing is heard while the page is locked, so audio before the discard point never
        will be: the clock moves to that point (a seek made before the click is where the
        engine says it is, and where a pause or tempo change resumes), and the freed ring
        lets the renderer apply the jump now instead of after the click.
        """
        ring = self.ring
        if self._discard_to > ring.frames_sent:
            ring.skip_to(self._discard_to)
            ring.played = max(ring.played, ring.frames_sent)
            self._wake.set()

    def _send_block(self, link: Link, out: np.ndarray) -> None:
        played0 = self.frames_played
        self._consume(out)  # shared accounting: discard, ring read, wake the renderer
        got = self.frames_played - played0
        start = self.ring.frames_sent - got
        if got <= 0:
            return
        pos, rate = self.timecode(start, got) if self.timecode is not None else (0.0, 0.0)
        data = out[:got]
        if self.encoding == "int16":
            payload = (np.clip(data, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        else:
            payload = np.ascontiguousarray(data, dtype="<f4").tobytes()
        header = {"type": "pcm", "start": start, "frames": got, "channels": 2,
                  "encoding": "s16" if self.encoding == "int16" else "f32",
                  "pos": float(pos), "rate": float(rate), "sample_rate": self.sample_rate}
        if self._emit(link, header, [payload]):
            self.blocks_sent += 1
            if self._draining:  # first audio after a park: later run-outs are underruns
                with self._cond:
                    self._drain_to, self._draining = start, False

    def _emit(self, link: Link, header: dict[str, Any], buffers: list[bytes]) -> bool:
        try:
            link(header, buffers)
            return True
        except Exception as exc:  # a broken page must not kill the audio thread
            self.error = f"browser link failed: {type(exc).__name__}: {exc}"
            return False

    def stats(self) -> dict[str, object]:
        st = super().stats()
        st.update(frames_sent=self.ring.frames_sent, frames_acked=self.frames_acked,
                  blocks_sent=self.blocks_sent, browser_underruns=self.browser_underruns,
                  idle_underruns=self._idle_under,
                  unlocked=self.unlocked, browser_rate=self.browser_rate,
                  attached=self._link_owner, encoding=self.encoding)
        return st


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0
