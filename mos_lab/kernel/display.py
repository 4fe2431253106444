"""Rich display of a Score: its engraved first page beside a compact Player where widgets
run (pages turn with the music), a PNG piano roll and a line of text elsewhere.

``mos_lab.score`` may not import widgets, so ``Score`` has no ``_repr_mimebundle_`` of its
own: the kernel extension registers this function with IPython's mime-bundle formatter.
The engraving runs on the widget's own thread, so displaying never waits for it; a score
that cannot be engraved shows why in place of the page, and the player still plays.
"""

from __future__ import annotations

import base64
from typing import Any

from mos_lab.score import Score
from mos_lab.widgets.notation import Notation
from mos_lab.widgets.static import piano_roll_png, text_summary


def score_mimebundle(score: Score, include: Any = None, exclude: Any = None) -> Any:
    """The bundle for ``score``: notation + compact player (widget), image/png, text/plain."""
    bundle = Notation(score, player=True)._repr_mimebundle_()
    data, meta = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
    data = dict(data)
    data["text/plain"] = text_summary(score)
    data["image/png"] = base64.b64encode(piano_roll_png(score)).decode("ascii")
    return data, meta


def register(ip: Any) -> None:
    ip.display_formatter.mimebundle_formatter.for_type(Score, score_mimebundle)


def unregister(ip: Any) -> None:
    ip.display_formatter.mimebundle_formatter.pop(Score, None)
