"""Plugins folders: drop-in sandboxed plugins and the sources of plugin packages.

A plugins folder holds one sub-folder per plugin (or is itself one):

- ``plugin.toml``: a drop-in plugin. It always runs in the sandbox (an
  :class:`~mos_lab.plugins.IsolatedPlugin` that sees only its own folder)::

      name = "shady"                  # manifest: name, version, api, requires, description
      version = "0.1.0"
      api = ">=1,<2"
      module = "shady"                # shady.py here, with handle(event) -> [events]
      subscribes = ["chord"]          # event types it is sent
      emits = ["progress"]            # the only types its answers may have
      timeout = 2.0                   # seconds per event; memory_mb, cpu_seconds: limits

- ``pyproject.toml`` declaring ``[project.entry-points."mos_lab.plugins"]``: the source of
  a plugin package (as ``extensions/mos_lab_chord_log``), imported into this process as if
  it were installed: trusted, as ``pip install`` would make it.

The default folders are ``$MOS_LAB_PLUGIN_PATH`` (``os.pathsep``-separated) or else
``$XDG_CONFIG_HOME/mos_lab/plugins`` (``~/.config/mos_lab/plugins``) when it exists.
"""

from __future__ import annotations

import importlib
import os
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mos_lab.plugins.isolation import IsolatedPlugin
from mos_lab.plugins.manifest import ENTRY_POINT_GROUP, Manifest, PluginError

DROP_IN = "plugin.toml"
_MANIFEST_KEYS = {"name", "version", "api", "requires", "description"}
_SANDBOX_KEYS = {"module", "subscribes", "emits", "timeout", "memory_mb", "cpu_seconds",
                 "trusted"}

#: (label, source, load): ``load()`` makes the plugin object (a ``Plugin``).
Candidate = tuple[str, str, Callable[[], Any]]


def default_folders() -> list[Path]:
    """The plugins folders a Session reads: ``$MOS_LAB_PLUGIN_PATH``, else the user's."""
    env = os.environ.get("MOS_LAB_PLUGIN_PATH")
    if env is not None:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    user = Path(config) / "mos_lab" / "plugins"
    return [user] if user.is_dir() else []


def candidates(folder: str | os.PathLike[str]) -> list[Candidate]:
    """(label, source, load) for each plugin in ``folder``; ``load()`` makes the plugin."""
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise PluginError(f"plugins folder {os.fspath(folder)!r} is not a folder")
    dirs = [root] if _is_plugin(root) else sorted(p for p in root.iterdir()
                                                   if p.is_dir() and _is_plugin(p))
    out: list[Candidate] = []
    for d in dirs:
        if (d / DROP_IN).is_file():
            out.append((d.name, f"folder {d}", lambda d=d: drop_in(d)))  # type: ignore[misc]
        else:
            out += _package_entry_points(d)
    return out


def _is_plugin(d: Path) -> bool:
    return (d / DROP_IN).is_file() or (d / "pyproject.toml").is_file()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PluginError(f"{path}: {exc}") from None


def drop_in(folder: Path) -> IsolatedPlugin:
    """The sandboxed plugin described by ``folder/plugin.toml``."""
    data = _read_toml(folder / DROP_IN)
    unknown = set(data) - _MANIFEST_KEYS - _SANDBOX_KEYS
    if unknown:
        raise PluginError(f"{folder / DROP_IN}: unknown keys {sorted(unknown)}")
    if data.get("trusted", False) is not False:
        raise PluginError(f"{folder / DROP_IN}: drop-in plugins always run in the sandbox; "
                          "trusted code is installed as a package (entry point)")
    if "module" not in data:
        raise PluginError(f"{folder / DROP_IN}: 'module' (the file with handle(event)) "
                          "is required")
    manifest = Manifest.from_dict({**{k: v for k, v in data.items() if k in _MANIFEST_KEYS},
                                   "trusted": False})

    def strings(key: str) -> list[str]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PluginError(f"{folder / DROP_IN}: {key!r} must be a list of event types")
        return value

    return IsolatedPlugin(manifest, str(data["module"]), subscribes=strings("subscribes"),
                          emits=strings("emits"), path=folder,
                          timeout=float(data.get("timeout", 2.0)),
                          memory_bytes=int(data.get("memory_mb", 256)) * 1024 * 1024,
                          cpu_seconds=int(data.get("cpu_seconds", 10)))


def _package_entry_points(folder: Path) -> list[Candidate]:
    project = _read_toml(folder / "pyproject.toml").get("project", {})
    eps = project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    dist = project.get("name", folder.name)
    import_root = folder / "src" if (folder / "src").is_dir() else folder
    return [(name, f"source {folder} ({dist})",
             lambda ref=ref: _import(import_root, ref))  # type: ignore[misc]
            for name, ref in sorted(eps.items())]


def _import(import_root: Path, ref: str) -> Any:
    """``module:attr`` from a package source folder (put on ``sys.path`` as pip would)."""
    module, _, attr = ref.partition(":")
    if str(import_root) not in sys.path:
        sys.path.append(str(import_root))
    obj: Any = importlib.import_module(module.strip())
    for part in filter(None, attr.strip().split(".")):
        obj = getattr(obj, part)
    return obj() if isinstance(obj, type) else obj
