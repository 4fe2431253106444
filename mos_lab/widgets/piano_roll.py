"""PianoRoll: the score as a piano roll with a moving playhead, zoom and scroll.

Two ways to draw, one Python API:

- ``mode="canvas"`` (default): the notes are sent once (16 bytes each, while visible) and
  the page draws them and the playhead on a 2D canvas at display rate.
- ``mode="frames"``: a kernel-side renderer (``renderer(t0, t1, width, height) -> PNG or
  JPEG bytes``; the wgpu theater when it lands) draws the note layer; the page asks for
  a frame when its view changes (``view`` message), one frame in flight at a time
  (backpressure), only while visible, and draws the playhead over it itself.

Clicking the roll seeks there; the wheel scrolls time, ctrl+wheel zooms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import traitlets as t

from mos_lab.widgets._base import MosWidget
from mos_lab.widgets._messages import Arg, Spec
from mos_lab.widgets._notes import PALETTE, pack_notes, track_names

Renderer = Callable[[float, float, int, int], bytes]


class PianoRoll(MosWidget):
    """Piano roll of the session's (or a given) score; browser canvas or kernel frames."""

    _esm_name = "piano_roll.js"
    _commands: ClassVar[dict[str, Spec]] = {
        "seek": {"seconds": Arg(float, 0.0, 1e7)},
        "view": {"t0": Arg(float, -1e7, 1e7), "t1": Arg(float, -1e7, 1e7),
                 "width": Arg(int, 1, 16384), "height": Arg(int, 1, 16384)},
    }

    notes = t.Bytes(b"").tag(sync=True)
    tracks = t.List(t.Unicode()).tag(sync=True)
    colors = t.List(t.Unicode(), default_value=PALETTE).tag(sync=True)
    window = t.Float(12.0).tag(sync=True)  # seconds across the view (zoom)
    height = t.Int(240).tag(sync=True)
    mode = t.Unicode("canvas").tag(sync=True)
    frame = t.Bytes(b"").tag(sync=True)
    frame_window = t.List(t.Float()).tag(sync=True)  # [t0, t1] that ``frame`` shows

    def __init__(self, score: Any = None, *, renderer: Renderer | None = None,
                 **kwargs: Any) -> None:
        if renderer is not None:
            kwargs.setdefault("mode", "frames")
        super().__init__(score, **kwargs)
        self.renderer = renderer
        self.frames_sent = 0

    @t.validate("window")
    def _valid_window(self, proposal: Any) -> float:
        v = float(proposal["value"])
        if not 0.5 <= v <= 3600:
            raise t.TraitError(f"window: {v} s is not in 0.5..3600")
        return v

    def _payload(self) -> dict[str, Any]:
        sc = self.current_score
        if self.mode == "frames":
            return {"tracks": track_names(sc)}
        return {"notes": pack_notes(sc), "tracks": track_names(sc)}

    def _cmd_seek(self, seconds: float) -> None:
        eng = self.session.engine
        if self.score is not None and eng.score is not self.score:
            eng.load(self.score).result(30)
        eng.seek(seconds)

    def _cmd_view(self, t0: float, t1: float, width: int, height: int) -> None:
        """The page shows [t0, t1] at width x height: render a frame (frames mode only)."""
        if t1 <= t0:
            raise ValueError(f"view: t1 {t1} must be after t0 {t0}")
        if self.renderer is None or not self.visible:
            return
        image = self.renderer(t0, t1, width, height)
        self.update(frame=image, frame_window=[t0, t1])
        self.frames_sent += 1
