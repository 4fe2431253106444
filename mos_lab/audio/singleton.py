"""One synth per process: ``get_synth()`` is idempotent and locked (APO-04)."""

from __future__ import annotations

import threading
from typing import Any

from mos_lab.audio.synth import Synth

_lock = threading.Lock()
_synth: Synth | None = None


def get_synth(**kwargs: Any) -> Synth:
    """Return the process-wide :class:`Synth`, creating it once (thread-safe).

    Keyword arguments are used only by the call that creates it; later calls with
    different arguments get the existing instance.
    """
    global _synth
    synth = _synth
    if synth is not None:
        return synth
    with _lock:
        if _synth is None:
            _synth = Synth(**kwargs)
        return _synth


def reset_synth() -> None:
    """Forget the process-wide synth (tests, kernel restart of the audio layer)."""
    global _synth
    with _lock:
        if _synth is not None:
            _synth.reset()
        _synth = None
