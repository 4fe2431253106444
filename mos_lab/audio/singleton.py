"""One synth per process: ``get_engine()`` is idempotent and locked (APO-04)."""

from __future__ import annotations

import threading
from typing import Any

from mos_lab.audio.synth import Synth

_lock = threading.Lock()
_engine: Synth | None = None


def get_engine(**kwargs: Any) -> Synth:
    """Return the process-wide :class:`Synth`, creating it once (thread-safe).

    Keyword arguments are used only by the call that creates it; later calls with
    different arguments get the existing instance.
    """
    global _engine
    eng = _engine
    if eng is not None:
        return eng
    with _lock:
        if _engine is None:
            _engine = Synth(**kwargs)
        return _engine


def reset_engine() -> None:
    """Forget the process-wide synth (tests, kernel restart of the audio layer)."""
    global _engine
    with _lock:
        if _engine is not None:
            _engine.reset()
        _engine = None
