"""PianoRoll: the score as a piano roll with a moving playhead, zoom and scroll.

Three ways to draw, one Python API:

- ``mode="theater"`` (the default when wgpu can be imported, see
  :func:`~mos_lab.widgets._theater_frames.theater_default`): the theater (wgpu; the same
  renderer as ``mos-lab frame`` and video export) draws the static note layer for a strip
  two windows wide, once per view change (score, window/zoom/scroll, size), and sends it
  as a PNG; the page scrolls the strip and draws the playhead and the sounding-note
  highlights itself from the audio position, so playback costs the kernel no render.
  The notes are sent too (16 bytes each): the page draws them itself until a strip
  arrives, and for 30 s at a time on a slow link (three strips in a row taking 1.5 s
  more than their render), so the browser canvas stays the fallback. Notes take the
  theater's palette; setting ``colors`` switches to ``"canvas"``. If the adapter turns
  out to be the CPU fallback, a roll in the default mode switches to ``"canvas"`` too
  (ask ``mode="theater"`` to keep it).
- ``mode="canvas"`` (the default without wgpu, or with ``MOS_LAB_ROLL=canvas``): the
  notes are sent once (while visible) and the page draws them and the playhead on a 2D
  canvas at display rate.
- ``mode="frames"``: a kernel-side ``renderer(t0, t1, width, height) -> PNG or JPEG
  bytes`` draws the note layer; frames as in theater mode.

Frames are requested by the page, only while visible, at most two unconfirmed
(:class:`~mos_lab.widgets._frame_widget.FrameWidget`). Clicking the roll seeks there;
the wheel scrolls time, ctrl+wheel zooms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import traitlets as t

from mos_lab.score import Score
from mos_lab.theater.roll import EMPTY_RANGE, SCROLL_LEAD, pitch_range
from mos_lab.widgets._base import AUTO
from mos_lab.widgets._context import SessionLike
from mos_lab.widgets._frame_widget import FRAME_COMMANDS, FrameWidget
from mos_lab.widgets._messages import Arg, Spec
from mos_lab.widgets._notes import PALETTE, pack_notes, track_names
from mos_lab.widgets._theater_frames import (
    THEATER_COLORS,
    CallableSource,
    FrameFeed,
    TheaterLayer,
    theater_default,
)

Renderer = Callable[[float, float, int, int], bytes]
Mode = Literal["canvas", "frames", "theater"]
MODES = ("canvas", "frames", "theater")


class PianoRoll(FrameWidget):
    """Piano roll of the session's (or a given) score; theater frames or browser canvas."""

    _esm_name = "piano_roll.js"
    _commands: ClassVar[dict[str, Spec]] = {
        "seek": {"seconds": Arg(float, 0.0, 1e7)},
        **FRAME_COMMANDS,
    }

    notes = t.Bytes(b"").tag(sync=True)
    tracks = t.List(t.Unicode()).tag(sync=True)
    colors = t.List(t.Unicode(), default_value=PALETTE).tag(sync=True)
    window = t.Float(12.0).tag(sync=True)  # seconds across the view (zoom)
    height = t.Int(240).tag(sync=True)
    mode = t.Unicode("canvas").tag(sync=True)
    # the rows shown and the playhead's place, from the one roll geometry (theater.roll)
    geometry = t.Dict({"lo": EMPTY_RANGE[0], "hi": EMPTY_RANGE[1], "lead": SCROLL_LEAD}
                      ).tag(sync=True)

    def __init__(self, score: Score | None = None, *, mode: Mode | None = None,
                 renderer: Renderer | None = None, window: float = 12.0, height: int = 240,
                 colors: Sequence[str] | None = None, session: SessionLike | None = None,
                 key: str | None = AUTO) -> None:
        """A piano roll of ``score`` (default: the session's current score).

        Parameters
        ----------
        score
            The score to show; ``None`` follows the session's current score.
        mode
            ``"theater"`` (kernel-drawn strips, the default with wgpu), ``"canvas"``
            (drawn in the browser) or ``"frames"`` (drawn by ``renderer``).
        renderer
            ``renderer(t0, t1, width, height) -> PNG or JPEG bytes``: a kernel-side drawing
            of the note layer (implies ``mode="frames"``).
        window
            Seconds of music across the view (0.5..3600; ctrl+wheel zooms).
        height
            Height in pixels; the width follows the cell.
        colors
            CSS colours of the tracks, in track order; in theater mode the theater's
            palette is used, and other colours switch the roll to ``"canvas"``.
        session
            The session whose playhead it follows and which clicks seek.
        key
            Registry key; ``"auto"`` keys it by notebook cell. ``None``: not keyed.
        """
        self._auto = False
        if mode is None:
            if renderer is not None:
                mode = "frames"
            else:
                self._auto = theater_default()
                mode = "theater" if self._auto else "canvas"
        traits: dict[str, Any] = {"mode": mode, "window": window, "height": height}
        if colors is not None:
            traits["colors"] = list(colors)
        elif mode == "theater":
            traits["colors"] = THEATER_COLORS
        super().__init__(score, session=session, key=key, **traits)
        self.renderer = renderer
        self.observe(self._on_mode, names="mode")
        self.observe(self._on_colors, names="colors")

    @t.validate("window")
    def _valid_window(self, proposal: Any) -> float:
        v = float(proposal["value"])
        if not 0.5 <= v <= 3600:
            raise t.TraitError(f"window: {v} s is not in 0.5..3600")
        return v

    @t.validate("mode")
    def _valid_mode(self, proposal: Any) -> str:
        v = str(proposal["value"])
        if v not in MODES:
            raise t.TraitError(f"mode: {v!r} is not one of {list(MODES)}")
        return v

    def _payload(self) -> dict[str, Any]:
        sc = self.current_score
        lo, hi = pitch_range(sc)
        out: dict[str, Any] = {"tracks": track_names(sc),
                               "geometry": {"lo": lo, "hi": hi, "lead": SCROLL_LEAD}}
        if self.mode != "frames":
            out["notes"] = pack_notes(sc)
        return out

    def _on_mode(self, change: dict[str, Any]) -> None:
        self._reset_frames()
        if change["old"] == "frames":  # the page needs the notes now
            self._dirty = True
            self._push()

    def _on_colors(self, change: dict[str, Any]) -> None:
        if self.mode == "theater" and list(change["new"]) != THEATER_COLORS:
            self.mode = "canvas"  # the theater draws its own palette

    def _make_feed(self) -> FrameFeed | None:
        if self.mode == "frames" and self.renderer is not None:
            return FrameFeed(CallableSource(self.renderer), self._deliver_frame, cache_size=0)
        if self.mode != "theater":
            return None
        layer = TheaterLayer(lambda: self.current_score, overlays=False)
        if self._auto and layer.renderer.name != "wgpu":
            self.mode = "canvas"  # no GPU adapter: the browser draws faster than numpy
            return None
        return FrameFeed(layer, self._deliver_frame)

    def _cmd_seek(self, seconds: float) -> None:
        eng = self.session.engine
        if self.score is not None and eng.score is not self.score:
            eng.load(self.score).result(30)
        eng.seek(seconds)
