"""Which models are in memory: load on first use, unload after idle time or under a limit.

NOT-02 says a model must not stay loaded forever: the pool unloads a model that has been
idle for ``idle_unload_s`` and, when loading one more would pass ``memory_limit`` bytes,
unloads the least recently used idle models first (a model in use is never unloaded).
NOT-04: every load is followed by ``backend.verify()``; a version or checksum problem is
raised as :class:`ModelMismatchError` (the service reports it and falls back).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mos_lab.ai.core.backend import Backend
from mos_lab.ai.core.errors import ModelMismatchError, OutOfMemoryError


@dataclass
class _Slot:
    backend: Backend
    in_use: int = 0
    last_used: float = 0.0
    loaded: bool = False


class ModelPool:
    """Loaded models, their users and their memory. Thread-safe."""

    def __init__(self, *, memory_limit: int | None = None, idle_unload_s: float | None = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.memory_limit = memory_limit
        self.idle_unload_s = idle_unload_s
        self._clock = clock
        self._lock = threading.RLock()
        self._slots: dict[str, _Slot] = {}
        self.unloads: list[tuple[str, str]] = []  # (model, reason), most recent last

    def acquire(self, backend: Backend) -> None:
        """Load ``backend`` if needed (making room), verify it and mark it in use."""
        name = backend.info.name
        with self._lock:
            slot = self._slots.setdefault(name, _Slot(backend))
            slot.backend = backend
            if not slot.loaded:
                backend.load()
                slot.loaded = True
                problems = backend.verify()
                if problems:
                    self._unload(slot, "verify failed")
                    raise ModelMismatchError(f"model {name!r}: " + "; ".join(problems))
                self._make_room(slot)
            slot.in_use += 1
            slot.last_used = self._clock()

    def release(self, backend: Backend) -> None:
        with self._lock:
            slot = self._slots.get(backend.info.name)
            if slot is not None and slot.in_use:
                slot.in_use -= 1
                slot.last_used = self._clock()

    def _make_room(self, new: _Slot) -> None:
        if self.memory_limit is None:
            return
        idle = sorted((s for s in self._slots.values()
                       if s.loaded and not s.in_use and s is not new),
                      key=lambda s: s.last_used)
        while self.memory_in_use() > self.memory_limit and idle:
            self._unload(idle.pop(0), "memory limit")
        if self.memory_in_use() > self.memory_limit:
            need = new.backend.memory_bytes()
            self._unload(new, "memory limit")
            raise OutOfMemoryError(
                f"model {new.backend.info.name!r} needs {need / 2**20:.1f} MiB but the "
                f"service limit is {self.memory_limit / 2**20:.1f} MiB with "
                f"{self.memory_in_use() / 2**20:.1f} MiB in use by running models")

    def _unload(self, slot: _Slot, reason: str) -> None:
        slot.backend.unload()
        slot.loaded = False
        self.unloads.append((slot.backend.info.name, reason))
        del self.unloads[:-100]

    def reap(self) -> list[str]:
        """Unload models idle for longer than ``idle_unload_s``; their names."""
        if self.idle_unload_s is None:
            return []
        now = self._clock()
        out = []
        with self._lock:
            for name, slot in self._slots.items():
                if slot.loaded and not slot.in_use and now - slot.last_used >= self.idle_unload_s:
                    self._unload(slot, "idle")
                    out.append(name)
        return out

    def memory_in_use(self) -> int:
        with self._lock:
            return sum(s.backend.memory_bytes() for s in self._slots.values() if s.loaded)

    def loaded(self) -> list[str]:
        with self._lock:
            return sorted(n for n, s in self._slots.items() if s.loaded)

    def unload_all(self) -> None:
        with self._lock:
            for slot in self._slots.values():
                if slot.loaded:
                    self._unload(slot, "close")
