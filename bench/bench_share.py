"""Shared sessions at class and storm scale: N peers on loopback against one RoomServer.

The server runs in its own process (as it would on its own machine), the N peers together
in this one (one asyncio loop, real websockets). Measured: the connection storm (all N
peers at once: time until every peer is in sync, refusals, retries), convergence (the
owner's edit and transport start reaching every peer: time, messages and bytes per peer),
a late joiner's catch-up, a dropped peer's resync, the spread of followers' start times,
and the peer limit (peers over ``--max-peers`` refused). On a 2-core machine shared with
others the times are upper bounds. Run: .venv/bin/python bench/bench_share.py [--peers N]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import time
from typing import Any

from mos_lab.share.client import SharedSession, follow

ROOM = "bench"


def _serve(conn: Any, secret: bytes, max_peers: int, rate: float, burst: int,
           handshakes: int) -> None:
    """The server process: start, report the port, answer 'stats', end on 'stop'."""
    from dataclasses import asdict

    from mos_lab.share.server import RoomServer

    async def main() -> None:
        srv = await RoomServer(secret, max_peers=max_peers, joins_per_second=rate,
                               join_burst=burst, max_handshakes=handshakes).start()
        conn.send(srv.port)
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def ask() -> None:
            what = conn.recv()
            if what == "stop":
                done.set()
            else:
                conn.send({**asdict(srv.stats), "connections": srv.connections,
                           "peers": srv.peers})

        loop.add_reader(conn.fileno(), ask)
        await done.wait()
        await srv.stop()

    asyncio.run(main())


async def until(cond: Any, timeout: float) -> float:
    """Seconds until ``cond()`` holds (TimeoutError after ``timeout``)."""
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("not reached")
        await asyncio.sleep(0.005)
    return time.perf_counter() - t0


class Player:
    """Stands in for an engine: remembers when it was told to play."""

    def seek(self, seconds: float) -> None:
        self.at = seconds

    def play(self) -> None:
        pass

    def pause(self) -> None:
        pass


async def bench(args: argparse.Namespace) -> None:
    import secrets

    from mos_lab.share.tokens import issue

    secret = secrets.token_bytes(32)
    parent, child = mp.Pipe()
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=_serve, args=(child, secret, args.max_peers, args.rate,
                                            args.burst, args.handshakes), daemon=True)
    proc.start()
    port = parent.recv()
    url = f"ws://127.0.0.1:{port}"

    def stats() -> dict[str, Any]:
        parent.send("stats")
        return parent.recv()  # type: ignore[no-any-return]

    def make(user: str, owner: bool = False) -> SharedSession:
        tok = issue(secret, ROOM, user, "owner" if owner else "member")
        return SharedSession(url, ROOM, tok, user=user, owner=owner, sync_clock=False,
                             backoff=(0.05, 2.0))

    n = args.peers
    print(f"{n} peers on loopback, server in its own process; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    owner = await make("owner", owner=True).connect()
    peers = [make(f"p{i}") for i in range(n)]
    import psutil

    server_proc, me = psutil.Process(proc.pid), psutil.Process()

    def cpu(p: Any) -> float:
        t = p.cpu_times()
        return float(t.user + t.system)

    c0 = (cpu(server_proc), cpu(me))
    t0 = time.perf_counter()
    joins = [asyncio.ensure_future(p.connect(timeout=300)) for p in peers]
    await asyncio.gather(*joins)
    storm = time.perf_counter() - t0
    c1 = (cpu(server_proc) - c0[0], cpu(me) - c0[1])
    s = stats()
    tries = sum(p.refusals for p in peers)
    fails: dict[str, int] = {}
    for p in peers:
        for k, v in p.failures.items():
            fails[k] = fails.get(k, 0) + v
    print(f"storm: {n} peers joined at once, all in sync after {storm:.2f} s; "
          f"{s['refused_rate']} refused as too fast, {s['refused_busy']} as busy, "
          f"{s['refused_full']} as full, failed attempts {fails or 0}; "
          f"retries per peer {tries / n:.2f} (max {max(p.refusals for p in peers)}); CPU "
          f"{c1[0]:.1f} s in the server, {c1[1]:.1f} s in the peers' process")

    starts: list[float] = []
    arrived: dict[int, float] = {}
    for i, p in enumerate(peers):
        follow(p, Player(), on_start=starts.append)
        p.content.observe(lambda _e, i=i: arrived.setdefault(i, time.perf_counter()))
    base = [(p.messages_in, p.bytes_in) for p in peers]
    t0 = time.perf_counter()
    with owner.content.transaction():  # one edit: a note and its annotation together
        owner.set_note("n1", 0, 480, 60)
        owner.annotate(0, "listen to the bass")
    await until(lambda: len(arrived) == n, 120)
    lat = sorted(t - t0 for t in arrived.values())
    msgs = [p.messages_in - b[0] for p, b in zip(peers, base, strict=True)]
    byts = [p.bytes_in - b[1] for p, b in zip(peers, base, strict=True)]
    ok = all(p.snapshot()["notes"] == {"n1": "0,480,60,80"} for p in peers)
    print(f"convergence: an edit reached all {n} peers in {lat[-1] * 1000:.0f} ms (median "
          f"{lat[len(lat) // 2] * 1000:.0f} ms), all equal: {ok}; per peer "
          f"{statistics.mean(msgs):.1f} messages, {statistics.mean(byts):.0f} bytes")
    seen: dict[int, float] = {}
    for i, p in enumerate(peers):
        p.on_transport(lambda _t, i=i: seen.setdefault(i, time.perf_counter()))
    t0 = time.perf_counter()
    t = owner.play(lead=args.lead)
    await until(lambda: len(seen) == n and len(starts) == n, 120 + args.lead)
    reach = max(seen.values()) - t0
    med = sorted(seen.values())[n // 2] - t0
    spread = max(starts) - min(starts)
    late_start = max(starts) - t.at
    print(f"transport: play reached all peers in {reach * 1000:.0f} ms (median "
          f"{med * 1000:.0f} ms; lead "
          f"{args.lead * 1000:.0f} ms); followers started within {spread * 1000:.1f} ms "
          f"of each other, the last {late_start * 1000:.1f} ms after the shared time")
    shown: dict[int, float] = {}
    for i, p in enumerate(peers):
        p.on_presence(lambda now, i=i: "owner" in now and shown.setdefault(
            i, time.perf_counter()))
    base = [(p.messages_in, p.bytes_in) for p in peers]
    t0 = time.perf_counter()
    owner.select(0, 1920)  # the owner's selected passage, as presence (not stored)
    await until(lambda: len(shown) == n, 120)
    lat = sorted(t - t0 for t in shown.values())
    msgs = [p.messages_in - b[0] for p, b in zip(peers, base, strict=True)]
    byts = [p.bytes_in - b[1] for p, b in zip(peers, base, strict=True)]
    print(f"presence: a selection reached all {n} peers in {lat[-1] * 1000:.0f} ms (median "
          f"{lat[len(lat) // 2] * 1000:.0f} ms); per peer {statistics.mean(msgs):.1f} "
          f"messages, {statistics.mean(byts):.0f} bytes")
    for _ in range(20):  # some history for the late joiner
        owner.label(0, "I")
    late = make("late")
    t0 = time.perf_counter()
    await late.connect(60)
    print(f"late joiner: in sync in {(time.perf_counter() - t0) * 1000:.0f} ms with "
          f"{late.messages_in} messages, {late.bytes_in} bytes (the state, no replay); "
          f"same as the owner: {late.snapshot() == owner.snapshot()}")
    back = peers[0]
    back.drop()
    await until(lambda: not back.connected, 30)
    owner.set_note("n2", 480, 480, 64)
    back.annotate(480, "written while away")
    t0 = time.perf_counter()
    await until(lambda: back.connected and back.snapshot() == owner.snapshot(), 60)
    print(f"dropped peer: back and in sync both ways in "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms")
    extra = [make(f"x{i}") for i in range(args.over)]
    for p in extra:
        p._tasks += [asyncio.ensure_future(p._keep(d, getattr(p, d)))
                     for d in ("control", "content")]
    await asyncio.sleep(3)
    s = stats()
    print(f"limit: {args.over} more peers tried for 3 s beyond max_peers="
          f"{args.max_peers}: {sum(p.connected for p in extra)} got in; server holds "
          f"{s['peers']} peers / {s['connections']} links; {s['refused_full']} "
          f"'full' refusals so far")
    print(f"server totals: in {s['messages_in']} messages / {s['bytes_in']} bytes, out "
          f"{s['messages_out']} / {s['bytes_out']} bytes")
    await asyncio.gather(*(p.close() for p in [owner, late, *peers, *extra]))
    parent.send("stop")
    proc.join(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", type=int, default=1000)
    ap.add_argument("--max-peers", type=int, default=1002, help="server's peer limit")
    ap.add_argument("--over", type=int, default=50, help="peers beyond the limit")
    ap.add_argument("--rate", type=float, default=500.0, help="joins per second")
    ap.add_argument("--burst", type=int, default=250)
    ap.add_argument("--handshakes", type=int, default=1024, help="joins in progress at once")
    ap.add_argument("--lead", type=float, default=0.5, help="play's lead (s)")
    asyncio.run(bench(ap.parse_args()))


if __name__ == "__main__":
    main()
