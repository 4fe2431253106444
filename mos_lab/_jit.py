"""Compiling with numba, for the layers that do (Apollo's kernels, the theater's pixel loops).

Compiled functions are cached on disk (``cache=True``) next to their module; where the
installed package is not writable the cache goes to ``$NUMBA_CACHE_DIR`` or a user cache
directory, chosen here before numba is imported. Where no location works at all, a
function is compiled once per process instead. Below every layer: it imports no
``mos_lab`` package.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO


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
from numba.core import event as _event  # noqa: E402

if _FALLBACK_CACHE is not None:
    setattr(numba.config, "CACHE_DIR", _FALLBACK_CACHE)  # noqa: B010  (untyped module)


# -- saying what happens while compiling (a cold cache: the first run) -------------------
NOTICE_AFTER_S = 1.0  # compiling longer than this is announced (a warm cache loads in less)
PROGRESS_EVERY_S = 10.0  # then a line this often, and one when done
QUIET_S = 0.5  # a pause this long between compilations ends the episode


def _stream() -> TextIO:
    """stdout inside a Jupyter kernel (shown in the running cell as text, not as an
    error), stderr elsewhere (the command line: stdout may be data)."""
    out = sys.stdout
    if out is not None and type(out).__module__.startswith("ipykernel"):
        return out
    return sys.stderr


def _where() -> str:
    return (os.environ.get("NUMBA_CACHE_DIR")
            or os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__"))


class CompileNotice(_event.Listener):
    """Announces mos_lab's numba compilations that take a while: the first run of a fresh
    install compiles for tens of seconds (the disk cache is cold), which otherwise looks
    like a hang. Nothing is said when the cache loads. ``MOS_LAB_COMPILE_NOTICE=0`` mutes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._t0 = 0.0
        self._last = 0.0
        self._functions = 0
        self._thread: threading.Thread | None = None
        self._announced = False
        self.said: list[str] = []  # what was announced (tests, diagnostics)

    @staticmethod
    def _ours(ev: Any) -> bool:
        fn = getattr((ev.data or {}).get("dispatcher"), "py_func", None)
        return str(getattr(fn, "__module__", "")).startswith("mos_lab")

    def on_start(self, event: Any) -> None:
        if not self._ours(event):
            return
        with self._lock:
            self._depth += 1
            self._functions += 1
            if self._thread is None:
                self._t0 = time.monotonic()
                self._thread = threading.Thread(target=self._watch, daemon=True,
                                                name="mos-lab-compile-notice")
                self._thread.start()

    def on_end(self, event: Any) -> None:
        if not self._ours(event):
            return
        with self._lock:
            self._depth = max(0, self._depth - 1)
            self._last = time.monotonic()

    def _say(self, text: str) -> None:
        self.said.append(text)
        if os.environ.get("MOS_LAB_COMPILE_NOTICE", "1") == "0":
            return
        with contextlib.suppress(Exception):  # a closed stream must not break compiling
            out = _stream()
            print(text, file=out, flush=True)

    def _done(self, n: int, elapsed: float) -> None:
        self._say(f"mos_lab: compiled {n} function{'' if n == 1 else 's'} in {elapsed:.1f} s; "
                  "later runs load them from the cache.")

    def finish(self) -> None:
        """At exit: close an announced episode that the process ends (a short command)."""
        with self._lock:
            if self._thread is None or not self._announced:
                return
            self._thread, self._announced = None, False
            n, elapsed = self._functions, time.monotonic() - self._t0
        self._done(n, elapsed)

    def _watch(self) -> None:
        next_at = 0.0
        while True:
            time.sleep(0.1)
            with self._lock:
                if self._thread is not threading.current_thread():
                    return  # finished at exit
                now = time.monotonic()
                busy = self._depth > 0 or now - self._last < QUIET_S
                elapsed, n = now - self._t0, self._functions
                announced = self._announced
                if not busy:
                    self._thread, self._functions, self._announced = None, 0, False
            if not busy:
                if announced:
                    self._done(n, elapsed)
                return
            if not announced and elapsed >= NOTICE_AFTER_S:
                with self._lock:
                    self._announced = True
                next_at = now + PROGRESS_EVERY_S
                self._say("mos_lab: compiling its audio and drawing kernels with numba "
                          "(first run after an install only, about 20-60 s; cached in "
                          f"{_where()})...")
            elif announced and now >= next_at:
                next_at = now + PROGRESS_EVERY_S
                self._say(f"mos_lab: still compiling ({elapsed:.0f} s, {n} so far)...")


NOTICE = CompileNotice()
_event.register("numba:compile", NOTICE)
atexit.register(NOTICE.finish)


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
