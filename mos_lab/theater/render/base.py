"""The renderer interface both implementations (wgpu and numpy) follow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from mos_lab.theater.scene import SceneState, View


@dataclass
class RenderStats:
    """Counters a renderer keeps; tests assert on them (draw calls, tiles, recoveries)."""

    frames: int = 0
    draw_calls: int = 0  # in the last frame, all tiles
    note_draw_calls: int = 0  # in the last frame, per tile: always 1 on the GPU path
    tiles: int = 0  # in the last frame
    notes_drawn: int = 0  # instances after culling, last frame
    recoveries: int = 0  # device losses survived
    fallback_frames: int = 0  # frames drawn by the CPU after a GPU error
    live: bool = False  # the last frame was a live update (only what the playhead changed)
    pixels_drawn: int = 0  # pixels redrawn and read back in the last frame
    prefetched_pages: int = 0  # pages of a paged view drawn ahead, while the last showed
    errors: list[str] = field(default_factory=list)  # the last few, newest last

    def error(self, msg: str) -> None:
        self.errors = [*self.errors[-9:], msg]


class Renderer(Protocol):
    """Draws a scene snapshot into an RGBA image ``(height, width, 4) uint8``."""

    name: str  # "wgpu" or "cpu"
    description: str  # adapter or reason, for "which renderer is active"
    stats: RenderStats

    def render(self, state: SceneState, view: View) -> np.ndarray: ...

    def release(self, view: View | None = None) -> None:
        """Free the targets and per-view buffers of ``view`` (all views when None)."""

    def resources(self) -> dict[str, int]:
        """Live resources by kind (buffers, textures, ...): flat across scene switches."""

    def close(self) -> None: ...
