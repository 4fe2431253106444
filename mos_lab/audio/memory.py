"""Giving the C heap's free pages back to the system when the engine goes idle (issue 18).

glibc returns freed memory to the system only from the top of each heap; what a score
load, a SoundFont load or numba's loading leaves free in the middle stays resident. An
idle engine (an output parked, a load finished) calls :func:`release_free_memory`, which
asks glibc (``malloc_trim(0)``) to drop those pages. Elsewhere (no glibc) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from typing import Any

_lock = threading.Lock()
_trim: Any = None
_looked = False


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None (another C library, or none found)."""
    global _trim, _looked
    with _lock:
        if not _looked:
            _looked = True
            name = ctypes.util.find_library("c")
            try:
                fn = ctypes.CDLL(name).malloc_trim if name else None
            except (OSError, AttributeError):
                fn = None
            if fn is not None:
                fn.argtypes = [ctypes.c_size_t]
                fn.restype = ctypes.c_int
            _trim = fn
        return _trim


def release_free_memory() -> bool:
    """Return free heap pages to the system; True where glibc did (it changes no data)."""
    fn = _malloc_trim()
    if fn is None:
        return False
    fn(0)
    return True
