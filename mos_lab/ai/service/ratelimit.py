"""Client-side rate limiting: a token bucket with a bounded, fair waiting line.

Why on the client: a burst of requests (a loop in a notebook cell, 100 threads) must be
spaced out before it reaches a remote API, or the API throttles everyone (RKY-01, INT-02).
Callers beyond ``max_waiting`` get :class:`RateLimitedError` at once instead of piling up.
Waiters are served in arrival order (a ticket lock), so no caller starves.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

from mos_lab.ai.core.errors import RateLimitedError


class RateLimiter:
    """``rate`` requests per second on average, bursts up to ``burst``.

    >>> rl = RateLimiter(rate=100, burst=2)
    >>> [rl.acquire() < 0.01 for _ in range(2)]     # the burst passes at once
    [True, True]
    """

    def __init__(self, rate: float, burst: int = 1, *, max_waiting: int = 1000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = float(rate)
        self.burst = int(burst)
        self.max_waiting = max_waiting
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._cond = threading.Condition()
        self._tickets = itertools.count()
        self._serving = 0
        self._waiting = 0
        self._skipped: set[int] = set()
        self.granted = 0
        self.rejected = 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def acquire(self, timeout: float | None = None) -> float:
        """Wait for a token (in arrival order); the seconds waited.

        Raises RateLimitedError when ``max_waiting`` callers already wait or ``timeout``
        passes first.
        """
        start = self._clock()
        with self._cond:
            if self._waiting >= self.max_waiting:
                self.rejected += 1
                raise RateLimitedError(
                    f"{self._waiting} requests are already waiting for the rate limit of "
                    f"{self.rate:g}/s; slow down or raise max_waiting")
            self._waiting += 1
            ticket = next(self._tickets)
            try:
                while True:
                    while self._serving in self._skipped:  # callers ahead that gave up
                        self._skipped.discard(self._serving)
                        self._serving += 1
                    wait = 0.05
                    if ticket == self._serving:
                        self._refill()
                        if self._tokens >= 1.0:
                            self._tokens -= 1.0
                            self._serving += 1
                            self.granted += 1
                            self._cond.notify_all()
                            return self._clock() - start
                        wait = (1.0 - self._tokens) / self.rate
                    if timeout is not None:
                        left = timeout - (self._clock() - start)
                        if left <= 0:
                            self.rejected += 1
                            self._skipped.add(ticket)
                            self._cond.notify_all()
                            raise RateLimitedError(
                                f"no request slot within {timeout:g} s (limit {self.rate:g}/s)")
                        wait = min(wait, left)
                    self._cond.wait(wait)
            finally:
                self._waiting -= 1
