"""Plugins: discovered, versioned, ordered by their dependencies, and isolated.

Map::

    Manifest(name, version, api=">=1,<2", requires={"other": ">=0.2"}, trusted=True)
    PluginRegistry(bus)      .discover(folders=) .load_folder(path) .register(p) .start()
                             .stop() .order() .status() .table() .widgets .widget() .tools
      - refuses a plugin whose API range excludes API_VERSION (says which to upgrade)
      - refuses a dependency cycle, naming it (a -> b -> a)
      - starts requirements first; a plugin whose requirement failed does not start
    PluginContext            .bus .state (StateView) .subscribe() .requirements
                             .add_widget(name, factory) .add_tool(name, doc, schema, fn)
    SharedState / StateView  each plugin writes only "<name>.<key>"; transactions
    IsolatedPlugin(manifest, module, subscribes=[...], emits=[...], path=folder)
                             untrusted code in the OS sandbox (``sandbox``: bubblewrap,
                             seccomp, rlimits), speaking validated JSON lines
    folders                  plugins folders: drop-ins (plugin.toml, sandboxed) and
                             plugin package sources (pyproject.toml entry points)

A plugin is any object with ``manifest``, ``start(context)`` and ``stop()``; installed
packages expose one through the ``mos_lab.plugins`` entry point group. The kernel's
Session discovers and starts them (``session.plugins``); ``mos-lab plugins`` lists them.
"""

from mos_lab.plugins.folders import default_folders
from mos_lab.plugins.manifest import Manifest
from mos_lab.plugins.registry import PluginContext, PluginRegistry, status_table

# What other layers and plugin packages use; the rest is imported from its submodule
# (manifest: API_VERSION, ENTRY_POINT_GROUP, PluginError; registry: Plugin, PluginStatus,
# WidgetSpec, ToolSpec; isolation: IsolatedPlugin; sandbox; state: SharedState, StateView).
__all__ = ["Manifest", "PluginContext", "PluginRegistry", "default_folders", "status_table"]
