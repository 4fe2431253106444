"""The errors of the AI services: each says what failed, where, and what to do next.

All derive from :class:`AIError`, so a notebook can catch one type; the service turns
backend failures into these before a user sees them (NOT-08, RKY-04).
"""

from __future__ import annotations


class AIError(Exception):
    """Base class of every error raised by ``mos_lab.ai``."""


class InvalidRequestError(AIError, ValueError):
    """A prompt, parameter or conditioning score was rejected before any work (NOT-03).

    ``problems`` lists ``"field: what is wrong"`` lines.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems) or ["invalid request"]
        super().__init__("invalid request: " + "; ".join(self.problems))


class QueueFullError(AIError):
    """The generation queue is full; wait for jobs to finish or raise ``max_queue``."""


class GenerationTimeout(AIError, TimeoutError):
    """A job ran past its timeout and no fallback succeeded (NOT-01, MGN-01)."""


class GenerationCancelled(AIError):
    """The job was cancelled by its token (JAM-08)."""


class BackendError(AIError):
    """A backend failed for good (bad request, broken model); not retried."""


class TransientBackendError(BackendError):
    """A backend failed in a way that may pass: network down, 5xx, rate limited (NOT-08).

    ``retry_after`` (seconds) comes from the server when it said so (HTTP 429/503).
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidResponseError(BackendError):
    """A backend answered with data that is not what was asked for: bad JSON, bad audio
    (NOT-09, MGN-09). Retried like a degraded output, then the fallback runs."""


class InvalidOutputError(AIError):
    """Generated music failed its checks after every retry (NOT-06, MGN-02)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("generated output failed its checks: " + "; ".join(self.problems))


class OutOfMemoryError(AIError, MemoryError):
    """A backend ran out of memory even at the smallest batch and length (NOT-05)."""


class ModelMismatchError(AIError):
    """A model's weights do not match the version or checksum it claims (NOT-04)."""


class RateLimitedError(AIError):
    """Too many requests are waiting on the client-side rate limiter (RKY-01, INT-02)."""


class MissingAIDependencyError(AIError, ImportError):
    """A backend needs a heavy optional package (torch, transformers) that is not there."""

    def __init__(self, package: str, what: str) -> None:
        super().__init__(
            f"{what} needs the optional package '{package}': pip install 'mos_lab[ai]' "
            f"(or pip install {package}). The offline backends ('markov', 'render', "
            "'rules') work without it."
        )
        self.package = package
