"""Giving memory back to the system when the engine goes idle (issue 18).

glibc returns freed memory to the system only from the top of each heap; what a score
load, a SoundFont load or numba's loading leaves free in the middle stays resident. An
idle engine (an output parked, a load finished) calls :func:`release_free_memory`, which
asks glibc (``malloc_trim(0)``) to drop those pages. Elsewhere (no glibc) it does nothing.

:func:`release_library_pages` lets a parked engine unmap the clean pages of LLVM's library
(llvmlite: ~69 MB resident once numba has loaded the kernels). They are code and read-only
data that only compiling and loading kernels use: playing calls the compiled kernels, not
LLVM. Weighed honestly: they are file pages shared through the page cache, so this lowers
the kernel's RSS (and its PSS by its share), not its private memory; the machine keeps the
file's pages cached once, and unmapped they are the first the system may reclaim. A later
compile faults back what it touches (minor faults from the page cache). Only mappings
with no private (copied-on-write) page are touched, so no data can be lost.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from collections.abc import Sequence
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


MADV_DONTNEED = 4  # Linux: drop the range's pages; clean file pages come back on access
LLVM_LIBRARIES = ("libllvmlite",)
_libc: Any = None


def _madvise() -> Any:
    """libc's ``madvise``, or None (not Linux, or no C library found)."""
    global _libc
    with _lock:
        if _libc is None:
            name = ctypes.util.find_library("c")
            try:
                fn = ctypes.CDLL(name, use_errno=True).madvise if name else None
            except (OSError, AttributeError):
                fn = None
            if fn is not None:
                fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
                fn.restype = ctypes.c_int
            _libc = fn or False
        return _libc or None


def clean_library_maps(names: Sequence[str] = LLVM_LIBRARIES,
                       smaps: str = "/proc/self/smaps") -> list[tuple[int, int, int]]:
    """``(start, length, resident bytes)`` of this process's read-only mappings of the
    named shared libraries that hold no private (written) page: those whose pages are all
    the file's own, which can be dropped and read back unchanged (resident or not)."""
    out: list[tuple[int, int, int]] = []
    try:
        with open(smaps, encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    cur: dict[str, Any] | None = None

    def done(m: dict[str, Any] | None) -> None:
        if (m is not None and m["ok"] and m.get("Private_Dirty", 1) == 0
                and m.get("Anonymous", 1) == 0):
            out.append((m["start"], m["end"] - m["start"], m["Rss"] * 1024))

    for line in lines:
        head, _, rest = line.partition(" ")
        if not head.endswith(":"):  # a mapping's first line: range perms offset dev inode path
            done(cur)
            parts = line.split()
            lo, _, hi = parts[0].partition("-")
            path = parts[5] if len(parts) > 5 else ""
            perms = parts[1] if len(parts) > 1 else "----"
            base = os.path.basename(path)
            cur = {"start": int(lo, 16), "end": int(hi, 16),
                   "ok": "w" not in perms and perms.endswith("p") and path.startswith("/")
                   and any(base.startswith(n) for n in names)}
        elif cur is not None and head[:-1] in ("Rss", "Private_Dirty", "Anonymous"):
            cur[head[:-1]] = int(rest.split()[0])
    done(cur)
    return out


_clean_maps: dict[tuple[str, ...], list[tuple[int, int, int]]] = {}


def release_library_pages(names: Sequence[str] = LLVM_LIBRARIES) -> int:
    """Unmap the resident pages of the named libraries' clean read-only mappings (see the
    module's note); returns the bytes of the ranges released (0 off Linux, or none mapped).

    The mappings are found once (``/proc/self/smaps`` takes milliseconds to read; a parked
    render thread must not spend them each time): a read-only library mapping that had no
    private page then never gets one, and the library is never unloaded.
    """
    if not sys.platform.startswith("linux") or "llvmlite" not in sys.modules:
        return 0
    fn = _madvise()
    if fn is None:
        return 0
    key = tuple(names)
    maps = _clean_maps.get(key)
    if not maps:
        maps = clean_library_maps(key)
        with _lock:
            _clean_maps[key] = maps
    freed = 0
    for start, length, _resident in maps:
        if fn(start, length, MADV_DONTNEED) == 0:
            freed += length
    return freed
