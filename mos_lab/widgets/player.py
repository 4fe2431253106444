"""Player: the composed default view: transport, piano roll, harmony lane and keyboard.

An anywidget whose page module renders its child widgets (anywidget's ``host.getWidget``);
the children are real widgets the Player owns and closes with itself. Displayed where
widgets cannot run (GitHub, nbconvert HTML), it shows a PNG piano roll and a text line.
"""

from __future__ import annotations

import base64
from typing import Any

import anywidget
import traitlets as t

from mos_lab.score import Score
from mos_lab.widgets._base import AUTO, MosWidget
from mos_lab.widgets._context import SessionLike
from mos_lab.widgets.chord_display import ChordDisplay
from mos_lab.widgets.keyboard import Keyboard
from mos_lab.widgets.piano_roll import PianoRoll
from mos_lab.widgets.static import piano_roll_png, text_summary
from mos_lab.widgets.transport import Transport


class Player(MosWidget):
    """Transport + piano roll (+ harmony lane and keyboard unless ``compact``)."""

    _esm_name = "player.js"

    transport = anywidget.WidgetTrait().tag(sync=True)
    roll = anywidget.WidgetTrait().tag(sync=True)
    chords = anywidget.WidgetTrait().tag(sync=True)
    keyboard = anywidget.WidgetTrait().tag(sync=True)
    compact = t.Bool(False).tag(sync=True)

    def __init__(self, score: Score | None = None, *, compact: bool = False,
                 static: bool = True, session: SessionLike | None = None,
                 key: str | None = AUTO) -> None:
        """The default view of ``score`` (default: the session's current score).

        Parameters
        ----------
        score
            The score to play and show; ``None`` follows the session's current score.
        compact
            Transport and a shorter piano roll only (no harmony lane, no keyboard): how a
            Score shows itself as a cell's result.
        static
            Also give static renderers (GitHub, nbconvert) a PNG piano roll and a line
            of text.
        session
            The session it plays through (default: the kernel's session).
        key
            Registry key; ``"auto"`` keys it by notebook cell (re-running the cell closes
            the previous player). ``None``: not keyed.

        Its parts are widgets too: ``player.transport``, ``player.roll``,
        ``player.chords``, ``player.keyboard`` (the last two ``None`` when compact).
        """
        made: list[MosWidget] = []
        try:
            made.append(Transport(score, session=session, key=None))
            made.append(PianoRoll(score, height=170 if compact else 240, session=session,
                                  key=None))
            if not compact:
                made.append(ChordDisplay(score, session=session, key=None))
                made.append(Keyboard(score, session=session, key=None))
        except Exception:
            for w in made:
                w.close()
            raise
        parts = dict(zip(("transport", "roll", "chords", "keyboard"), made, strict=False))
        super().__init__(score, session=session, key=key, compact=compact, **parts)
        self.parts = made
        self.static = static
        # the lane shares the roll's time axis: its zoom follows the roll's
        self._links = [t.dlink((made[1], "window"), (made[2], "window"))] if not compact else []

    def _close_children(self) -> None:
        for link in self._links:
            link.unlink()
        self._links = []
        for w in self.parts:
            w.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, plus a PNG piano roll and a text line for static renderers."""
        bundle = super()._repr_mimebundle_(**kwargs)
        data, meta = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
        sc = self.current_score
        if sc is not None:
            data = dict(data)
            data["text/plain"] = text_summary(sc)
            if self.static:
                data["image/png"] = base64.b64encode(piano_roll_png(sc)).decode("ascii")
        return data, meta
