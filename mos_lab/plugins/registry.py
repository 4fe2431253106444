"""The plugin registry: discovery by entry points, API checks, dependency order, lifecycles."""

from __future__ import annotations

import graphlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Protocol

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mos_lab.bus import EventBus
from mos_lab.plugins import sandbox
from mos_lab.plugins.isolation import IsolatedPlugin
from mos_lab.plugins.manifest import ENTRY_POINT_GROUP, Manifest, PluginError
from mos_lab.plugins.sandbox import SandboxUnavailable
from mos_lab.plugins.state import SharedState, StateView

log = logging.getLogger(__name__)


class Plugin(Protocol):
    """What a plugin object provides: a ``manifest``, ``start(context)`` and ``stop()``."""

    manifest: Manifest

    def start(self, context: PluginContext) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class WidgetSpec:
    """A widget a plugin offers: ``factory(**options)`` makes one (``registry.widget``)."""

    name: str
    plugin: str
    factory: Callable[..., Any]
    description: str = ""


@dataclass(frozen=True)
class ToolSpec:
    """An assistant tool a plugin offers: ``fn(arguments) -> str``, arguments checked
    against ``schema`` (JSON Schema, an object) before it runs."""

    name: str
    plugin: str
    description: str
    schema: Mapping[str, Any]
    fn: Callable[[dict[str, Any]], str]


_PART = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


@dataclass
class PluginContext:
    """What a started plugin may use: the bus (its subscriptions are owned by it), its
    state view, the plugins it declared as requirements (already started), and hooks to
    offer widgets and assistant tools (withdrawn when it stops)."""

    name: str
    bus: EventBus
    state: StateView
    requirements: dict[str, Any] = field(default_factory=dict)
    widgets: dict[str, WidgetSpec] = field(default_factory=dict)
    tools: dict[str, ToolSpec] = field(default_factory=dict)

    def subscribe(self, event_type: str, handler: Any) -> Any:
        """Subscribe on behalf of the plugin; released when the plugin stops."""
        return self.bus.subscribe(event_type, handler, owner=self, weak=False)

    def add_widget(self, name: str, factory: Callable[..., Any], description: str = "") -> str:
        """Offer a widget as ``"<plugin>.<name>"``; returns that full name."""
        if not _PART.match(name) or not callable(factory):
            raise PluginError(f"plugin {self.name!r}: widget {name!r} needs a lower-case "
                              "name and a callable factory")
        full = f"{self.name}.{name}"
        if full in self.widgets:
            raise PluginError(f"plugin {self.name!r} already offers widget {full!r}")
        self.widgets[full] = WidgetSpec(full, self.name, factory, description)
        return full

    def add_tool(self, name: str, description: str, schema: Mapping[str, Any],
                 fn: Callable[[dict[str, Any]], str]) -> str:
        """Offer an assistant tool as ``"<plugin>_<name>"`` (tool names allow no dots)."""
        if not _PART.match(name) or not callable(fn):
            raise PluginError(f"plugin {self.name!r}: tool {name!r} needs a lower-case "
                              "name and a callable")
        if not isinstance(schema, Mapping) or schema.get("type") != "object":
            raise PluginError(f"plugin {self.name!r}: tool {name!r} schema must be a JSON "
                              "Schema of type 'object'")
        if not description.strip():
            raise PluginError(f"plugin {self.name!r}: tool {name!r} needs a description")
        full = f"{self.name}_{name}"
        if full in self.tools:
            raise PluginError(f"plugin {self.name!r} already offers tool {full!r}")
        self.tools[full] = ToolSpec(full, self.name, description, dict(schema), fn)
        return full


@dataclass
class PluginStatus:
    """One row of ``registry.status()``: who, from where, and in which state (and why)."""

    name: str
    version: str = ""
    source: str = ""
    trusted: bool = True
    state: str = "registered"  # registered, started, failed, stopped, refused, error
    reason: str = ""


class PluginRegistry:
    """Registers plugins, refuses incompatible or cyclic ones, starts them in order, and
    keeps a status row for every plugin it was offered (``status()``, ``table()``)."""

    def __init__(self, bus: EventBus, state: SharedState | None = None) -> None:
        self.bus = bus
        self.state = state or SharedState()
        self._plugins: dict[str, Plugin] = {}
        self._contexts: dict[str, PluginContext] = {}
        self._status: dict[str, PluginStatus] = {}
        self._offered: set[tuple[str, str]] = set()
        self._lock = threading.RLock()

    def register(self, plugin: Plugin, source: str = "") -> None:
        """Add a plugin after checking its API version, its name and the dependency graph."""
        m = plugin.manifest
        row = PluginStatus(m.name, m.version, source or type(plugin).__module__, m.trusted)
        with self._lock:
            try:
                self._check_new(plugin)
            except PluginError as exc:
                if m.name not in self._plugins:
                    self._status[m.name] = PluginStatus(**{**row.__dict__, "state": "refused",
                                                           "reason": str(exc)})
                raise
            self._plugins[m.name] = plugin
            self._status[m.name] = row

    def _check_new(self, plugin: Plugin) -> None:
        m = plugin.manifest
        m.check_api()
        if not m.trusted and not isinstance(plugin, IsolatedPlugin):
            raise PluginError(f"plugin {m.name!r} is marked untrusted but is an object in "
                              "this process; untrusted plugins run only in the sandbox "
                              "(IsolatedPlugin, or a plugin.toml drop-in)")
        if m.name in self._plugins:
            raise PluginError(f"plugin {m.name!r} is already registered (from "
                              f"{self._status[m.name].source})")
        graph = {n: set(p.manifest.requires) for n, p in self._plugins.items()}
        graph[m.name] = set(m.requires)
        try:
            tuple(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as exc:
            cycle = " -> ".join(reversed(exc.args[1]))  # read "->" as "requires"
            raise PluginError(f"plugin {m.name!r} would make a dependency cycle "
                              f"(-> means requires): {cycle}") from None

    def _offer(self, label: str, source: str, load: Callable[[], Plugin]) -> str | None:
        """Load and register one candidate; a failure is a status row and an error event.
        A candidate offered before (same label and source) is skipped, whatever came of
        it: discovering again adds only what is new."""
        if (label, source) in self._offered:
            return None
        self._offered.add((label, source))
        try:
            plugin = load()
            if not isinstance(getattr(plugin, "manifest", None), Manifest):
                raise PluginError(f"{label}: {type(plugin).__name__} has no Manifest "
                                  "(plugins provide manifest, start(context) and stop())")
            self.register(plugin, source)
            return plugin.manifest.name
        except Exception as exc:  # one broken package must not stop the others
            log.warning("plugin %s skipped: %s", label, exc)
            with self._lock:
                if not any(r.source == source for r in self._status.values()):
                    key = label if label not in self._status else f"{label} ({source})"
                    self._status[key] = PluginStatus(label, source=source, state="error",
                                                     reason=f"{type(exc).__name__}: {exc}")
            self.bus.emit("error", source="plugins", message=f"{label}: {exc}")
            return None

    def discover(self, group: str = ENTRY_POINT_GROUP,
                 folders: Iterable[str | os.PathLike[str]] = ()) -> list[str]:
        """Register every installed plugin (entry points) and those in ``folders``; bad
        ones get a status row and an error event and are skipped. Returns the new names."""
        found = []
        for ep in metadata.entry_points(group=group):
            dist = getattr(ep.dist, "name", None) or "?"

            def load(ep: metadata.EntryPoint = ep) -> Plugin:
                obj = ep.load()
                return obj() if isinstance(obj, type) else obj

            name = self._offer(ep.name, f"entry point {ep.name} ({dist})", load)
            if name:
                found.append(name)
        for folder in folders:
            found += self.load_folder(folder)
        return found

    def load_folder(self, folder: str | os.PathLike[str]) -> list[str]:
        """Register the plugins of a plugins folder (see ``mos_lab.plugins.folders``)."""
        from mos_lab.plugins.folders import candidates

        found = []
        for label, source, load in candidates(folder):
            name = self._offer(label, source, load)
            if name:
                found.append(name)
        return found

    @property
    def names(self) -> list[str]:
        """Names of the registered plugins."""
        return sorted(self._plugins)

    @property
    def started(self) -> list[str]:
        """Names of the started plugins, in start order."""
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

    def resolve(self) -> dict[str, str]:
        """Without starting anything: which plugins could start ("ready") and which are
        "blocked" and why (a requirement missing, of the wrong version or blocked itself;
        no sandbox for an untrusted one). Sets those states on registered plugins."""
        out: dict[str, str] = {}
        with self._lock:
            for n in self.order():
                if n not in self._plugins:
                    continue
                why = ""
                for dep, spec in self._plugins[n].manifest.requires.items():
                    if dep not in self._plugins:
                        why = f"requires {dep!r}, which is not installed"
                    elif Version(self._plugins[dep].manifest.version) not in SpecifierSet(spec):
                        why = (f"requires {dep} {spec}, but {dep} "
                               f"{self._plugins[dep].manifest.version} is installed")
                    elif out.get(dep, "ready") != "ready" and dep not in self._contexts:
                        why = f"requires {dep!r}, which cannot start"
                    if why:
                        break
                if not why and not self._plugins[n].manifest.trusted:
                    try:
                        sandbox.check()
                    except SandboxUnavailable as exc:
                        why = str(exc)
                out[n] = "blocked" if why else "ready"
                if n not in self._contexts and self._status[n].state in ("registered",
                                                                          "ready", "blocked"):
                    self._set(n, out[n], why)
        return out

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
                    self._set(n, "failed", str(exc))
                    self.bus.emit("error", source=f"plugin:{n}", message=str(exc))
                    if name is not None:
                        raise PluginError(f"plugin {n!r} failed to start: {exc}") from exc
                    continue
                self._contexts[n] = ctx
                self._set(n, "started")
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
                    self._set(n, "stopped")
                except Exception as exc:
                    self._set(n, "stopped", f"stop raised: {exc}")
                    self.bus.emit("error", source=f"plugin:{n}", message=f"stop: {exc}")
                self._release(n, ctx)

    def _release(self, name: str, ctx: PluginContext) -> None:
        """Everything a plugin owned goes with it: subscriptions, then its state."""
        self.bus.dispose_owner(ctx)
        self.state._drop(name)

    def close(self) -> None:
        """Stop every plugin (reverse start order)."""
        self.stop()

    # -- what plugins offer, and their states ---------------------------------------------
    def _set(self, name: str, state: str, reason: str = "") -> None:
        row = self._status.get(name)
        if row is not None:
            row.state, row.reason = state, reason

    @property
    def widgets(self) -> dict[str, WidgetSpec]:
        """Widgets offered by started plugins, by full name (``"<plugin>.<name>"``)."""
        with self._lock:
            return {k: v for c in self._contexts.values() for k, v in c.widgets.items()}

    def widget(self, name: str, **options: Any) -> Any:
        """Make the widget a started plugin offers under ``name``."""
        spec = self.widgets.get(name)
        if spec is None:
            raise PluginError(f"no plugin widget {name!r}; offered: "
                              f"{', '.join(sorted(self.widgets)) or 'none'}")
        return spec.factory(**options)

    @property
    def tools(self) -> dict[str, ToolSpec]:
        """Assistant tools offered by started plugins, by full name (``"<plugin>_<name>"``)."""
        with self._lock:
            return {k: v for c in self._contexts.values() for k, v in c.tools.items()}

    def status(self) -> list[PluginStatus]:
        """One row per plugin offered: name, version, source, trusted, state, reason."""
        with self._lock:
            rows = [PluginStatus(**r.__dict__) for r in self._status.values()]
            for row in rows:
                failed = getattr(self._plugins.get(row.name), "failed", None)
                if row.state == "started" and failed:  # e.g. a sandboxed child that died
                    row.state, row.reason = "failed", str(failed)
        order = {n: i for i, n in enumerate(self.order())}
        return sorted(rows, key=lambda r: (order.get(r.name, len(order)), r.name))

    def table(self) -> str:
        """``status()`` as aligned text (what ``mos-lab plugins`` prints)."""
        return status_table(self.status())

    def __repr__(self) -> str:
        return self.table()


def status_table(rows: list[PluginStatus]) -> str:
    """Status rows as aligned text, one line per plugin, then the reasons."""
    if not rows:
        return "no plugins"
    head = ("name", "version", "state", "trusted", "source")
    cells = [(r.name, r.version, r.state, "yes" if r.trusted else "sandboxed", r.source)
             for r in rows]
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(len(head))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(head))).rstrip()
             for c in [head, *cells]]
    lines += [f"  {r.name}: {r.reason}" for r in rows if r.reason]
    return "\n".join(lines)
