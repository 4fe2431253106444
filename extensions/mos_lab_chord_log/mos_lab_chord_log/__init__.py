"""chord_log: counts the chords a session hears, in its own plugin state.

Uses only mos_lab's public plugin API: a manifest, ``start(context)`` and ``stop()``.
"""

from __future__ import annotations

from typing import Any

from mos_lab.plugins import Manifest, PluginContext


class ChordLog:
    """Keeps ``chord_log.counts`` (symbol -> times heard) and ``chord_log.last``."""

    manifest = Manifest("chord_log", "0.1.0", api=">=1,<2",
                        description="counts the chords heard")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._ctx: PluginContext | None = None

    def start(self, context: PluginContext) -> None:
        self._ctx = context
        context.subscribe("chord", self._on_chord)

    def _on_chord(self, event: Any) -> None:
        symbol = event["symbol"]
        self.counts[symbol] = self.counts.get(symbol, 0) + 1
        assert self._ctx is not None
        with self._ctx.state.transaction() as state:
            state.set("counts", dict(self.counts))
            state.set("last", symbol)

    def stop(self) -> None:
        self._ctx = None
