"""GenerationService: every AI backend runs behind this one service ("services, not calls").

What a job goes through, and which catalogue entry each step answers:

1. ``submit`` validates the request (NOT-03), gives it a seed and puts it on a bounded
   queue (``QueueFullError`` when full); ``concurrency`` worker threads take jobs from it,
   so at most that many generations run at once (NOT-07, MGN-07).
2. The model is loaded through the :class:`ModelPool` (idle unload and memory limit,
   NOT-02) and verified (version/checksum, NOT-04).
3. Each backend call runs under a deadline and a cancel token (NOT-01, MGN-01, JAM-08);
   progress goes to the bus as ``progress`` events (JAM-07).
4. Failures are handled by kind: ``MemoryError`` halves batch, then length, then gives a
   clear :class:`OutOfMemoryError` (NOT-05); :class:`TransientBackendError` of a remote
   backend is retried with exponential backoff (NOT-08, MGN-08); an invalid response or
   an output that fails its checks (NOT-06, NOT-09, MGN-02, MGN-09) is retried with a new
   seed; when all that fails, or the deadline passes, the fallback backend runs.
5. The result gets its provenance (NOT-10) and the future resolves.

``job.cancel()`` resolves the future at once and the backend stops within its next poll.
"""

from __future__ import annotations

import itertools
import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import InvalidStateError
from dataclasses import replace
from typing import Any

from mos_lab.ai.core import validate as checks
from mos_lab.ai.core.audioio import align_to_score, normalize_loudness
from mos_lab.ai.core.backend import Backend
from mos_lab.ai.core.errors import (
    AIError,
    BackendError,
    GenerationCancelled,
    InvalidOutputError,
    InvalidResponseError,
    OutOfMemoryError,
    QueueFullError,
    TransientBackendError,
)
from mos_lab.ai.core.types import CancelToken, GenerationRequest, GenerationResult, Provenance
from mos_lab.ai.service._runner import run_with_deadline
from mos_lab.ai.service.jobs import (
    Job,
    RetryPolicy,
    blank,
    reseed,
    result_problems,
    shrink,
    with_provenance,
)
from mos_lab.ai.service.pool import ModelPool
from mos_lab.bus import EventBus

log = logging.getLogger(__name__)


class GenerationService:
    """The queue, workers, model pool and policies that every backend runs behind.

    >>> from mos_lab.ai import GenerationService, GenerationRequest, MarkovBackend
    >>> with GenerationService([MarkovBackend()]) as svc:      # doctest: +SKIP
    ...     res = svc.generate(GenerationRequest(key="D minor", bars=8, seed=1))
    ...     res.score, res.provenance.checksum
    """

    def __init__(self, backends: Iterable[Backend] = (), *, bus: EventBus | None = None,
                 concurrency: int = 2, max_queue: int = 32, timeout: float | None = 60.0,
                 fallback_timeout: float | None = 30.0, retry: RetryPolicy | None = None,
                 memory_limit: int | None = None, idle_unload_s: float | None = 300.0,
                 fallbacks: Mapping[str, str] | None = None, grace: float = 0.5,
                 max_seconds: float = checks.MAX_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if concurrency < 1 or max_queue < 1:
            raise ValueError("concurrency and max_queue must be at least 1")
        self.bus = bus
        self.timeout = timeout
        self.fallback_timeout = fallback_timeout
        self.retry = retry or RetryPolicy()
        self.grace = grace
        self.max_seconds = max_seconds
        self.pool = ModelPool(memory_limit=memory_limit, idle_unload_s=idle_unload_s,
                              clock=clock)
        self._backends: dict[str, Backend] = {}
        self._fallbacks: dict[str, str] = dict(fallbacks or {})
        self._queue: queue.Queue[Job | None] = queue.Queue(max_queue)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._running = 0
        self._active: set[Job] = set()
        self.max_running = 0
        self.counts = {"submitted": 0, "completed": 0, "failed": 0, "cancelled": 0}
        self.history: deque[Provenance] = deque(maxlen=100)
        self._closed = False
        for b in backends:
            self.register(b)
        reap_every = min(idle_unload_s or 5.0, 5.0) / 2
        self._workers = [threading.Thread(target=self._work, args=(reap_every,), daemon=True,
                                          name=f"mos_lab-ai-worker-{i}")
                         for i in range(concurrency)]
        for w in self._workers:
            w.start()

    # -- registry --------------------------------------------------------------------
    def register(self, backend: Backend, *, fallback: str | None = None) -> None:
        """Add a backend (the first one added is the default); ``fallback`` names the
        backend to run when this one fails or times out."""
        if not isinstance(backend, Backend):
            raise TypeError(f"{backend!r} does not implement the Backend protocol")
        self._backends[backend.info.name] = backend
        if fallback is not None:
            self._fallbacks[backend.info.name] = fallback

    @property
    def backends(self) -> list[str]:
        return list(self._backends)

    def _chain(self, name: str) -> list[str]:
        chain = [name]
        while (nxt := self._fallbacks.get(chain[-1])) and nxt not in chain:
            if nxt in self._backends:
                chain.append(nxt)
            else:
                break
        return chain

    # -- submitting ------------------------------------------------------------------
    def submit(self, request: GenerationRequest, *, backend: str | None = None,
               timeout: float | None = -1.0, block: float = 0.0,
               on_progress: Callable[[float, float], Any] | None = None) -> Job:
        """Queue a generation; returns its :class:`Job` (``job.result()`` waits).

        Raises InvalidRequestError at once for a bad request (nothing is queued) and
        QueueFullError when ``max_queue`` jobs wait (after ``block`` seconds).
        """
        if self._closed:
            raise AIError("the generation service is closed")
        checks.validate_request(request, max_seconds=self.max_seconds)
        name = backend or next(iter(self._backends), None)
        if name not in self._backends:
            raise AIError(f"no backend named {name!r}; registered: {self.backends}")
        if request.seed is None:
            request = replace(request, seed=random.randrange(2**31))
        job = Job(next(self._ids), request, name,
                  self.timeout if timeout == -1.0 else timeout, on_progress)
        try:
            self._queue.put(job, block=block > 0, timeout=block or None)
        except queue.Full:
            raise QueueFullError(
                f"generation queue is full ({self._queue.maxsize} jobs waiting); wait for "
                "some to finish or create the service with a larger max_queue") from None
        with self._lock:
            self.counts["submitted"] += 1
        return job

    def generate(self, request: GenerationRequest, **kw: Any) -> GenerationResult:
        """``submit(...).result()``: generate and wait."""
        job = self.submit(request, **kw)
        try:
            return job.result()
        except BaseException:
            job.cancel(wait=0)
            raise

    # -- workers ---------------------------------------------------------------------
    def _work(self, reap_every: float) -> None:
        while True:
            try:
                job = self._queue.get(timeout=reap_every)
            except queue.Empty:
                self.pool.reap()
                continue
            if job is None:
                return
            if job.future.cancelled():
                self._count("cancelled")
                job.stopped.set()
                continue
            job.started.set()
            with self._lock:
                self._running += 1
                self._active.add(job)
                self.max_running = max(self.max_running, self._running)
            try:
                self._finish(job, *self._run_job(job))
            finally:
                with self._lock:
                    self._running -= 1
                    self._active.discard(job)
                job.stopped.set()
                self.pool.reap()

    def _finish(self, job: Job, res: GenerationResult | None, exc: BaseException | None,
                ) -> None:
        try:
            if res is not None:
                job.future.set_result(res)
                self._count("completed")
            elif isinstance(exc, GenerationCancelled) or job.future.cancelled():
                job.future.cancel()
                self._count("cancelled")
            else:
                job.future.set_exception(exc or AIError("no result"))
                self._count("failed")
        except InvalidStateError:  # cancelled meanwhile
            self._count("cancelled")

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _run_job(self, job: Job) -> tuple[GenerationResult | None, BaseException | None]:
        first: BaseException | None = None
        chain = self._chain(job.backend)
        self._progress(job, 0.0, 1.0, force=True)
        for i, name in enumerate(chain):
            limit = job.timeout if i == 0 else self.fallback_timeout
            token = job.token.child(limit)
            try:
                res = self._run_backend(job, self._backends[name], token)
            except GenerationCancelled as exc:
                if job.token.cancelled:
                    return None, exc
                first = first or exc
            except BaseException as exc:
                if not isinstance(exc, AIError):
                    exc = BackendError(f"{name} failed: {type(exc).__name__}: {exc}")
                self._report(name, exc)
                if first is None:
                    first = exc
                else:
                    first.add_note(f"fallback {name} failed too: {exc}")
                continue
            if i:
                res.provenance = replace(res.provenance or blank(name),
                                         fallback_from=chain[0],
                                         notes=(*(res.provenance.notes if res.provenance
                                                  else ()), f"{chain[0]} failed: {first}"))
            if res.provenance is not None:
                self.history.append(res.provenance)
            self._progress(job, 1.0, 1.0, force=True)
            return res, None
        return None, first

    def _report(self, source: str, exc: BaseException) -> None:
        log.warning("AI backend %s: %s", source, exc)
        if self.bus is not None and not self.bus.closed:
            self.bus.emit("error", source=f"ai:{source}", message=str(exc)[:2000],
                          kind=type(exc).__name__)

    def _progress(self, job: Job, done: float, total: float, force: bool = False) -> None:
        last = getattr(job, "_last_emit", 0.0)
        job.progress = (float(done), float(total))
        now = time.monotonic()
        if not force and now - last < 0.05:
            return
        job._last_emit = now  # type: ignore[attr-defined]
        if job.on_progress is not None:
            job.on_progress(float(done), float(total))
        if self.bus is not None and not self.bus.closed:
            self.bus.emit("progress", task=f"ai:{job.backend}:{job.id}",
                          done=max(float(done), 0.0), total=max(float(total), 0.0))

    def _run_backend(self, job: Job, backend: Backend, token: CancelToken) -> GenerationResult:
        info = backend.info
        req = job.request
        notes: list[str] = []
        transient = self.retry.attempts - 1 if info.remote else 0
        quality = self.retry.quality_retries
        retries = 0
        started = time.monotonic()
        self.pool.acquire(backend)
        try:
            for attempt in itertools.count(1):
                token.check()
                try:
                    res = run_with_deadline(self._call(backend, job, req), token,
                                            grace=self.grace, name=f"ai:{info.name}:{job.id}")
                except MemoryError as exc:
                    smaller = shrink(req)
                    if smaller is None:
                        raise OutOfMemoryError(
                            f"{info.name} ran out of memory even at batch 1 and "
                            f"{req.bars} bar(s) ({req.seconds:.1f} s): ask for less, use a "
                            "smaller model or free memory") from exc
                    notes.append(f"out of memory at batch {req.batch}, {req.bars} bars; "
                                 f"retried with batch {smaller.batch}, {smaller.bars} bars")
                    req = smaller
                    continue
                except TransientBackendError as exc:
                    if transient <= 0:
                        raise
                    transient -= 1
                    delay = self.retry.delay(retries, exc.retry_after)
                    retries += 1
                    notes.append(f"attempt {attempt}: {exc}; retry in {delay:.2f} s")
                    token.sleep(delay)
                    continue
                except InvalidResponseError as exc:
                    if quality <= 0:
                        raise
                    quality -= 1
                    notes.append(f"attempt {attempt}: {exc}; retried")
                    req = reseed(req, attempt)
                    continue
                problems = result_problems(res, req, info.kind, self.max_seconds)
                if problems:
                    if quality <= 0:
                        raise InvalidOutputError(problems)
                    quality -= 1
                    notes.append(f"attempt {attempt} rejected: {'; '.join(problems)}")
                    req = reseed(req, attempt)
                    continue
                if info.kind == "audio" and res.audio is not None:
                    res.audio = normalize_loudness(res.audio)  # every backend as loud as a render
                if info.kind == "audio" and res.score is not None and res.audio is not None:
                    res.audio, off = align_to_score(res.audio, req.sample_rate, res.score)
                    res.meta["offset_s"] = off  # MGN-10: measured, and corrected if > 5 ms
                    if abs(off) > 0.005:
                        notes.append(f"audio was {off * 1000:+.1f} ms off the score; aligned")
                return with_provenance(res, backend, req, job.request, attempt,
                                        time.monotonic() - started, notes)
            raise AssertionError("unreachable")
        finally:
            self.pool.release(backend)

    def _call(self, backend: Backend, job: Job, req: GenerationRequest,
              ) -> Callable[[CancelToken], GenerationResult]:
        def progress(done: float, total: float) -> None:
            self._progress(job, done, total)

        def call(token: CancelToken) -> GenerationResult:
            return backend.generate(req, progress, token)
        return call

    # -- state -----------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counters, queue length, running jobs and loaded models (for doctor views)."""
        with self._lock:
            return {**self.counts, "queued": self._queue.qsize(), "running": self._running,
                    "max_running": self.max_running, "loaded": self.pool.loaded(),
                    "memory_bytes": self.pool.memory_in_use()}

    def close(self, *, cancel: bool = True, timeout: float = 5.0) -> None:
        """Stop the workers (cancelling queued and running jobs) and unload every model."""
        if self._closed:
            return
        self._closed = True
        while cancel:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.cancel(wait=0)
                self._count("cancelled")
        if cancel:
            with self._lock:
                active = list(self._active)
            for job in active:
                job.cancel(wait=0)
        for _ in self._workers:
            self._queue.put(None)
        end = time.monotonic() + timeout
        for w in self._workers:
            w.join(max(0.0, end - time.monotonic()))
        self.pool.unload_all()

    def __enter__(self) -> GenerationService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
