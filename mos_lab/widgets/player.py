"""Player: the composed default view: transport, piano roll, chords and keyboard.

An anywidget whose page module renders its child widgets (anywidget's ``host.getWidget``);
the children are real widgets the Player owns and closes with itself. Displayed where
widgets cannot run (GitHub, nbconvert HTML), it shows a PNG piano roll and a text line.
"""

from __future__ import annotations

import base64
from typing import Any

import anywidget
import traitlets as t

from mos_lab.widgets._base import MosWidget
from mos_lab.widgets.chord_display import ChordDisplay
from mos_lab.widgets.keyboard import Keyboard
from mos_lab.widgets.piano_roll import PianoRoll
from mos_lab.widgets.static import piano_roll_png, text_summary
from mos_lab.widgets.transport import Transport


class Player(MosWidget):
    """Transport + piano roll (+ chord display and keyboard unless ``compact``)."""

    _esm_name = "player.js"

    transport = anywidget.WidgetTrait().tag(sync=True)
    roll = anywidget.WidgetTrait().tag(sync=True)
    chords = anywidget.WidgetTrait().tag(sync=True)
    keyboard = anywidget.WidgetTrait().tag(sync=True)
    compact = t.Bool(False).tag(sync=True)

    def __init__(self, score: Any = None, *, compact: bool = False, static: bool = True,
                 **kwargs: Any) -> None:
        session = kwargs.get("session")
        made: list[MosWidget] = []
        try:
            common = {"session": session, "key": None}
            made.append(Transport(score, **common))
            made.append(PianoRoll(score, height=170 if compact else 240, **common))
            if not compact:
                made.append(ChordDisplay(score, **common))
                made.append(Keyboard(score, **common))
        except Exception:
            for w in made:
                w.close()
            raise
        parts = dict(zip(("transport", "roll", "chords", "keyboard"), made, strict=False))
        super().__init__(score, compact=compact, **parts, **kwargs)
        self.parts = made
        self.static = static

    def _close_children(self) -> None:
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
