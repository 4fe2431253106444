"""The parts of a generation job: its handle, the retry policy, and the per-attempt steps.

Kept apart from :mod:`mos_lab.ai.service.generation` so the service reads as the pipeline it is:
``Job`` (future + cancel token + progress), ``RetryPolicy`` (backoff), and the pure
helpers that shrink a request after an OOM (NOT-05), re-seed it after a bad output
(NOT-06), check a result (NOT-06, MGN-02) and stamp its provenance (NOT-10).
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

from mos_lab.ai.core import validate as checks
from mos_lab.ai.core.backend import Backend
from mos_lab.ai.core.types import CancelToken, GenerationRequest, GenerationResult, Provenance

log = logging.getLogger("mos_lab.ai.service.generation")


@dataclass(frozen=True)
class RetryPolicy:
    """Retries: ``attempts`` tries for transient remote failures, spaced by
    ``base * factor**n`` seconds (capped, with jitter, or the server's Retry-After), and
    ``quality_retries`` extra tries with a new seed for output that fails its checks."""

    attempts: int = 4
    base: float = 0.25
    factor: float = 2.0
    max_delay: float = 8.0
    jitter: float = 0.1
    quality_retries: int = 2

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        d = min(self.base * self.factor ** retry, self.max_delay)
        return d * (1 + random.uniform(-self.jitter, self.jitter))


class Job:
    """One submitted generation: its future, progress and cancel token."""

    def __init__(self, job_id: int, request: GenerationRequest, backend: str,
                 timeout: float | None, on_progress: Callable[[float, float], Any] | None,
                 ) -> None:
        self.id = job_id
        self.request = request
        self.backend = backend
        self.timeout = timeout
        self.future: Future[GenerationResult] = Future()
        self.token = CancelToken()
        self.progress: tuple[float, float] = (0.0, 1.0)
        self.on_progress = on_progress
        self.started = threading.Event()
        self.stopped = threading.Event()
        self.future.add_done_callback(self._on_done)

    def _on_done(self, fut: Future[GenerationResult]) -> None:
        if fut.cancelled():  # also when the user calls job.future.cancel() directly
            self.token.cancel("cancelled by user")

    def result(self, timeout: float | None = None) -> GenerationResult:
        return self.future.result(timeout)

    def done(self) -> bool:
        return self.future.done()

    def cancel(self, wait: float | None = 1.0) -> bool:
        """Cancel; the future resolves at once. Waits up to ``wait`` s for the work to stop
        and returns whether it has (a job still in the queue has nothing to stop)."""
        self.token.cancel("cancelled by user")
        self.future.cancel()
        if not self.started.is_set():
            return True
        return self.stopped.wait(wait) if wait else self.stopped.is_set()

    def __repr__(self) -> str:
        state = "done" if self.done() else "running" if self.started.is_set() else "queued"
        return f"Job({self.id}, {self.backend!r}, {state}, progress={self.progress})"


def shrink(req: GenerationRequest) -> GenerationRequest | None:
    if req.batch > 1:
        return replace(req, batch=req.batch // 2)
    if req.bars > 1:
        dur = None if req.duration_s is None else req.duration_s / 2
        return replace(req, bars=math.ceil(req.bars / 2), duration_s=dur)
    return None


def reseed(req: GenerationRequest, attempt: int) -> GenerationRequest:
    return replace(req, seed=((req.seed or 0) + 7919 * attempt) % 2**32)


def result_problems(res: Any, req: GenerationRequest, kind: str, max_seconds: float) -> list[str]:
    if not isinstance(res, GenerationResult):
        return [f"result: expected GenerationResult, got {type(res).__name__}"]
    if kind == "audio":
        return checks.audio_problems(res.audio, res.sample_rate, expected_rate=req.sample_rate,
                                     max_seconds=max_seconds)
    return checks.score_problems(res.score, req)


def blank(name: str) -> Provenance:
    return Provenance(name, "", "", None, "", time.time())


def with_provenance(res: GenerationResult, backend: Backend, req: GenerationRequest,
                     asked: GenerationRequest, attempts: int, elapsed: float,
                     notes: list[str]) -> GenerationResult:
    info = backend.info
    given = res.provenance
    model = (given.model if given and given.model else info.name)
    version = (given.version if given and given.version else info.version)
    checksum = (given.checksum if given and given.checksum else info.checksum)
    missing = tuple(k for k, v in (("version", version), ("checksum", checksum)) if not v)
    if missing:
        log.warning("AI backend %s gave no %s for its result", info.name, ", ".join(missing))
    if req.bars < asked.bars:
        res.partial = True
        res.missing = (*res.missing, f"bars {req.bars + 1}..{asked.bars}")
    res.provenance = Provenance(
        model=model, version=version, checksum=checksum, seed=req.seed, prompt=asked.prompt,
        created=time.time(), elapsed_s=elapsed, attempts=attempts, missing=missing,
        notes=(*(given.notes if given else ()), *notes))
    return res
