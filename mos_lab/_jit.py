"""Compiling with numba, for the layers that do (Apollo's kernels, the theater's pixel loops).

Compiled functions are cached on disk (``cache=True``) next to their module; where the
installed package is not writable the cache goes to ``$NUMBA_CACHE_DIR`` or a user cache
directory, chosen here before numba is imported. Where no location works at all, a
function is compiled once per process instead. Below every layer: it imports no
``mos_lab`` package.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any


def cache_dir() -> str | None:
    """A user cache dir for numba when the package's ``__pycache__`` is not writable."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
    with contextlib.suppress(OSError):  # unwritable: fall through to the user cache
        os.makedirs(here, exist_ok=True)
        if os.access(here, os.W_OK):
            return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "mos_lab", "numba")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    os.environ["NUMBA_CACHE_DIR"] = path
    return path


_FALLBACK_CACHE = cache_dir()

import numba  # noqa: E402  (after the cache dir is chosen)

if _FALLBACK_CACHE is not None:
    setattr(numba.config, "CACHE_DIR", _FALLBACK_CACHE)  # noqa: B010  (untyped module)


def jit(*, fastmath: set[str] | bool = False, nogil: bool = True,
        parallel: bool = False) -> Callable[[Callable[..., Any]], Any]:
    """``njit(cache=True, ...)``, or uncached if no cache location is writable."""
    def deco(fn: Callable[..., Any]) -> Any:
        opts: dict[str, Any] = {"nogil": nogil, "fastmath": fastmath}
        if parallel:
            opts["parallel"] = True
        try:
            return numba.njit(cache=True, **opts)(fn)
        except RuntimeError:  # "no locator available": compile once per process instead
            return numba.njit(**opts)(fn)
    return deco
