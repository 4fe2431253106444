"""The shared-session hub: a star topology with admission control and bounded fan-out.

Peers never connect to each other (n peers make n links, not n^2). Joins are limited in
number and rate, so a reconnect storm is absorbed: excess attempts get a clear refusal
with a retry-after. Each peer has a bounded outbox; a peer that does not drain it is
disconnected instead of slowing the others or growing memory.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class JoinRefused(RuntimeError):
    """A join was refused; ``retry_after`` says when trying again makes sense (seconds)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Peer:
    """One connected peer: its id and bounded outbox."""

    peer_id: str
    outbox: deque[Any] = field(default_factory=deque)
    dropped: bool = False


class Hub:
    """Relays events from any peer to all others, with limits on peers, joins and queues."""

    def __init__(self, *, max_peers: int = 1000, joins_per_second: float = 200.0,
                 join_burst: int = 100, outbox_limit: int = 256,
                 clock: Callable[[], float] | None = None) -> None:
        import time

        self.max_peers = max_peers
        self.rate = joins_per_second
        self.burst = join_burst
        self.outbox_limit = outbox_limit
        self.clock = clock or time.monotonic
        self._tokens = float(join_burst)
        self._last = self.clock()
        self._peers: dict[str, Peer] = {}
        self._lock = threading.Lock()
        self.refused = 0
        self.evicted = 0

    @property
    def peers(self) -> int:
        return len(self._peers)

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def join(self, peer_id: str) -> Peer:
        """Admit a peer or raise JoinRefused (full, or joining too fast); rejoin replaces."""
        with self._lock:
            if peer_id in self._peers:  # a reconnect replaces the old link
                del self._peers[peer_id]
            self._refill()
            if len(self._peers) >= self.max_peers:
                self.refused += 1
                raise JoinRefused(f"session full: {self.max_peers} peers", retry_after=5.0)
            if self._tokens < 1:
                self.refused += 1
                raise JoinRefused("too many joins at once", retry_after=(1 - self._tokens)
                                  / self.rate)
            self._tokens -= 1
            peer = Peer(peer_id)
            self._peers[peer_id] = peer
            return peer

    def leave(self, peer_id: str) -> None:
        with self._lock:
            self._peers.pop(peer_id, None)

    def broadcast(self, sender: str, event: Any) -> int:
        """Queue ``event`` for every other peer; evict peers whose outbox is full."""
        with self._lock:
            delivered = 0
            for pid, peer in list(self._peers.items()):
                if pid == sender:
                    continue
                if len(peer.outbox) >= self.outbox_limit:
                    peer.dropped = True
                    del self._peers[pid]
                    self.evicted += 1
                    continue
                peer.outbox.append(event)
                delivered += 1
            return delivered

    def drain(self, peer: Peer, limit: int | None = None) -> list[Any]:
        """What a peer's connection sends next (all of it, or up to ``limit``)."""
        with self._lock:
            n = len(peer.outbox) if limit is None else min(limit, len(peer.outbox))
            return [peer.outbox.popleft() for _ in range(n)]

    def queued(self) -> int:
        """Events waiting in all outboxes (bounded by peers x outbox_limit)."""
        with self._lock:
            return sum(len(p.outbox) for p in self._peers.values())
