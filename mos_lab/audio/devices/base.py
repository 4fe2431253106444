"""The output ("sink") interface: a clocked consumer of a ring buffer.

A render thread keeps the ring ``lookahead_s`` ahead by calling ``source(block)``; the
consumer (device callback, timer thread or browser worklet) only copies from the ring
and counts underruns. ``frames_played`` (frames taken from the ring) is the audio clock.
An output that cannot open goes to state ``"error"`` with a message, never pretends.

Idle: an output that can (``can_park``: the null clock, PortAudio) *parks* while its
source says nothing will sound (``idle()``, set by the engine: transport not playing, no
voice, no queued event, effect tails gone) and every block rendered before has been
played: the consumer stops (no device callback, no clock thread) and the render thread
sleeps until ``wake()``. A kernel holding a stopped engine then uses no CPU; the ring keeps
its lookahead of silence and the clock its count, so ``play()`` starts as before.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Literal

import numpy as np

from mos_lab.audio import kernels
from mos_lab.audio.devices.ring import RingBuffer
from mos_lab.audio.memory import release_free_memory

OutputState = Literal["stopped", "waiting", "running", "suspended", "error"]
Source = Callable[[np.ndarray], None]
WAIT_S = 1.0  # the render thread's longest sleep when nothing wakes it (a safety net)


class OutputError(RuntimeError):
    """An output could not be opened or failed while running."""


class Output(ABC):
    """Base sink: state machine, ring buffer, render thread and the shared consume step."""

    can_park = False  # whether the consumer may stop while the source is idle (see above)

    def __init__(self, sample_rate: int = 48000, block: int = 256, *,
                 source: Source | None = None, lookahead_s: float = 0.1) -> None:
        self.sample_rate = int(sample_rate)
        self.block = int(block)
        # The render thread works in bigger blocks than the device: Python overhead per
        # block dominates, so fewer, larger renders keep up better when the GIL is contended.
        self.render_block = max(self.block, min(2048, int(lookahead_s * sample_rate) // 3))
        self.source = source
        self.lookahead_s = float(lookahead_s)
        cap = max(4 * self.block,
                  int(self.lookahead_s * self.sample_rate) + self.render_block + self.block)
        self.ring = RingBuffer(cap, 2)
        self._state: OutputState = "stopped"
        self.error: str | None = None
        self.frames_played = 0  # frames taken from the ring: the audio clock
        self.device_frames = 0  # frames the device consumed, underrun silence included
        self.callbacks = 0
        self.underruns = 0
        self.closed = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._render_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._discard_to = 0  # consumer drops ring frames before this index (seek, pause)
        self._refilling = False  # after a drop, the empty ring is a jump, not an underrun
        self.idle: Callable[[], bool] | None = None  # the source: "only silence until wake()"
        self.on_park: Callable[[], None] | None = None  # the source may free memory then
        self.park_error = ""  # what on_park raised last (kept, never raised in the thread)
        self.parked = False  # consumer stopped while idle (``can_park`` outputs)
        self.parks = 0  # times parked (diagnostics, tests)
        self._loud_to = 0  # ring index after the last block rendered while not idle
        self._resume = threading.Event()  # wake(): leave the parked state
        self._device_lock = threading.Lock()  # consumer open/close: stop() vs the render thread
        self._halted = False  # stop() closed the consumer: a parked render thread must not reopen

    # -- state -------------------------------------------------------------------------
    @property
    def state(self) -> OutputState:
        return self._state

    def _fail(self, message: str) -> None:
        self.error = message
        self._state = "error"

    @property
    def lookahead_frames(self) -> int:
        return int(self.lookahead_s * self.sample_rate)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Prefill, start rendering and open the consumer; on failure state is "error"."""
        with self._lock:
            if self.closed:
                raise OutputError("output is closed")
            if self._state in ("running", "waiting"):
                return
            self.error = None
            self._state = "waiting"
            self._stop.clear()
            self._halted = False
            try:
                if self.source is not None:
                    self._fill()
                    self._render_thread = threading.Thread(
                        target=self._render_loop, name=f"apollo-render-{type(self).__name__}",
                        daemon=True)
                    self._render_thread.start()
                with self._device_lock:  # a render thread parking waits for the open
                    self._open()
            except Exception as exc:
                self._stop_render()
                self._fail(f"{type(self).__name__} could not start: {exc}")

    def stop(self) -> None:
        """Stop consuming and rendering; buffered audio is kept, the clock is kept."""
        with self._lock:
            with self._device_lock:
                self._halted = True
                self._close_device()
                self.parked = False
            self._stop_render()
            if self._state != "error":
                self._state = "stopped"

    def suspend(self) -> None:
        """Keep the device open but output silence and hold the clock (like a browser)."""
        if self._state in ("running", "waiting"):
            self._state = "suspended"

    def resume(self) -> None:
        if self._state == "suspended":
            self._state = "running"

    def close(self) -> None:
        """Stop and release everything; the output cannot be started again."""
        with self._lock:  # before stopping: a start racing this (an engine's late boot
            self.closed = True  # thread) either ran first and is stopped, or is refused
        self.stop()

    def __enter__(self) -> Output:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- subclass hooks ----------------------------------------------------------------
    @abstractmethod
    def _open(self) -> None:
        """Open the consumer (device stream or clock thread); raise on failure."""

    @abstractmethod
    def _close_device(self) -> None:
        """Close the consumer; must be safe to call when not open."""

    def _park_device(self) -> None:
        """Stop the consumer while idle (default: close it); ``_unpark_device`` restarts it."""
        self._close_device()

    def _unpark_device(self) -> None:
        self._open()

    # -- idle ---------------------------------------------------------------------------
    def wake(self) -> None:
        """Something will sound (play, a live note): a parked output restarts its consumer."""
        self._resume.set()

    def _parkable(self) -> bool:
        idle = self.idle
        return (self.can_park and idle is not None and self._state == "running"
                and not self._stop.is_set() and self.ring.frames_read >= self._loud_to
                and idle())

    def _park(self) -> None:
        """Render thread: stop the consumer until ``wake()`` (or stop), then restart it."""
        self._resume.clear()
        if not self._parkable():  # checked after the clear, so a wake() in between counts
            return
        with self._device_lock:
            if self._halted:
                return
            self._park_device()
            self.parked = True
            self.parks += 1
        on_park = self.on_park
        if on_park is not None:
            try:
                on_park()
            except Exception as exc:  # freeing memory must never stop the output
                self.park_error = f"on_park: {type(exc).__name__}: {exc}"
        release_free_memory()  # idle: the heap's free pages go back to the system
        self._resume.wait()
        with self._device_lock:
            if self._halted or not self.parked:
                return
            self.parked = False
            try:
                self._unpark_device()
            except Exception as exc:
                self._fail(f"{type(self).__name__} could not restart: {exc}")

    # -- shared paths ------------------------------------------------------------------
    def _consume(self, out: np.ndarray) -> None:
        """The only work of a device callback: copy from the ring and count underruns."""
        self.callbacks += 1
        frames = len(out)
        self.device_frames += frames
        if self._state == "suspended":
            out.fill(0.0)
            return
        if self._discard_to > self.ring.frames_read:
            self.ring.skip_to(self._discard_to)
            self._refilling = True
        got = self.ring.read(out)
        self.frames_played += got
        if got < frames and self._state == "running" and not self._refilling:
            self.underruns += 1
        if self._refilling and self.ring.available >= self.lookahead_frames // 2:
            self._refilling = False
        if self._state == "waiting":
            self._state = "running"
        self._wake.set()

    def discard_until(self, ring_index: int) -> None:
        """Drop audio rendered ahead, before ``ring_index``, at the next callback.

        The engine calls this after a seek or pause so the old audio is not heard; the
        drop happens on the consumer's side, so producer and consumer never race.
        """
        self._discard_to = max(self._discard_to, int(ring_index))
        self._wake.set()

    def _fill(self) -> None:
        """Render blocks from ``source`` until the ring holds the lookahead."""
        assert self.source is not None
        n = self.render_block
        buf = np.zeros((n, 2), dtype=np.float32)
        target = min(self.ring.capacity, self.lookahead_frames + n)
        idle = self.idle if self.can_park else None
        while self.ring.available + n <= target and not self._stop.is_set():
            if kernels.ready():  # zeroing without giving the GIL away (see ring.py)
                kernels.zero_frames(buf, 0, n)
            else:
                buf.fill(0.0)
            quiet = idle is not None and idle()  # asked before: this block is silence
            self.source(buf)
            self.ring.write(buf)
            if not quiet:
                self._loud_to = self.ring.frames_written

    def _render_loop(self) -> None:
        # Woken by the consumer after each read (and by jumps, wake() and stop): no polling,
        # so a consumer that reads nothing (a locked browser page) costs no CPU here.
        while not self._stop.is_set():
            try:
                self._fill()
            except Exception as exc:  # reported, never raised in the thread
                self._fail(f"render source failed: {type(exc).__name__}: {exc}")
                return
            if self._parkable():
                self._park()
                continue
            self._wake.wait(WAIT_S)
            self._wake.clear()

    def _stop_render(self) -> None:
        self._stop.set()
        self._wake.set()
        self._resume.set()
        t = self._render_thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5.0)
        self._render_thread = None

    def stats(self) -> dict[str, object]:
        """Counters for diagnostics (``Session.doctor``)."""
        return {"state": self._state, "error": self.error, "frames_played": self.frames_played,
                "device_frames": self.device_frames, "callbacks": self.callbacks,
                "underruns": self.underruns, "buffered": self.ring.available,
                "parked": self.parked}
