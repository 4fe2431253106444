"""Theater fixtures: one wgpu renderer per session (setup costs ~1.5 s), known scores.

The renderer is shared, its state is not: ``gpu`` hands each test the session's renderer
as a newly opened one would be (no kept pages, prefetches, overlays or targets, a live
device, default settings, zeroed counters), so a test passes alone, in any order, and
after a test that lost the device or left a page half drawn ahead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from mos_lab.score import Score
from mos_lab.theater import View
from mos_lab.theater.render import Renderer, open_renderer
from mos_lab.theater.render.base import RenderStats
from mos_lab.theater.render.device import RendererUnavailable
from mos_lab.theater.scene import Scene

if not os.environ.get("XDG_RUNTIME_DIR"):  # Mesa warns once per process without it
    _xdg = os.path.join(tempfile.gettempdir(), f"mos-lab-xdg-{os.getuid()}")
    os.makedirs(_xdg, mode=0o700, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = _xdg

_SETTINGS = ("live_updates", "prefetch", "readback_bands", "max_texture")


@pytest.fixture(scope="session")
def _shared_gpu() -> Iterator[tuple[Renderer, dict[str, object]]]:
    try:
        r = open_renderer("gpu", timeout=30)
    except RendererUnavailable as exc:
        pytest.skip(f"no wgpu adapter: {exc}")
    yield r, {k: getattr(r, k) for k in _SETTINGS}
    r.close()


def _reset(r: Any, defaults: dict[str, object]) -> None:
    """What a new renderer would be: settings, a device that is not lost, nothing kept."""
    r.settle()
    for k, v in defaults.items():
        setattr(r, k, v)
    # a lost device is only noticed at its next use: use it (a full render, no live page)
    r.live_updates = False
    r.render(Scene(Score.from_notes([(0, 480, 60, 90)])).snapshot(), View(64, 32))
    r.live_updates = defaults["live_updates"]
    r.release()
    r.stats = RenderStats()


@pytest.fixture
def gpu(_shared_gpu: tuple[Renderer, dict[str, object]]) -> Iterator[Renderer]:
    """The shared wgpu renderer, reset for this test; skips (with the reason) only when no
    adapter exists."""
    r, defaults = _shared_gpu
    _reset(r, defaults)
    yield r
    r.settle()  # no page drawn ahead outlives its test
