"""NullOutput: a silent sink clocked by a thread, for tests and headless sessions."""

from __future__ import annotations

import threading
import time

import numpy as np

from mos_lab.audio.devices.base import Output, Source


class NullOutput(Output):
    """Consumes one block every ``block / sample_rate / speed`` seconds, like a device.

    ``speed`` > 1 runs the clock faster than real time. After a stall longer than
    ``max_lag_s`` the clock re-anchors instead of bursting to catch up. While the source
    is idle the clock thread ends (parked) and a new one starts on ``wake()``.
    """

    can_park = True

    def __init__(self, sample_rate: int = 48000, block: int = 256, *,
                 source: Source | None = None, lookahead_s: float = 0.1, speed: float = 1.0,
                 max_lag_s: float = 0.25, keep: bool = False) -> None:
        super().__init__(sample_rate, block, source=source, lookahead_s=lookahead_s)
        self.speed = float(speed)
        self.max_lag_s = max_lag_s
        self.keep = keep  # keep consumed audio in ``captured`` (tests)
        self.captured: list[np.ndarray] = []
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()

    def _open(self) -> None:
        self._halt.clear()
        self._thread = threading.Thread(target=self._clock, name="apollo-null-clock",
                                        daemon=True)
        self._thread.start()

    def _close_device(self) -> None:
        self._halt.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5.0)
        self._thread = None

    def _clock(self) -> None:
        period = self.block / self.sample_rate / self.speed
        buf = np.zeros((self.block, 2), dtype=np.float32)
        nxt = time.monotonic()
        while not self._halt.is_set():
            self._consume(buf)
            if self.keep:
                self.captured.append(buf.copy())
            nxt += period
            delay = nxt - time.monotonic()
            if delay < -self.max_lag_s:
                nxt = time.monotonic()  # re-anchor after a stall
            elif delay > 0:
                self._halt.wait(delay)
