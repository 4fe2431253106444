"""Plugins: discovered, versioned, ordered by their dependencies, and isolated.

Map::

    Manifest(name, version, api=">=1,<2", requires={"other": ">=0.2"}, trusted=True)
    PluginRegistry(bus)                 .register(p) .discover() .start() .stop() .order()
      - refuses a plugin whose API range excludes API_VERSION (says which to upgrade)
      - refuses a dependency cycle, naming it (a -> b -> a)
      - starts requirements first; a plugin whose requirement failed does not start
    PluginContext                        .bus .state (StateView) .subscribe() .requirements
    SharedState / StateView              each plugin writes only "<name>.<key>"; transactions
    IsolatedPlugin(manifest, module, subscribes=[...], emits=[...])
                                         untrusted code in a subprocess with CPU/memory limits

A plugin is any object with ``manifest``, ``start(context)`` and ``stop()``; installed
packages expose one through the ``mos_lab.plugins`` entry point group.
"""

from mos_lab.plugins.isolation import IsolatedPlugin
from mos_lab.plugins.manifest import API_VERSION, Manifest, PluginError
from mos_lab.plugins.registry import ENTRY_POINT_GROUP, Plugin, PluginContext, PluginRegistry
from mos_lab.plugins.state import SharedState, StateView

__all__ = [
    "API_VERSION", "ENTRY_POINT_GROUP", "IsolatedPlugin", "Manifest", "Plugin",
    "PluginContext", "PluginError", "PluginRegistry", "SharedState", "StateView",
]
