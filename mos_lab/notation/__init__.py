"""Engraved notation: Score -> MusicXML -> verovio pages, with a timemap in Score seconds.

Map of the API::

    engrave(score, analysis=None, page_width=840, zoom=1.0, chunk_bars=128) -> Engraving
    Engraving.svg(page) / .pages() / .page_count      # SVG pages, rendered when asked
    Engraving.pages_known / .lay_out_next() / .chunk_events(k)  # a long score, by chunks
    Engraving.timemap                                  # note id -> onset seconds (Score tempo)
    Engraving.events / .ids_at(seconds)                # what sounds when (a page follower)
    Engraving.save("out.svg" | "out.png")              # one file per page
    Engraving.musicxml                                 # the MusicXML that verovio engraved
    EngraveError                                       # why a score cannot be engraved

Inside: ``build.notate`` (Score -> parts, staves, bars, voices, notes), ``quantize``
(a performance's times on a grid), ``staves``, ``voices``, ``rhythm``, ``musicxml``.

``Score.engrave(**options)`` calls ``engrave`` once this package is imported. verovio (and
CairoSVG for PNG) come with the ``notation`` extra and are imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mos_lab.notation.build import notate_lazily
from mos_lab.notation.engraving import CHUNK_BARS, Engraving, PageOptions
from mos_lab.notation.errors import EngraveError
from mos_lab.notation.quantize import quantize
from mos_lab.score import Score, model

if TYPE_CHECKING:
    from mos_lab.theory import Analysis


def engrave(score: Score, *, analysis: Analysis | None = None, harmony: str = "both",
            pickup: int | None = None, page_width: int = 840, page_height: int = 1188,
            zoom: float = 1.0, fit_height: bool = True,
            chunk_bars: int | None = CHUNK_BARS) -> Engraving:
    """Engrave a score: ``analysis`` prints chord symbols and Roman numerals under the
    lowest staff (``harmony``: "both", "symbols", "roman", "none"); ``pickup`` in ticks
    (None: inferred); page size in SVG pixels; a score of more than ``chunk_bars`` bars is
    laid out that many bars at a time, each chunk when first needed (None: all at once,
    so the first page waits for the whole layout). Raises EngraveError for scores that cannot
    be engraved and MissingDependencyError without the ``notation`` extra."""
    if not isinstance(score, Score):
        raise TypeError(f"engrave needs a Score, not {type(score).__name__}")
    if harmony not in ("both", "symbols", "roman", "none"):
        raise ValueError(f"harmony={harmony!r}: use 'both', 'symbols', 'roman' or 'none'")
    options = PageOptions(page_width, page_height, zoom, fit_height)
    options.verovio()  # bad sizes fail before the work
    q = quantize(score)
    notated, filler = notate_lazily(score, analysis=analysis, harmony=harmony, pickup=pickup,
                                    quantized=q)
    return Engraving(score, notated, q, None, options, chunk_bars, fill=filler.fill)


def _score_engrave(score: Score, **options: Any) -> Engraving:
    return engrave(score, **options)


model.FORMATS.engrave = _score_engrave  # Score.engrave(); the model knows no notation

__all__ = [
    "EngraveError",
    "engrave",
]
