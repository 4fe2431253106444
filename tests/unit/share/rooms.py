"""What the shared-session tests share: a room name, a bounded runner for one test's
coroutine, a polling wait, and a peer joined to a RoomServer with its own token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from mos_lab.share.client import SharedSession
from mos_lab.share.server import RoomServer
from tests.asyncrun import run_coroutine

ROOM = "class1"


def arun(coro: Awaitable[Any], timeout: float = 30.0) -> Any:
    """Run one test's coroutine with a bound on its time."""
    return run_coroutine(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> float:
    """Wait until ``cond()`` holds; the seconds it took (AssertionError after timeout)."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
    return time.monotonic() - t0


async def peer(srv: RoomServer, user: str, owner: bool = False, **kw: Any) -> SharedSession:
    """A peer of ROOM on ``srv``, as the owner or a member."""
    tok = srv.token(ROOM, user, "owner" if owner else "member")
    return await SharedSession(srv.url, ROOM, tok, user=user, owner=owner, **kw).connect()
