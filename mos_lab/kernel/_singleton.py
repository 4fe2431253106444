"""The kernel's one Session: made on first use, under a lock, closed at exit."""

from __future__ import annotations

import atexit
import threading
from typing import Any

from mos_lab.kernel.session import Session
from mos_lab.widgets import set_provider

_lock = threading.Lock()
_session: Session | None = None
_atexit = False


def session(**options: Any) -> Session:
    """The kernel's Session (the same object from every cell and thread).

    ``options`` (``output=``, ``sample_rate=``) apply only when the session is made; to
    change the output later set ``session().output``.
    """
    global _session, _atexit
    s = _session
    if s is not None and not s.closed:
        return s
    with _lock:
        if _session is None or _session.closed:
            _session = Session(**options)
            set_provider(session)
            if not _atexit:
                atexit.register(shutdown)
                _atexit = True
        return _session


def current() -> Session | None:
    """The session if one was made (never makes one)."""
    return _session


def shutdown() -> None:
    """Close the session: widgets, engine, audio streams and threads (kernel exit)."""
    global _session
    with _lock:
        s, _session = _session, None
    if s is not None:
        s.close()
