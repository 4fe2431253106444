"""Theater fixtures: one wgpu renderer per session (setup costs ~1.5 s), known scores."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from mos_lab.theater.render import Renderer, RendererUnavailable, open_renderer

if not os.environ.get("XDG_RUNTIME_DIR"):  # Mesa warns once per process without it
    _xdg = os.path.join(tempfile.gettempdir(), f"mos-lab-xdg-{os.getuid()}")
    os.makedirs(_xdg, mode=0o700, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = _xdg


@pytest.fixture(scope="session")
def gpu() -> Iterator[Renderer]:
    """The shared wgpu renderer; skips (with the reason) only when no adapter exists."""
    try:
        r = open_renderer("gpu", timeout=30)
    except RendererUnavailable as exc:
        pytest.skip(f"no wgpu adapter: {exc}")
    yield r
    r.close()
