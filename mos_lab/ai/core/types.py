"""Plain data of the AI services: requests, results, provenance, model identity, cancel tokens.

Why separate: backends, the service, Instant Jam and the assistant all speak these types,
and none of them should import another's machinery to do so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from mos_lab.ai.core.errors import GenerationCancelled, GenerationTimeout
from mos_lab.engine import SAMPLE_RATE
from mos_lab.score import Score

#: ``progress(done, total)``: what a backend calls to report how far it is (JAM-07).
Progress = Callable[[float, float], None]


class CancelToken:
    """A job's cancel flag plus its deadline: the one thing a backend must poll.

    ``check()`` raises :class:`GenerationCancelled` or :class:`GenerationTimeout`;
    ``sleep(s)`` waits but wakes at once on cancel, so a cooperative backend stops within
    one poll interval (JAM-08). ``child()`` makes a token that is cancelled with its parent
    and may have a shorter deadline (a per-phase timeout inside a jam).
    """

    def __init__(self, deadline: float | None = None,
                 parent: CancelToken | None = None) -> None:
        self._event = threading.Event()
        self.deadline = deadline  # time.monotonic() value, or None for no deadline
        self.reason = ""
        self._parent = parent
        self._children: list[CancelToken] = []
        if parent is not None:
            if parent.deadline is not None:
                self.deadline = (parent.deadline if deadline is None
                                 else min(deadline, parent.deadline))
            parent._children.append(self)
            if parent.cancelled:
                self.cancel(parent.reason)

    @classmethod
    def with_timeout(cls, seconds: float | None, parent: CancelToken | None = None,
                     ) -> CancelToken:
        """A token whose deadline is ``seconds`` from now (None: no deadline)."""
        return cls(None if seconds is None else time.monotonic() + seconds, parent)

    def child(self, timeout: float | None = None) -> CancelToken:
        return CancelToken.with_timeout(timeout, parent=self)

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()
        for c in list(self._children):
            c.cancel(reason)

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None: no deadline)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def check(self) -> None:
        """Raise if cancelled or past the deadline; backends call this between steps."""
        if self._event.is_set():
            raise GenerationCancelled(self.reason)
        if self.expired:
            raise GenerationTimeout("deadline passed")

    def sleep(self, seconds: float) -> None:
        """Sleep up to ``seconds`` (and the deadline), waking at once on cancel; then check."""
        rem = self.remaining()
        self._event.wait(seconds if rem is None else min(seconds, rem))
        self.check()


@dataclass(frozen=True)
class ModelInfo:
    """Who a backend is: name, version and the checksum of its weights (NOT-04)."""

    name: str
    version: str = "0"
    checksum: str = ""
    kind: str = "symbolic"  # "symbolic" (returns a Score) or "audio" (returns samples)
    remote: bool = False


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate. Everything is checked by ``validate_request`` before any work.

    ``key`` like "D minor" / "Bb" / "f#m"; ``bars`` of ``meter`` at ``bpm``; ``condition``
    a Score (or NVX1 dict) to continue or orchestrate; ``duration_s`` for audio (default
    from bars and bpm); ``batch`` candidates; ``params`` free-form backend options.
    """

    prompt: str = ""
    key: str = "C major"
    bpm: float = 100.0
    bars: int = 8
    meter: tuple[int, int] = (4, 4)
    seed: int | None = None
    condition: Score | Mapping[str, Any] | None = None
    duration_s: float | None = None
    sample_rate: int = SAMPLE_RATE  # the engine's: generated audio plays and saves as is
    batch: int = 1
    params: Mapping[str, Any] = field(default_factory=dict)

    def with_changes(self, **changes: Any) -> GenerationRequest:
        return replace(self, **changes)

    @property
    def seconds(self) -> float:
        """Length asked for in seconds: ``duration_s`` or bars x beats at bpm."""
        if self.duration_s is not None:
            return float(self.duration_s)
        num, den = self.meter
        return self.bars * num * (4 / den) * 60.0 / self.bpm


@dataclass(frozen=True)
class Provenance:
    """Where a result came from (NOT-10): model, version, checksum, seed, prompt and time.

    ``missing`` names what the backend did not say (e.g. "checksum"), so an unexplained
    result is visible rather than silent; ``fallback_from`` names the backend that failed
    when a fallback made this result; ``notes`` keeps what happened on the way (retries,
    size reductions, alignment corrections).
    """

    model: str
    version: str
    checksum: str
    seed: int | None
    prompt: str
    created: float  # time.time()
    elapsed_s: float = 0.0
    attempts: int = 1
    fallback_from: str | None = None
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class GenerationResult:
    """A validated result: a Score, audio samples (frames, channels) float32, or both.

    ``partial`` marks a result that is not everything that was asked for (a stream cut
    short, a jam phase that fell back); ``missing`` names what is absent.
    """

    score: Score | None = None
    audio: np.ndarray | None = None
    sample_rate: int | None = None
    provenance: Provenance | None = None
    partial: bool = False
    missing: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        if self.audio is not None and self.sample_rate:
            return len(self.audio) / self.sample_rate
        return self.score.duration if self.score is not None else 0.0

    def release(self) -> None:
        """Drop the big buffers now (MGN-06); provenance stays."""
        self.audio = None
        self.score = None
