"""Rich display of a Score: a compact Player where widgets run, a PNG + text elsewhere.

``mos_lab.score`` may not import widgets, so ``Score`` has no ``_repr_mimebundle_`` of its
own: the kernel extension registers this function with IPython's mime-bundle formatter.
"""

from __future__ import annotations

from typing import Any

from mos_lab.score import Score
from mos_lab.widgets import Player


def score_mimebundle(score: Score, include: Any = None, exclude: Any = None) -> Any:
    """The bundle for ``score``: widget view + image/png + text/plain."""
    return Player(score, compact=True)._repr_mimebundle_()


def register(ip: Any) -> None:
    ip.display_formatter.mimebundle_formatter.for_type(Score, score_mimebundle)


def unregister(ip: Any) -> None:
    ip.display_formatter.mimebundle_formatter.pop(Score, None)
