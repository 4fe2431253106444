"""Presence in shared sessions (a peer's selected passage and cursor) as pycrdt awareness
over the real pycrdt-websocket loopback: live, never stored, gone when the peer leaves."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

pytest.importorskip("pycrdt.websocket")
pytest.importorskip("tornado")

from mos_lab.share.server import RoomServer
from tests.unit.share.rooms import ROOM, arun, peer, until


def test_a_selection_and_a_cursor_are_live_presence_not_document_content():
    async def main() -> None:
        async with RoomServer() as srv:
            teacher = await peer(srv, "teacher", owner=True)
            s1, s2 = await peer(srv, "s1"), await peer(srv, "s2")
            await asyncio.sleep(0.1)
            assert teacher.presence() == {} and s2.presence_in == 0  # idle peers: no traffic
            seen: list[dict[str, Any]] = []
            teacher.on_presence(seen.append)
            s1.select(0, 960)
            s1.cursor(480)
            await until(lambda: teacher.presence().get("s1") == {
                "selection": [0, 960], "cursor": 480} == s2.presence().get("s1"))
            assert seen and seen[-1]["s1"]["cursor"] == 480
            s1.select(960, 1920)  # moves live
            await until(lambda: s2.presence()["s1"]["selection"] == [960, 1920])
            assert teacher.snapshot()["selections"] == {"s1": [960, 1920]}
            # not stored: no trace in any copy of the content document
            for d in (srv.doc(ROOM, "content"), teacher.content, s1.content):
                assert b"selection" not in d.get_update() and b"cursor" not in d.get_update()
            late = await peer(srv, "late")  # a joiner sees who is here at once
            await until(lambda: late.presence().get("s1", {}).get("selection") == [960, 1920],
                        1.0)
            for p in (teacher, s1, s2, late):
                await p.close()

    arun(main())


def test_presence_goes_when_a_peer_leaves_or_drops_and_comes_back_with_it():
    async def main() -> None:
        async with RoomServer() as srv:
            teacher = await peer(srv, "teacher", owner=True)
            s1 = await peer(srv, "s1", backoff=(0.4, 0.8))  # back after 0.4-1.2 s
            s2 = await peer(srv, "s2")
            s1.select(0, 480)
            s2.cursor(100)
            await until(lambda: set(teacher.presence()) == {"s1", "s2"})
            seen: list[set[str]] = []
            teacher.on_presence(lambda p: seen.append(set(p)))
            t0 = time.monotonic()
            s1.drop()  # its link is cut: the server removes its presence from everyone
            await until(lambda: {"s2"} in seen, 5.0)
            assert time.monotonic() - t0 < 2.0  # at once, not after the 30 s timeout
            await until(lambda: teacher.presence().get("s1") == {"selection": [0, 480]})
            await s2.close()  # leaves: gone from the others
            await until(lambda: "s2" not in teacher.presence() and "s2" not in s1.presence())
            assert set(teacher.presence()) == {"s1"}
            for p in (teacher, s1):
                await p.close()

    arun(main())


def test_presence_for_another_user_or_malformed_closes_only_its_sender():
    async def main() -> None:
        from pycrdt import Encoder, create_awareness_message
        from tornado.websocket import websocket_connect

        def presence(user: Any, client: int = 4242) -> bytes:
            enc = Encoder()
            enc.write_var_uint(1)
            enc.write_var_uint(client)
            enc.write_var_uint(1)
            enc.write_var_string(json.dumps({"user": user, "selection": [0, 1]}))
            return bytes(create_awareness_message(enc.to_bytes()))

        async with RoomServer() as srv:
            teacher = await peer(srv, "teacher", owner=True)
            s1 = await peer(srv, "s1")
            url = f"{srv.url}/share/{ROOM}/content?token={srv.token(ROOM, 'evil')}"
            for message, why in ((presence("s1"), "presence for 's1' from evil"),
                                 (b"\x01\x03\x01\x05", "malformed presence")):
                ws = await websocket_connect(url)
                await ws.write_message(message, binary=True)
                while await ws.read_message() is not None:
                    pass
                assert ws.close_code == 1007 and why in (ws.close_reason or ""), ws.close_reason
                ws.close()
            await asyncio.sleep(0.1)
            assert "s1" not in teacher.presence()  # the forged state never reached anyone
            s1.select(0, 10)  # the room goes on
            await until(lambda: teacher.presence().get("s1") == {"selection": [0, 10]})
            assert srv.stats.malformed == 2
            for p in (teacher, s1):
                await p.close()

    arun(main())
