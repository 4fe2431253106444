"""Run one backend call under a deadline and a cancel token, in its own thread.

Why a thread per call: a backend that ignores its token (a hung HTTP read, a C loop)
must not be able to hold a job past its timeout. The caller waits on the call's done
flag and on the token; when the token fires it gives the call ``grace`` seconds to stop
cooperatively, then abandons it (the thread is a daemon, counted in ``abandoned()``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from mos_lab.ai.core.errors import GenerationCancelled, GenerationTimeout
from mos_lab.ai.core.types import CancelToken

T = TypeVar("T")
POLL_S = 0.01
_abandoned: list[threading.Thread] = []
_abandoned_lock = threading.Lock()


def abandoned() -> int:
    """How many abandoned backend threads are still alive (should be 0 in a healthy run)."""
    with _abandoned_lock:
        _abandoned[:] = [t for t in _abandoned if t.is_alive()]
        return len(_abandoned)


def run_with_deadline(fn: Callable[[CancelToken], T], token: CancelToken, *,
                      grace: float = 0.5, name: str = "mos_lab-ai-call") -> T:
    """``fn(token)`` in a thread; its result, or GenerationTimeout/GenerationCancelled.

    Exceptions raised by ``fn`` are re-raised here unchanged.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn(token)
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    th = threading.Thread(target=target, name=name, daemon=True)
    th.start()
    while not done.wait(POLL_S):
        if token.cancelled or token.expired:
            break
    if not done.is_set():
        timed_out = not token.cancelled
        token.cancel("timeout" if timed_out else token.reason)
        if not done.wait(grace):
            with _abandoned_lock:
                _abandoned.append(th)
        if timed_out:
            raise GenerationTimeout(f"{name}: no answer before the deadline")
        raise GenerationCancelled(token.reason)
    th.join()
    if "error" in box:
        raise box["error"]
    if token.cancelled:
        raise GenerationCancelled(token.reason)
    return box["value"]


def wait_until(pred: Callable[[], bool], timeout: float) -> bool:
    """Poll ``pred`` until true or ``timeout``; used by cleanup paths and tests."""
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() >= end:
            return False
        time.sleep(POLL_S)
    return True
