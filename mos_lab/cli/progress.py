"""A small terminal progress bar (only drawn when stderr is a terminal)."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class ProgressBar:
    """``bar(fraction, detail)`` redraws at most 10 times a second; ``close()`` ends the line.

    Calls may come from several threads (video frames and audio blocks of one export).
    """

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = self.stream.isatty()
        self._last = 0.0
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._drawn = False

    def __call__(self, fraction: float, detail: str = "") -> None:
        if not self.enabled:
            return
        with self._lock:
            now = time.monotonic()
            if now - self._last < 0.1 and fraction < 1.0:
                return
            self._last = now
            done = int(self.width * min(max(fraction, 0.0), 1.0))
            elapsed = now - self._start
            text = (f"\r{self.label} [{'#' * done}{'.' * (self.width - done)}] "
                    f"{fraction * 100:5.1f}% {elapsed:5.1f} s" + (f" {detail}" if detail else ""))
            self.stream.write(text + "\x1b[K")  # erase what a longer earlier line left
            self.stream.flush()
            self._drawn = True

    def close(self) -> None:
        """End the bar's line (once, and only if something was drawn)."""
        with self._lock:
            if self.enabled and self._drawn:
                self.stream.write("\n")
                self.stream.flush()
            self._drawn = False
