"""The load queue: one active load, the newest request wins, failures keep the old score."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future

from mos_lab.score import Score, ScoreError, load

Source = str | os.PathLike[str] | bytes | Score


class LoadQueue:
    """Loads scores on one worker thread; a request made while another runs supersedes it.

    ``on_done(score, token)`` runs on the worker for the newest request only; superseded
    requests resolve their future with ``None`` (they never reach the engine).
    """

    def __init__(self, on_done: Callable[[Score, int], None],
                 on_error: Callable[[ScoreError, int], None]) -> None:
        self._on_done = on_done
        self._on_error = on_error
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._pending: tuple[int, Source, Future[Score | None]] | None = None
        self._token = 0
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="mos-lab-loader", daemon=True)
        self._thread.start()

    @property
    def latest(self) -> int:
        return self._token

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._busy or self._pending is not None

    def submit(self, source: Source) -> Future[Score | None]:
        """Queue a load; an older request still waiting is dropped (resolved with None)."""
        fut: Future[Score | None] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the engine is closed")
            self._token += 1
            if self._pending is not None:
                self._pending[2].set_result(None)
            self._pending = (self._token, source, fut)
            self._cond.notify()
        return fut

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    if self._pending is not None:
                        self._pending[2].set_result(None)
                    return
                assert self._pending is not None
                token, source, fut = self._pending
                self._pending = None
                self._busy = True
            try:
                score = source if isinstance(source, Score) else load(source)
            except ScoreError as exc:
                self._finish(token, fut, None, exc)
            except Exception as exc:  # an unexpected failure is reported, never lost
                self._finish(token, fut, None, ScoreError(f"load: {type(exc).__name__}: {exc}"))
            else:
                self._finish(token, fut, score, None)

    def _finish(self, token: int, fut: Future[Score | None], score: Score | None,
                err: ScoreError | None) -> None:
        try:
            if token != self._token:  # superseded while loading: never applied
                fut.set_result(None)
            elif err is not None:
                self._on_error(err, token)
                fut.set_exception(err)
            else:
                assert score is not None
                self._on_done(score, token)
                fut.set_result(score)
        finally:
            with self._lock:
                self._busy = False

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
