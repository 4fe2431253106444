"""Renderers: wgpu (``gpu.py``, imported lazily) and the numpy fallback, chosen at start.

``open_renderer()`` asks for an adapter with a timeout, checks features and limits and
returns the wgpu renderer, or the CPU renderer with the reason (THR-05, THR-10).
``MOS_LAB_RENDERER=cpu|gpu`` overrides the choice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from mos_lab.theater.render.base import Renderer
from mos_lab.theater.render.device import AdapterFactory, RendererUnavailable, quiet_mesa

Prefer = Literal["auto", "gpu", "cpu"]


def open_renderer(prefer: Prefer = "auto", *, timeout: float = 10.0,
                  required_features: Sequence[str] = (),
                  adapter_factory: AdapterFactory | None = None,
                  max_texture: int | None = None) -> Renderer:
    """The best renderer available: wgpu when an adapter answers in time, else numpy.

    ``prefer="gpu"`` raises ``RendererUnavailable`` instead of falling back;
    ``max_texture`` caps the target size below the adapter's limit (tiles beyond it).
    The result says what it is: ``.name`` ("wgpu"/"cpu") and ``.description``.
    """
    from mos_lab.theater.cpu import CPURenderer

    env = os.environ.get("MOS_LAB_RENDERER", "").strip().lower()
    if prefer == "auto" and env in ("cpu", "gpu"):
        prefer = "gpu" if env == "gpu" else "cpu"
    if prefer == "cpu":
        return CPURenderer("requested")
    quiet_mesa()
    try:
        from mos_lab.theater.render.device import GPUContext, request_context
        from mos_lab.theater.render.gpu import GPURenderer

        def open_context() -> GPUContext:
            return request_context(adapter_factory, timeout=timeout,
                                   required_features=required_features)

        return GPURenderer(open_context, max_texture=max_texture)
    except Exception as exc:  # ImportError (no wgpu), RendererUnavailable, native errors
        if prefer == "gpu":
            if isinstance(exc, RendererUnavailable):
                raise
            raise RendererUnavailable(str(exc)) from exc
        return CPURenderer(f"GPU unavailable: {str(exc).strip().splitlines()[-1][:200]}"
                           if str(exc).strip() else f"GPU unavailable: {type(exc).__name__}")


__all__ = [
    "Renderer",
    "open_renderer",
]
