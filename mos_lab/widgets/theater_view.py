"""TheaterView: the theater's full view (keyboard strip, bar numbers, legend) in a notebook.

``TheaterView()`` shows the session's current score (or a given one), landscape or
portrait (notes falling onto the keyboard), and follows the session's playhead through
transport state changes (the ``clock`` trait: play, pause, seek, tempo), never a stream of
positions. The kernel renders one *page* of music (``span`` seconds) per view change with
the theater (wgpu, or the numpy fallback); the page draws the playhead and the sounding
notes over it at display rate and asks for the next page shortly before the playhead
reaches the end of this one, so a playing piece costs one render per ``0.8 * span``
seconds, and nothing while it is paused or off screen.

Named ``TheaterView`` so that it does not clash with :class:`mos_lab.theater.Theater`
(the scene + renderer + sinks object it is drawn by).
"""

from __future__ import annotations

from typing import Any, ClassVar

import traitlets as t

from mos_lab.score import Score
from mos_lab.theater.render import Renderer
from mos_lab.theater.roll import PAGE_LEAD, PAGE_TURN
from mos_lab.theater.scene import ColorBy, Orientation
from mos_lab.theater.sinks import EncodedFrame
from mos_lab.widgets._base import AUTO
from mos_lab.widgets._context import SessionLike
from mos_lab.widgets._frame_widget import FRAME_COMMANDS, FrameWidget
from mos_lab.widgets._messages import Arg, Spec
from mos_lab.widgets._notes import pack_notes, track_names
from mos_lab.widgets._theater_frames import FrameFeed, Request, TheaterLayer, get_renderer

ORIENTATIONS = ("landscape", "portrait")
COLOR_BY = ("track", "velocity")


class TheaterView(FrameWidget):
    """Full-size theater view of the session's (or a given) score.

    Examples
    --------
    >>> from mos_lab.widgets import TheaterView        # doctest: +SKIP
    >>> TheaterView()                                   # the session's score, landscape
    >>> TheaterView(orientation="portrait", height=640, span=6.0, color_by="velocity")
    """

    _esm_name = "theater_view.js"
    _commands: ClassVar[dict[str, Spec]] = {
        "seek": {"seconds": Arg(float, 0.0, 1e7)},
        **FRAME_COMMANDS,
    }

    notes = t.Bytes(b"").tag(sync=True)  # for the highlights the page draws
    tracks = t.List(t.Unicode()).tag(sync=True)
    orientation = t.Unicode("landscape").tag(sync=True)
    height = t.Int(405).tag(sync=True)  # pixels; width follows the cell (portrait: 9:16)
    span = t.Float(8.0).tag(sync=True)  # seconds of music in one page
    color_by = t.Unicode("track").tag(sync=True)
    paging = t.Dict({"lead": PAGE_LEAD, "turn": PAGE_TURN}).tag(sync=True)  # theater.roll
    layer_rev = t.Int(0).tag(sync=True)  # bumps when the static layer changes: page drops old

    def __init__(self, score: Score | None = None, *, orientation: Orientation = "landscape",
                 height: int = 405, span: float = 8.0, color_by: ColorBy = "track",
                 renderer: Renderer | None = None, session: SessionLike | None = None,
                 key: str | None = AUTO) -> None:
        """The theater's view of ``score`` (default: the session's current score).

        Parameters
        ----------
        score
            The score to show; ``None`` follows the session's current score.
        orientation
            ``"landscape"`` (time left to right) or ``"portrait"`` (notes fall onto the
            keyboard); both use the cell's width.
        height
            Height in pixels (64..4320).
        span
            Seconds of music on one page (0.5..3600).
        color_by
            Colour notes by ``"track"`` or by ``"velocity"``.
        renderer
            A theater renderer to draw with (default: the kernel's, wgpu or numpy).
        session
            The session whose playhead it follows and which clicks and drags seek.
        key
            Registry key; ``"auto"`` keys it by notebook cell. ``None``: not keyed.
        """
        super().__init__(score, session=session, key=key, orientation=orientation,
                         height=height, span=span, color_by=color_by)
        self._renderer = renderer
        self._layer: TheaterLayer | None = None
        self._shown_score: int | None = None
        self.observe(self._on_layer, names=["orientation", "color_by"])

    @t.validate("orientation")
    def _valid_orientation(self, proposal: Any) -> str:
        v = str(proposal["value"])
        if v not in ORIENTATIONS:
            raise t.TraitError(f"orientation: {v!r} is not 'landscape' or 'portrait'")
        return v

    @t.validate("color_by")
    def _valid_color_by(self, proposal: Any) -> str:
        v = str(proposal["value"])
        if v not in COLOR_BY:
            raise t.TraitError(f"color_by: {v!r} is not 'track' or 'velocity'")
        return v

    @t.validate("height")
    def _valid_height(self, proposal: Any) -> int:
        v = int(proposal["value"])
        if not 64 <= v <= 4320:
            raise t.TraitError(f"height: {v} px is not in 64..4320")
        return v

    @t.validate("span")
    def _valid_span(self, proposal: Any) -> float:
        v = float(proposal["value"])
        if not 0.5 <= v <= 3600:
            raise t.TraitError(f"span: {v} s is not in 0.5..3600")
        return v

    @property
    def active_renderer(self) -> str:
        """Which renderer draws this view's frames, e.g. ``"wgpu: llvmpipe ..."``.

        Known before the page asked for a frame (a notebook run top to bottom asks here
        before the browser has drawn): the renderer is opened now, as the first frame
        would open it, and kept for the frames.
        """
        if self._layer is not None:
            r = self._layer.renderer
        else:
            if self._renderer is None:
                self._renderer = get_renderer()
            r = self._renderer
        return f"{r.name}: {r.description}"

    def _payload(self) -> dict[str, Any]:
        sc = self.current_score
        out: dict[str, Any] = {"notes": pack_notes(sc), "tracks": track_names(sc)}
        if id(sc) != self._shown_score:
            self._shown_score = id(sc)
            out["layer_rev"] = self.layer_rev + 1
        return out

    def _on_layer(self, change: dict[str, Any]) -> None:
        if self._layer is not None:
            self._layer.orientation = self.orientation  # type: ignore[assignment]
            self._layer.color_by = self.color_by  # type: ignore[assignment]
        self.layer_rev += 1

    def _make_feed(self) -> FrameFeed | None:
        self._layer = TheaterLayer(lambda: self.current_score, renderer=self._renderer,
                                   orientation=self.orientation,  # type: ignore[arg-type]
                                   color_by=self.color_by,  # type: ignore[arg-type]
                                   overlays=True)
        return FrameFeed(self._layer, self._deliver_frame)

    def _deliver_frame(self, frame: EncodedFrame, req: Request, info: dict[str, Any]) -> None:
        super()._deliver_frame(frame, req, {**info, "rev": self.layer_rev,
                                            "portrait": self.orientation == "portrait"})

    def _cmd_seek(self, seconds: float) -> None:
        eng = self.session.engine
        if self.score is not None and eng.score is not self.score:
            eng.load(self.score).result(30)
        eng.seek(seconds)
