"""A small terminal progress bar (only drawn when stderr is a terminal)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """``bar(fraction)`` redraws at most 10 times a second; ``close()`` ends the line."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = self.stream.isatty()
        self._last = 0.0
        self._start = time.monotonic()

    def __call__(self, fraction: float) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and fraction < 1.0:
            return
        self._last = now
        done = int(self.width * min(max(fraction, 0.0), 1.0))
        elapsed = now - self._start
        self.stream.write(f"\r{self.label} [{'#' * done}{'.' * (self.width - done)}] "
                          f"{fraction * 100:5.1f}% {elapsed:5.1f} s")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
