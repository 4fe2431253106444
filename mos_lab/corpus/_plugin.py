"""The worker plugin that warms a pooled worker; imported only once distributed is there."""

from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin

from mos_lab.corpus.warm import warm


class Warm(WorkerPlugin):
    """Runs :func:`mos_lab.corpus.warm.warm` when a worker (or its restart) starts."""

    name = "mos_lab-corpus-warm"

    def __init__(self, modules: tuple[str, ...]) -> None:
        self.modules = modules

    def setup(self, worker: Any) -> None:
        """Import the task modules and make their first call before the worker takes tasks."""
        warm(self.modules)
