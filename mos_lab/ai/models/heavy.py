"""Backends that need torch/transformers: imported lazily, behind the ``ai`` extra.

Nothing here is imported by ``mos_lab.ai`` itself; asking for such a backend without the
packages gives :class:`MissingAIDependencyError` naming what to install, and the offline
backends keep working. ``TransformersMusicGen`` is
:class:`mos_lab.ai.models.musicgen.MusicGenBackend` (a local folder, every batch item and
channel kept, windows past 30 s), kept here under its old name.
"""

from __future__ import annotations

import importlib
from typing import Any

from mos_lab.ai.core.errors import MissingAIDependencyError
from mos_lab.ai.models.musicgen.backend import MusicGenBackend as TransformersMusicGen

__all__ = ["TransformersMusicGen", "require"]


def require(package: str, what: str) -> Any:
    """Import ``package`` or raise MissingAIDependencyError saying what needed it."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise MissingAIDependencyError(package, what) from None
