"""The backend protocol: one method, like an httpx transport.

``generate(request, progress, cancel) -> GenerationResult``. A backend does the work and
nothing else; queueing, timeouts, retries, validation and provenance belong to
:class:`~mos_lab.ai.service.generation.GenerationService`. Backends with weights also implement
``load``/``unload``/``memory_bytes`` so the service can manage memory (NOT-02) and
``verify`` so it can check version and checksum (NOT-04); :class:`BaseBackend` gives
no-op defaults for all of these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from mos_lab.ai.core.types import (
    CancelToken,
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    Progress,
)


@runtime_checkable
class Backend(Protocol):
    """What the service needs from a backend (plugins implement this)."""

    info: ModelInfo

    def generate(self, request: GenerationRequest, progress: Progress,
                 cancel: CancelToken) -> GenerationResult: ...

    def load(self) -> None: ...

    def unload(self) -> None: ...

    def memory_bytes(self) -> int: ...

    def verify(self) -> list[str]: ...


class BaseBackend:
    """Defaults for the optional parts of :class:`Backend`: nothing to load, no memory."""

    info: ModelInfo = ModelInfo("base")

    def generate(self, request: GenerationRequest, progress: Progress,
                 cancel: CancelToken) -> GenerationResult:
        raise NotImplementedError

    def load(self) -> None:
        """Bring weights into memory (called by the service before the first job)."""

    def unload(self) -> None:
        """Free weights (called after idle time or under memory pressure)."""

    def memory_bytes(self) -> int:
        """Bytes held while loaded (an estimate is fine)."""
        return 0

    def verify(self) -> list[str]:
        """Problems with the loaded weights (version or checksum mismatch); [] when fine."""
        return []


class FunctionBackend(BaseBackend):
    """A backend made from a function: handy for tests, plugins and quick experiments.

    >>> from mos_lab.ai.core.types import ModelInfo
    >>> b = FunctionBackend(lambda req, progress, cancel: None, ModelInfo("noop"))
    >>> b.info.name
    'noop'
    """

    def __init__(self, fn: Callable[[GenerationRequest, Progress, CancelToken],
                                    GenerationResult],
                 info: ModelInfo, *, memory: int = 0) -> None:
        self._fn = fn
        self.info = info
        self._memory = memory
        self.loaded = False
        self.loads = 0

    def generate(self, request: GenerationRequest, progress: Progress,
                 cancel: CancelToken) -> GenerationResult:
        return self._fn(request, progress, cancel)

    def load(self) -> None:
        self.loaded = True
        self.loads += 1

    def unload(self) -> None:
        self.loaded = False

    def memory_bytes(self) -> int:
        return self._memory if self.loaded else 0
