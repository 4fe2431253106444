"""chord_log: counts the chords a session hears, in its own plugin state.

Uses only mos_lab's public plugin API: a manifest, ``start(context)`` and ``stop()``;
through the context it subscribes to ``chord`` events, keeps ``chord_log.counts`` and
``chord_log.last``, offers a widget (``chord_log.table``) and an assistant tool
(``chord_log_counts``).
"""

from __future__ import annotations

import html
import weakref
from typing import Any

from mos_lab.plugins import Manifest, PluginContext

COUNTS_SCHEMA = {"type": "object", "additionalProperties": False,
                 "properties": {"top": {"type": "integer", "minimum": 1, "maximum": 100}}}


class ChordLog:
    """Keeps ``chord_log.counts`` (symbol -> times heard) and ``chord_log.last``."""

    manifest = Manifest("chord_log", "0.1.0", api=">=1,<2",
                        description="counts the chords heard")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._ctx: PluginContext | None = None
        self._views: weakref.WeakSet[Any] = weakref.WeakSet()

    def start(self, context: PluginContext) -> None:
        """Subscribe to chords; offer the table widget and the counts tool."""
        self._ctx = context
        context.subscribe("chord", self._on_chord)
        context.add_widget("table", self.table, "the chords heard so far, most heard first")
        context.add_tool("counts", "How often each chord was heard in this session, most "
                         "heard first.", COUNTS_SCHEMA, self.describe)

    def _on_chord(self, event: Any) -> None:
        symbol = event["symbol"]
        self.counts[symbol] = self.counts.get(symbol, 0) + 1
        assert self._ctx is not None
        with self._ctx.state.transaction() as state:
            state.set("counts", dict(self.counts))
            state.set("last", symbol)
        for view in list(self._views):
            view.value = self._html()

    def ranked(self, top: int = 12) -> list[tuple[str, int]]:
        """The ``top`` chords heard most, with their counts."""
        return sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]

    def describe(self, arguments: dict[str, Any]) -> str:
        """The tool: counts as text (``top`` chords, 12 by default)."""
        ranked = self.ranked(int(arguments.get("top", 12)))
        if not ranked:
            return "no chords heard yet"
        return ", ".join(f"{symbol} x{n}" for symbol, n in ranked)

    def _html(self) -> str:
        rows = "".join(f"<tr><td>{html.escape(s)}</td><td>{n}</td></tr>"
                       for s, n in self.ranked())
        return f"<table><tr><th>chord</th><th>heard</th></tr>{rows}</table>"

    def table(self) -> Any:
        """The widget: an HTML table of the chords heard, kept up to date."""
        import ipywidgets

        view = ipywidgets.HTML(self._html())
        self._views.add(view)
        return view

    def stop(self) -> None:
        """Forget the context (the registry releases subscriptions, state and offers)."""
        self._ctx = None
