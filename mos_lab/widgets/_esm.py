"""The widgets' ES modules: plain files in ``esm/``, joined and returned as strings.

A string, not a ``Path``: anywidget connects a per-widget closure to its file watcher
for a path, which keeps every widget alive (anywidget #929). Each module is the shared
prelude (``common.js``: the page-wide clock, visibility, cleanup counters) followed by the
widget's own code; ``/*INLINE:name*/`` is replaced by another file's text as a JSON
string (the AudioWorklet source, loaded from a Blob URL). No CDN, no bundler, no Node.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

_INLINE = re.compile(r"/\*INLINE:([\w.]+)\*/")


@cache
def read(name: str) -> str:
    """The text of ``esm/<name>`` (package data)."""
    return (resources.files("mos_lab.widgets") / "esm" / name).read_text(encoding="utf-8")


@cache
def module(name: str) -> str:
    """The ES module for one widget: prelude + body, with inlined files."""
    body = _INLINE.sub(lambda m: json.dumps(read(m.group(1))), read(name))
    return read("common.js") + "\n" + body


@cache
def css() -> str:
    """The shared stylesheet of every widget."""
    return read("style.css")
