"""Plugin manifests: who a plugin is, which mos_lab plugin API it needs, what it depends on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

#: The plugin API this mos_lab provides. Plugins declare a specifier such as ">=1,<2".
API_VERSION = Version("1.0")
#: The entry point group installed packages expose their plugins in.
ENTRY_POINT_GROUP = "mos_lab.plugins"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class PluginError(ValueError):
    """A plugin cannot be registered or started; the message names the plugin and why."""


@dataclass(frozen=True)
class Manifest:
    """A plugin's identity: ``name``, ``version``, required ``api`` and ``requires``.

    ``requires`` maps other plugin names to version specifiers (``{"chords": ">=0.2"}``);
    ``trusted=False`` plugins run in an isolated subprocess.
    """

    name: str
    version: str
    api: str = ">=1,<2"
    requires: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    trusted: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not _NAME.match(self.name):
            problems.append(f"name: {self.name!r} must be lower-case letters, digits or _")
        try:
            Version(self.version)
        except InvalidVersion:
            problems.append(f"version: {self.version!r} is not a version")
        for key, spec in [("api", self.api), *((f"requires.{k}", v)
                                               for k, v in self.requires.items())]:
            try:
                SpecifierSet(spec)
            except InvalidSpecifier:
                problems.append(f"{key}: {spec!r} is not a version specifier")
        if problems:
            raise PluginError(f"plugin {self.name!r}: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """A manifest from plain data (e.g. a plugin module's ``MANIFEST`` dict)."""
        unknown = set(data) - {"name", "version", "api", "requires", "description", "trusted"}
        if unknown:
            raise PluginError(f"plugin manifest: unknown fields {sorted(unknown)}")
        if "name" not in data or "version" not in data:
            raise PluginError("plugin manifest: 'name' and 'version' are required")
        return cls(str(data["name"]), str(data["version"]), str(data.get("api", ">=1,<2")),
                   dict(data.get("requires", {})), str(data.get("description", "")),
                   bool(data.get("trusted", True)))

    def check_api(self, provided: Version = API_VERSION) -> None:
        """Raise PluginError unless this mos_lab's plugin API satisfies ``api``."""
        if provided not in SpecifierSet(self.api):
            raise PluginError(
                f"plugin {self.name!r} {self.version} needs plugin API {self.api}, but this "
                f"mos_lab provides {provided}: upgrade the plugin or mos_lab")
