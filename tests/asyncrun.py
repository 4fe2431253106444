"""Running a test's coroutine whatever the main thread is doing."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` in a thread of its own.

    Why: the browser tests keep Playwright's sync API running for the whole session, and
    it leaves an event loop running in the main thread, where ``asyncio.run`` then refuses
    ("cannot be called from a running event loop") for every later test in the shuffle.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="test-asyncio") as pool:
        return pool.submit(asyncio.run, coro).result()
