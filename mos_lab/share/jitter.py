"""A jitter buffer for shared-session events: sender timestamps, not arrival times, decide.

Each peer stamps events with its own clock. The buffer estimates the offset between the
sender's clock and ours from the fastest arrivals seen (the minimum of arrival - sent over
a window), then releases every event at ``sent + offset + delay``, in sender order. An
event arriving after its release time is handled by rule: played at once and marked late
(up to ``max_late_s``) or dropped and counted, never silently.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(order=True)
class Timed:
    """One event on its way out: ``due`` on our clock, ``seq`` keeps the sender's order."""

    due: float
    seq: int
    sent: float = field(compare=False)
    payload: Any = field(compare=False)
    late: bool = field(default=False, compare=False)


class JitterBuffer:
    """Re-times events from one remote peer onto the local clock with a fixed delay."""

    def __init__(self, delay_s: float = 0.08, window: int = 256, max_late_s: float = 0.05,
                 max_pending: int = 10_000) -> None:
        if delay_s <= 0:
            raise ValueError(f"delay_s: {delay_s} must be positive")
        self.delay_s = delay_s
        self.max_late_s = max_late_s
        self.max_pending = max_pending
        self._offsets: deque[float] = deque(maxlen=window)
        self._heap: list[Timed] = []
        self._seq = 0
        self.late = 0
        self.dropped = 0

    @property
    def offset(self) -> float:
        """Estimated (our clock - sender clock) for the fastest path seen."""
        return min(self._offsets) if self._offsets else 0.0

    def push(self, sent: float, payload: Any, now: float) -> None:
        """An event stamped ``sent`` (sender clock) arrived at ``now`` (our clock)."""
        self._offsets.append(now - sent)
        due = sent + self.offset + self.delay_s
        late = due < now
        if late and now - due > self.max_late_s:
            self.dropped += 1
            return
        if len(self._heap) >= self.max_pending:
            self.dropped += 1
            return
        self.late += late
        self._seq += 1
        heapq.heappush(self._heap, Timed(max(due, now) if late else due, self._seq, sent,
                                         payload, late))

    def pop_due(self, now: float) -> list[Timed]:
        """Events whose time has come, in release order."""
        out = []
        while self._heap and self._heap[0].due <= now:
            out.append(heapq.heappop(self._heap))
        return out

    def __len__(self) -> int:
        return len(self._heap)
