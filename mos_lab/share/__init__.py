"""Shared sessions: several people in one session, timing kept by timestamps.

Map::

    Hub(max_peers=1000, joins_per_second=200, outbox_limit=256)
      .join(id) -> Peer | JoinRefused(retry_after)   .broadcast(sender, event)  .drain(peer)
    JitterBuffer(delay_s=0.08).push(sent, payload, now)  .pop_due(now) -> [Timed]

The hub is a star (n links for n peers), admits peers at a bounded rate, and evicts a peer
whose outbox overflows rather than slowing the others; the jitter buffer re-times each
peer's events from their sender timestamps with a fixed delay, so network jitter costs
latency, not rhythm.
"""


__all__: list[str] = []
