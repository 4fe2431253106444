"""Shared sessions on pycrdt over real websockets (tornado, localhost): convergence, late
joiners, dropped links, tokens, the owner's transport, malformed updates, storms."""

from __future__ import annotations

import asyncio
import time

import pytest

pytest.importorskip("pycrdt.websocket")
pytest.importorskip("tornado")

from mos_lab.share.client import SharedSession, ShareError, follow
from mos_lab.share.server import RoomServer
from tests.unit.share.rooms import ROOM, arun, peer, until


def same(*peers: SharedSession) -> bool:
    first = peers[0].snapshot()
    return all(p.snapshot() == first for p in peers[1:])


def test_concurrent_edits_converge_and_a_late_joiner_gets_the_state_not_a_replay():
    async def main() -> None:
        async with RoomServer() as srv:
            teacher = await peer(srv, "teacher", owner=True)
            s1, s2 = await peer(srv, "s1"), await peer(srv, "s2")
            for k in range(50):  # three writers at once, the same note among them
                teacher.set_note(f"t{k}", k * 480, 480, 60 + k % 12)
                s1.annotate(k * 480, f"s1 says {k}")
                s2.label(k * 480, "V7" if k % 2 else "I")
                s1.set_note("shared", 0, 480, 60 + k % 5)
                s2.set_note("shared", 0, 480, 70 + k % 5)
                await asyncio.sleep(0)
            s1.select(0, 960)
            teacher.play(lead=0.1)
            await until(lambda: same(teacher, s1, s2))
            snap = teacher.snapshot()
            assert len(snap["notes"]) == 51 and len(snap["annotations"]) == 50
            assert snap["selections"] == {"s1": [0, 960]}
            assert snap["transport"]["state"] == "playing"
            late = await peer(srv, "late")
            assert late.snapshot() == snap  # everything, from the document state
            # the late joiner got the state in its sync step (a handful of messages per
            # document), not a replay of the ~200 updates made before it came
            assert late.messages_in <= 8
            for p in (teacher, s1, s2, late):
                await p.close()

    arun(main())


def test_a_dropped_peer_resyncs_both_ways_when_its_link_returns():
    async def main() -> None:
        async with RoomServer() as srv:
            teacher = await peer(srv, "teacher", owner=True)
            student = await peer(srv, "s1", backoff=(0.02, 0.2))
            student.drop()
            await until(lambda: not student.connected)
            teacher.set_note("while-away", 0, 480, 62)  # missed by the student
            student.annotate(0, "written offline")  # missed by the server
            teacher.seek(3.0)
            await until(lambda: student.connected and same(teacher, student))
            assert student.snapshot()["notes"] == {"while-away": "0,480,62,80"}
            assert teacher.snapshot()["annotations"][0]["text"] == "written offline"
            assert student.connects >= 4  # two documents, linked twice
            for p in (teacher, student):
                await p.close()

    arun(main())


def test_tokens_decide_who_joins_and_only_the_owner_or_a_grantee_moves_the_transport():
    async def main() -> None:
        async with RoomServer() as srv:
            with pytest.raises(ShareError, match="bad signature"):
                await SharedSession(srv.url, ROOM, "a.b.c.d.e", user="x").connect(5)
            other = srv.token("another-room", "x")
            with pytest.raises(ShareError, match="issued for room 'another-room'"):
                await SharedSession(srv.url, ROOM, other, user="x").connect(5)
            assert srv.stats.refused_token >= 2
            assert SharedSession(srv.url, ROOM, srv.token(ROOM, "zoë")).user == "zoë"
            assert SharedSession(srv.url, ROOM, srv.token(ROOM, "t", "owner")).owner
            teacher = await peer(srv, "teacher", owner=True)
            s1, s2 = await peer(srv, "s1"), await peer(srv, "s2")
            with pytest.raises(PermissionError, match="only the room's owner"):
                s1.play()
            # a member that writes the control document anyway (a modified client) is
            # refused by the server: nobody else sees it, and the room goes on
            s1.owner = True  # pretend, client side only
            s1.seek(99.0)
            await asyncio.sleep(0.3)
            assert srv.stats.refused_writes >= 1
            assert teacher.transport.position == 0.0 and s2.transport.position == 0.0
            s1.owner = False
            teacher.grant("s2")
            await until(lambda: s2.may_move_transport)
            s2.seek(12.5)
            await until(lambda: teacher.transport.position == 12.5)
            assert teacher.transport.by == "s2"
            # a grantee may move the transport but not grant others
            s2.owner = True
            s2.grant("s1")
            await asyncio.sleep(0.3)
            assert "s1" not in teacher.snapshot()["grants"]
            for p in (teacher, s1, s2):
                await p.close()

    arun(main())


def test_a_malformed_update_closes_only_its_sender():
    async def main() -> None:
        from tornado.websocket import websocket_connect

        async with RoomServer() as srv:
            teacher = await peer(srv, "teacher", owner=True)
            s1 = await peer(srv, "s1")
            url = f"{srv.url}/share/{ROOM}/content?token={srv.token(ROOM, 'evil')}"
            ws = await websocket_connect(url)
            await ws.write_message(b"\x00\x02\x05garbage-not-an-update", binary=True)
            while await ws.read_message() is not None:
                pass
            assert ws.close_code == 1007 and "malformed update" in (ws.close_reason or "")
            ws.close()
            ws2 = await websocket_connect(url)
            await ws2.write_message(b"\x07", binary=True)  # not even a message type
            while await ws2.read_message() is not None:
                pass
            assert ws2.close_code == 1007
            ws2.close()
            assert srv.stats.malformed == 2
            teacher.set_note("after", 0, 480, 60)  # the room goes on
            await until(lambda: same(teacher, s1) and "after" in s1.snapshot()["notes"])
            for p in (teacher, s1):
                await p.close()

    arun(main())


@pytest.mark.seed("INT-03")
def test_a_connection_storm_is_bounded_and_spreads_itself_out_with_back_off():
    async def main() -> None:
        async with RoomServer(max_peers=60, joins_per_second=400, join_burst=40,
                              max_handshakes=16) as srv:
            tok = [srv.token(ROOM, f"p{i}") for i in range(80)]
            peers = [SharedSession(srv.url, ROOM, t, user=f"p{i}", sync_clock=False,
                                   backoff=(0.05, 1.0)) for i, t in enumerate(tok)]
            t0 = time.monotonic()
            for p in peers:  # all at once
                p._tasks += [asyncio.ensure_future(p._keep("control", p.control)),
                             asyncio.ensure_future(p._keep("content", p.content))]
            await until(lambda: sum(p.connected for p in peers) == 60, timeout=20)
            took = time.monotonic() - t0
            assert srv.peers <= 60 and srv.connections <= 2 * 60  # never above the limit
            assert srv.stats.refused_full > 0  # the 20 peers over the limit
            assert srv.stats.refused_rate + srv.stats.refused_busy > 0  # paced joins
            await asyncio.sleep(0.3)
            assert srv.connections == 120 and sum(p.connected for p in peers) == 60
            # back-off honoured: the 20 refused peers retried a bounded number of times
            assert sum(p.refusals for p in peers) < 80 * 2 * 12
            assert took < 20
            for p in peers:
                await p.close()
            await until(lambda: srv.connections == 0)

    arun(main(), timeout=60)


def test_followers_start_together_from_the_shared_position():
    class Player:
        def __init__(self) -> None:
            self.calls: list[tuple[str, float]] = []

        def seek(self, seconds: float) -> None:
            self.calls.append(("seek", seconds))

        def play(self) -> None:
            self.calls.append(("play", 0.0))

        def pause(self) -> None:
            self.calls.append(("pause", 0.0))

    async def main() -> None:
        async with RoomServer() as srv:
            teacher = await peer(srv, "teacher", owner=True)
            students = [await peer(srv, f"s{i}") for i in range(5)]
            starts: list[float] = []
            players = [Player() for _ in students]
            for s, pl in zip(students, players, strict=True):
                follow(s, pl, on_start=starts.append)
            teacher.seek(4.0)
            t = teacher.play(lead=0.3)
            await until(lambda: len(starts) == 5)
            spread = max(starts) - min(starts)
            assert spread < 0.05, spread  # each started at the shared time, not on arrival
            assert all(abs(x - t.at) < 0.05 for x in starts)
            for pl in players:
                assert pl.calls[-1] == ("play", 0.0)
                assert pl.calls[-2][0] == "seek" and abs(pl.calls[-2][1] - 4.0) < 0.05
            teacher.pause()
            await until(lambda: all(pl.calls[-1][0] == "seek" for pl in players))
            for p in (teacher, *students):
                await p.close()

    arun(main())


def test_a_peer_that_does_not_read_is_dropped_not_waited_for():
    async def main() -> None:
        from tornado.websocket import websocket_connect

        async with RoomServer(outbox_limit=4) as srv:
            teacher = await peer(srv, "teacher", owner=True)
            s1 = await peer(srv, "s1")
            url = f"{srv.url}/share/{ROOM}/content?token={srv.token(ROOM, 'sleepy')}"
            sleepy = await websocket_connect(url)  # joins, then never reads
            big = "x" * 200_000
            for k in range(60):  # ~12 MB: more than the socket buffers hold
                teacher.label(k, big)
                await asyncio.sleep(0.005)
            await until(lambda: srv.stats.evicted >= 1, timeout=15)
            await until(lambda: len(s1.snapshot()["labels"]) == 60, timeout=15)
            assert srv.stats.by_reason.get("too slow") == 1
            sleepy.close()
            for p in (teacher, s1):
                await p.close()

    arun(main())
