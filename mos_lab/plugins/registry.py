"""The plugin registry: discovery by entry points, API checks, dependency order, lifecycles."""

from __future__ import annotations

import graphlib
import logging
import threading
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Protocol

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mos_lab.bus import EventBus
from mos_lab.plugins.manifest import Manifest, PluginError
from mos_lab.plugins.state import SharedState, StateView

ENTRY_POINT_GROUP = "mos_lab.plugins"
log = logging.getLogger(__name__)


class Plugin(Protocol):
    """What a plugin object provides: a ``manifest``, ``start(context)`` and ``stop()``."""

    manifest: Manifest

    def start(self, context: PluginContext) -> None: ...

    def stop(self) -> None: ...


@dataclass
class PluginContext:
    """What a started plugin may use: the bus (its subscriptions are owned by it), its
    state view, and the plugins it declared as requirements (already started)."""

    name: str
    bus: EventBus
    state: StateView
    requirements: dict[str, Any] = field(default_factory=dict)

    def subscribe(self, event_type: str, handler: Any) -> Any:
        """Subscribe on behalf of the plugin; released when the plugin stops."""
        return self.bus.subscribe(event_type, handler, owner=self, weak=False)


class PluginRegistry:
    """Registers plugins, refuses incompatible or cyclic ones, starts them in order."""

    def __init__(self, bus: EventBus, state: SharedState | None = None) -> None:
        self.bus = bus
        self.state = state or SharedState()
        self._plugins: dict[str, Plugin] = {}
        self._contexts: dict[str, PluginContext] = {}
        self._lock = threading.RLock()

    def register(self, plugin: Plugin) -> None:
        """Add a plugin after checking its API version, its name and the dependency graph."""
        m = plugin.manifest
        m.check_api()
        with self._lock:
            if m.name in self._plugins:
                raise PluginError(f"plugin {m.name!r} is already registered")
            graph = {n: set(p.manifest.requires) for n, p in self._plugins.items()}
            graph[m.name] = set(m.requires)
            try:
                tuple(graphlib.TopologicalSorter(graph).static_order())
            except graphlib.CycleError as exc:
                cycle = " -> ".join(reversed(exc.args[1]))  # read "->" as "requires"
                raise PluginError(f"plugin {m.name!r} would make a dependency cycle "
                                  f"(-> means requires): {cycle}") from None
            self._plugins[m.name] = plugin

    def discover(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Register every installed plugin (entry points); bad ones are logged and skipped."""
        found = []
        for ep in metadata.entry_points(group=group):
            try:
                obj = ep.load()
                plugin = obj() if isinstance(obj, type) else obj
                self.register(plugin)
                found.append(plugin.manifest.name)
            except Exception as exc:  # one broken package must not stop the others
                log.warning("plugin entry point %s skipped: %s", ep.name, exc)
                self.bus.emit("error", source="plugins", message=f"{ep.name}: {exc}")
        return found

    @property
    def names(self) -> list[str]:
        return sorted(self._plugins)

    @property
    def started(self) -> list[str]:
        return list(self._contexts)

    def order(self) -> list[str]:
        """Start order: every plugin after the plugins it requires."""
        graph = {n: set(p.manifest.requires) for n, p in self._plugins.items()}
        return [n for n in graphlib.TopologicalSorter(graph).static_order() if n in graph]

    def _check_requirements(self, name: str) -> None:
        for dep, spec in self._plugins[name].manifest.requires.items():
            if dep not in self._plugins:
                raise PluginError(f"plugin {name!r} requires {dep!r}, which is not installed")
            version = Version(self._plugins[dep].manifest.version)
            if version not in SpecifierSet(spec):
                raise PluginError(f"plugin {name!r} requires {dep} {spec}, but {dep} "
                                  f"{version} is installed")
            if dep not in self._contexts:
                raise PluginError(f"plugin {name!r} requires {dep!r}, which did not start")

    def start(self, name: str | None = None) -> list[str]:
        """Start one plugin (its requirements first) or all; returns what started."""
        with self._lock:
            todo = self.order()
            if name is not None:
                if name not in self._plugins:
                    raise PluginError(f"plugin {name!r} is not registered")
                needed = self._closure(name)
                todo = [n for n in todo if n in needed]
            done = []
            for n in todo:
                if n in self._contexts:
                    continue
                ctx = PluginContext(n, self.bus, self.state.view(n),
                                    {d: self._plugins[d]
                                     for d in self._plugins[n].manifest.requires
                                     if d in self._plugins})
                try:
                    self._check_requirements(n)
                    self._plugins[n].start(ctx)
                except Exception as exc:
                    self._release(n, ctx)
                    self.bus.emit("error", source=f"plugin:{n}", message=str(exc))
                    if name is not None:
                        raise PluginError(f"plugin {n!r} failed to start: {exc}") from exc
                    continue
                self._contexts[n] = ctx
                done.append(n)
            return done

    def _closure(self, name: str) -> set[str]:
        seen, stack = set(), [name]
        while stack:
            n = stack.pop()
            if n in seen or n not in self._plugins:
                continue
            seen.add(n)
            stack.extend(self._plugins[n].manifest.requires)
        return seen

    def stop(self, name: str | None = None) -> None:
        """Stop one plugin (and those that require it) or all, in reverse start order."""
        with self._lock:
            order = [n for n in reversed(self.order()) if n in self._contexts]
            if name is not None:
                dependants = {n for n in self._plugins if name in self._closure(n)}
                order = [n for n in order if n in dependants]
            for n in order:
                ctx = self._contexts.pop(n)
                try:
                    self._plugins[n].stop()
                except Exception as exc:
                    self.bus.emit("error", source=f"plugin:{n}", message=f"stop: {exc}")
                self._release(n, ctx)

    def _release(self, name: str, ctx: PluginContext) -> None:
        """Everything a plugin owned goes with it: subscriptions, then its state."""
        self.bus.dispose_owner(ctx)
        self.state._drop(name)

    def close(self) -> None:
        self.stop()
