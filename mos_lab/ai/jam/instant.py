"""Instant Jam: prompt -> skeleton -> orchestration -> audio, each phase with a way out.

1. **skeleton** (melody + one chord per bar; the Markov model), else a plain arpeggiated
   I-IV-V-I in the key (JAM-01);
2. **orchestration** (bass and pad parts from the chords, merged and checked: one length,
   one tempo map, no overlaps per voice, JAM-04), else melody plus root-note bass (JAM-02);
3. **audio** (the engine's offline render, streamed), else the melody alone at a lower
   rate, else no audio (JAM-03).

Every phase runs under its own timeout and the jam's cancel token; a phase that fails
or times out is replaced by its fallback, and the result says so (``partial``,
``phases``; JAM-09). One jam runs at a time per :class:`InstantJam`; more wait in an
explicit, bounded queue or are refused with :class:`JamBusyError` (JAM-05). Progress goes
to the bus per phase (JAM-07); ``cancel()`` stops within a second (JAM-08); whatever a
failed or cancelled jam made is released (JAM-06). Each result carries its time to first
sound and total time (JAM-10, DRF-04).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mos_lab.ai.core.audioio import normalize_loudness
from mos_lab.ai.core.errors import AIError, GenerationCancelled
from mos_lab.ai.core.types import CancelToken, GenerationRequest
from mos_lab.ai.core.validate import bar_ticks, validate_request
from mos_lab.ai.jam.merge import merge_parts, merge_problems
from mos_lab.ai.jam.phases import (
    JamContext,
    Phase,
    band_orchestration,
    bass_only,
    engine_audio,
    markov_skeleton,
    melody_audio,
    simple_skeleton,
)
from mos_lab.ai.service._runner import run_with_deadline
from mos_lab.bus import EventBus
from mos_lab.engine import SAMPLE_RATE
from mos_lab.score import Score

PHASES = ("skeleton", "orchestration", "audio")


class JamBusyError(AIError):
    """A jam is already running and the queue is full (or there is none)."""


@dataclass
class PhaseReport:
    """How one phase went: "ok", "fallback", "failed" or "cancelled", with the reason."""

    status: str = "pending"
    seconds: float = 0.0
    error: str = ""


@dataclass
class JamResult:
    """What a jam made. ``partial`` is true when any phase fell back or failed."""

    score: Score | None
    audio: np.ndarray | None
    sample_rate: int
    phases: dict[str, PhaseReport]
    time_to_first_sound_s: float | None
    total_s: float
    warnings: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return any(r.status != "ok" for r in self.phases.values())

    def summary(self) -> str:
        """One line for a notebook: phases, first sound and total time."""
        ph = ", ".join(f"{k} {v.status}" for k, v in self.phases.items())
        first = ("-" if self.time_to_first_sound_s is None
                 else f"{self.time_to_first_sound_s * 1000:.0f} ms")
        return f"jam: {ph}; first sound {first}; total {self.total_s:.2f} s"


class Workspace:
    """Everything a jam made so far; released when it fails or is cancelled (JAM-06)."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}

    def keep(self, name: str, value: Any) -> Any:
        self.items[name] = value
        return value

    def release(self) -> None:
        self.items.clear()


def _check_phase(name: str, value: Any) -> str:
    """What is wrong with a phase's output type ("" when it is the right kind)."""
    if name == "skeleton" and not isinstance(value, Score):
        return f"returned {type(value).__name__}, not a Score"
    if name == "orchestration" and (not isinstance(value, list) or
                                    not all(isinstance(v, Score) for v in value)):
        return "did not return a list of Scores"
    if name == "audio" and (not isinstance(value, np.ndarray) or value.ndim != 2):
        return "did not return (frames, channels) samples"
    return ""


def _bind(fn: Phase, ctx: JamContext) -> Callable[[CancelToken], Any]:
    def call(token: CancelToken) -> Any:
        return fn(ctx, token)
    return call


# -- the runner --------------------------------------------------------------------------
class JamJob:
    """A running or queued jam: ``result()``, ``cancel()``, ``workspace``, ``phases``."""

    def __init__(self, jam_id: int, request: GenerationRequest) -> None:
        self.id = jam_id
        self.request = request
        self.future: Future[JamResult] = Future()
        self.token = CancelToken()
        self.workspace = Workspace()
        self.phases = {p: PhaseReport() for p in PHASES}
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def result(self, timeout: float | None = None) -> JamResult:
        return self.future.result(timeout)

    def cancel(self, wait: float | None = 1.0) -> bool:
        """Cancel; returns whether the jam stopped (and cleaned up) within ``wait`` s."""
        self.token.cancel("cancelled by user")
        self.future.cancel()
        if self.thread is None:
            self.stopped.set()
        return self.stopped.wait(wait) if wait else self.stopped.is_set()


class InstantJam:
    """Runs jams one at a time (``max_queue`` more may wait).

    >>> jam = InstantJam()                                           # doctest: +SKIP
    >>> res = jam.start(GenerationRequest(key="D minor", bars=8)).result()
    >>> res.summary()
    'jam: skeleton ok, orchestration ok, audio ok; first sound 180 ms; total 0.61 s'
    """

    def __init__(self, *, bus: EventBus | None = None, sample_rate: int = SAMPLE_RATE,
                 timeouts: dict[str, float] | None = None, fallback_timeout: float = 5.0,
                 max_queue: int = 0, phases: dict[str, tuple[Phase, Phase]] | None = None,
                 symbolic: Any = None, grace: float = 0.3) -> None:
        self.bus = bus
        self.symbolic = symbolic
        self.sample_rate = sample_rate
        self.timeouts = {"skeleton": 10.0, "orchestration": 10.0, "audio": 60.0,
                         **(timeouts or {})}
        self.fallback_timeout = fallback_timeout
        self.max_queue = max_queue
        self.grace = grace
        self.phases: dict[str, tuple[Phase, Phase]] = {
            "skeleton": (markov_skeleton, simple_skeleton),
            "orchestration": (band_orchestration, bass_only),
            "audio": (engine_audio, melody_audio), **(phases or {})}
        self._lock = threading.Lock()
        self._active: JamJob | None = None
        self._waiting: deque[JamJob] = deque()
        self._ids = itertools.count(1)

    @property
    def active(self) -> JamJob | None:
        return self._active

    def start(self, request: GenerationRequest) -> JamJob:
        """Start a jam now, queue it, or raise JamBusyError (request checked first)."""
        validate_request(request)
        job = JamJob(next(self._ids), request)
        with self._lock:
            if self._active is None:
                self._active = job
                self._launch(job)
            elif len(self._waiting) < self.max_queue:
                self._waiting.append(job)
            else:
                raise JamBusyError(
                    f"jam {self._active.id} is still running; cancel it, wait for it, or "
                    f"create InstantJam(max_queue=n) to queue jams")
        return job

    def run(self, request: GenerationRequest, timeout: float | None = None) -> JamResult:
        return self.start(request).result(timeout)

    def _launch(self, job: JamJob) -> None:
        job.thread = threading.Thread(target=self._run, args=(job,), daemon=True,
                                      name=f"mos_lab-jam-{job.id}")
        job.thread.start()

    def _next(self, done: JamJob) -> None:
        with self._lock:
            if self._active is done:
                self._active = None
            while self._waiting and self._active is None:
                nxt = self._waiting.popleft()
                if nxt.token.cancelled:
                    nxt.stopped.set()
                    continue
                self._active = nxt
                self._launch(nxt)

    def _emit(self, job: JamJob, phase: str, done: float, total: float) -> None:
        if self.bus is not None and not self.bus.closed:
            self.bus.emit("progress", task=f"jam:{job.id}:{phase}",
                          done=max(float(done), 0.0), total=max(float(total), 0.0))

    def _phase(self, job: JamJob, name: str, ctx: JamContext) -> Any:
        main, fallback = self.phases[name]
        rep = job.phases[name]
        t0 = time.monotonic()
        self._emit(job, name, 0, 1)
        ctx.progress = lambda d, n: self._emit(job, name, d, n)
        for fn, limit, status in ((main, self.timeouts[name], "ok"),
                                  (fallback, self.fallback_timeout, "fallback")):
            try:
                value = run_with_deadline(_bind(fn, ctx), job.token.child(limit),
                                          grace=self.grace, name=f"jam:{job.id}:{name}")
            except GenerationCancelled:
                if job.token.cancelled:
                    rep.status = "cancelled"
                    raise
                rep.error += f"{fn.__name__}: cancelled; "
                continue
            except Exception as exc:
                if job.token.cancelled:
                    rep.status = "cancelled"
                    raise GenerationCancelled(job.token.reason) from exc
                rep.error += f"{fn.__name__}: {type(exc).__name__}: {exc}; "
                continue
            problem = _check_phase(name, value)
            if problem:
                rep.error += f"{fn.__name__}: {problem}; "
                continue
            rep.status, rep.seconds = status, time.monotonic() - t0
            self._emit(job, name, 1, 1)
            return job.workspace.keep(name, value)
        rep.status, rep.seconds = "failed", time.monotonic() - t0
        self._emit(job, name, 1, 1)
        return None

    def _run(self, job: JamJob) -> None:
        t0 = time.monotonic()
        first: list[float] = []

        def first_sound() -> None:
            if not first:
                first.append(time.monotonic() - t0)
        ctx = JamContext(job.request, lambda d, n: None, sample_rate=self.sample_rate,
                         first_sound=first_sound, symbolic=self.symbolic)
        warnings: list[str] = []
        try:
            ctx.skeleton = self._phase(job, "skeleton", ctx)
            if ctx.skeleton is None:
                raise AIError("jam: no skeleton could be made: " + job.phases["skeleton"].error)
            length = job.request.bars * bar_ticks(ctx.skeleton.tpq, job.request.meter)
            parts = self._phase(job, "orchestration", ctx) or [ctx.skeleton]
            merged, fixes = merge_parts(parts, length)
            warnings += fixes
            problems = merge_problems(merged, length, ctx.skeleton.tempo)
            if problems:
                raise AIError("jam: merged score failed its checks: " + "; ".join(problems))
            ctx.score = job.workspace.keep("score", merged.replace(
                chords=ctx.skeleton.chords, key_signatures=ctx.skeleton.key_signatures,
                time_signatures=ctx.skeleton.time_signatures))
            audio = self._phase(job, "audio", ctx)
            if audio is not None:
                audio = normalize_loudness(audio)
            result = JamResult(ctx.score, audio, self.sample_rate, dict(job.phases),
                               first[0] if first else None, time.monotonic() - t0, warnings)
            if not job.future.cancelled():
                job.future.set_result(result)
        except BaseException as exc:
            job.workspace.release()
            if not job.future.done():
                if isinstance(exc, GenerationCancelled):
                    job.future.cancel()
                else:
                    job.future.set_exception(exc)
        finally:
            job.workspace.release()  # intermediates: the result keeps what it returns
            ctx.skeleton = ctx.score = None
            job.stopped.set()
            self._next(job)

    def close(self) -> None:
        """Cancel the running and queued jams."""
        with self._lock:
            waiting = list(self._waiting)
            self._waiting.clear()
            active = self._active
        for j in waiting:
            j.cancel(wait=0)
        if active is not None:
            active.cancel(wait=2.0)
