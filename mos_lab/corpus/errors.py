"""The one error a corpus job raises before it starts; per-file failures are table rows."""

from __future__ import annotations

from typing import Any


class CorpusError(RuntimeError):
    """A job that cannot start: no scheduler at the address, a missing extra, no inputs."""


def need(module: str) -> Any:
    """Import ``module`` or raise CorpusError naming the ``corpus`` extra that brings it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise CorpusError(f"corpus jobs need {module.split('.')[0]}: "
                          "pip install 'mos_lab[corpus]'") from None
