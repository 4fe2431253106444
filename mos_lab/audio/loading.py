"""Asynchronous instrument loading with progress, a timeout and a fallback (APO-05).

``load_async`` runs a loader in a worker thread and returns a ``Future``. The future
fails with ``TimeoutError`` after ``timeout`` seconds even if the worker is stuck; the
caller (the synth) then keeps or falls back to the built-in bank. Progress and outcome
are reported through an optional ``emit(topic, payload)`` callback, so the bus can be
plugged in later without Apollo importing it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")
Emit = Callable[[str, Mapping[str, object]], None]
Progress = Callable[[float], None]


def _safe_emit(emit: Emit | None, topic: str, payload: Mapping[str, object]) -> None:
    if emit is None:
        return
    with contextlib.suppress(Exception):  # a broken listener must not break loading
        emit(topic, payload)


def load_async(fn: Callable[[Progress], T], *, timeout: float = 30.0, name: str = "",
               emit: Emit | None = None) -> Future[T]:
    """Run ``fn(progress)`` in a thread; return a future that times out after ``timeout``."""
    fut: Future[T] = Future()
    fut.set_running_or_notify_cancel()
    lock = threading.Lock()
    t0 = time.monotonic()

    def progress(fraction: float) -> None:
        if fut.done():
            raise TimeoutError(f"loading {name or 'instrument'} was abandoned")
        _safe_emit(emit, "audio.load.progress",
                   {"name": name, "fraction": max(0.0, min(1.0, float(fraction)))})

    def finish(result: T | None, error: BaseException | None) -> None:
        with lock:
            if fut.done():
                return
            if error is None:
                fut.set_result(result)  # type: ignore[arg-type]
            else:
                fut.set_exception(error)
        timer.cancel()
        elapsed = round(time.monotonic() - t0, 3)
        if error is None:
            _safe_emit(emit, "audio.load.ready", {"name": name, "seconds": elapsed})
        else:
            topic = "audio.load.timeout" if isinstance(error, TimeoutError) else "audio.load.failed"
            _safe_emit(emit, topic, {"name": name, "seconds": elapsed, "error": str(error)})

    def work() -> None:
        try:
            result = fn(progress)
        except BaseException as exc:  # reported through the future, never raised in-thread
            finish(None, exc)
        else:
            finish(result, None)

    def expire() -> None:
        finish(None, TimeoutError(f"loading {name or 'instrument'} took over {timeout} s"))

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.name = f"apollo-load-timeout-{name}"
    _safe_emit(emit, "audio.load.progress", {"name": name, "fraction": 0.0})
    worker = threading.Thread(target=work, name=f"apollo-load-{name}", daemon=True)
    timer.start()
    worker.start()
    return fut
