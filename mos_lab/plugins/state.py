"""Namespaced plugin state: each plugin writes only under its own name; updates are atomic."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mos_lab.plugins.manifest import PluginError


class SharedState:
    """One store for all plugins, keyed ``"plugin.key"``; readable by all, writable by owner."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._watchers: list[Callable[[str, Any], None]] = []

    def view(self, owner: str) -> StateView:
        """The handle a plugin gets: it can write only keys under ``owner``."""
        return StateView(self, owner)

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return copy.deepcopy(self._data.get(key, default))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._data)

    def watch(self, fn: Callable[[str, Any], None]) -> None:
        self._watchers.append(fn)

    def _write(self, owner: str, changes: Mapping[str, Any]) -> None:
        """Apply all changes or none; refused outright if any key is outside ``owner``."""
        outside = [k for k in changes if not k.startswith(owner + ".")]
        if outside:
            raise PluginError(f"plugin {owner!r} may not write {outside}: plugins write only "
                              f"their own keys ('{owner}.<key>')")
        with self._lock:
            self._data.update({k: copy.deepcopy(v) for k, v in changes.items()})
        for key, value in changes.items():
            for fn in list(self._watchers):
                fn(key, value)

    def _drop(self, owner: str) -> None:
        with self._lock:
            for key in [k for k in self._data if k.startswith(owner + ".")]:
                del self._data[key]


class StateView:
    """A plugin's window on the shared state: ``set`` its own keys, ``get`` any key."""

    def __init__(self, state: SharedState, owner: str) -> None:
        self._state = state
        self.owner = owner
        self._pending: dict[str, Any] | None = None

    def _key(self, key: str) -> str:
        return key if "." in key else f"{self.owner}.{key}"

    def get(self, key: str, default: Any = None) -> Any:
        """Read ``key`` (a bare key means this plugin's own)."""
        return self._state.get(self._key(key), default)

    def set(self, key: str, value: Any) -> None:
        """Write one of this plugin's keys (inside a transaction: at its end)."""
        full = self._key(key)
        if self._pending is not None:
            if not full.startswith(self.owner + "."):
                raise PluginError(f"plugin {self.owner!r} may not write {full!r}")
            self._pending[full] = value
        else:
            self._state._write(self.owner, {full: value})

    @contextmanager
    def transaction(self) -> Iterator[StateView]:
        """Group writes: all are applied together at the end, none if the block raises."""
        if self._pending is not None:
            raise PluginError("transactions do not nest")
        self._pending = {}
        try:
            yield self
            pending = self._pending
        finally:
            self._pending = None
        self._state._write(self.owner, pending)
