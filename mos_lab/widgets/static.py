"""Static fallbacks for where widgets cannot run (GitHub, nbconvert HTML, plain text).

A small PNG piano roll drawn with matplotlib's Agg canvas (no pyplot state, no display
needed) and a one-line text summary. PNGs are cached per Score object (scores are
immutable), so displaying the same score again costs nothing.
"""

from __future__ import annotations

import io
import weakref

from mos_lab.score import Score
from mos_lab.theater.roll import note_spans, pitch_range
from mos_lab.widgets._notes import PALETTE

_CACHE: weakref.WeakKeyDictionary[Score, bytes] = weakref.WeakKeyDictionary()


def text_summary(score: Score) -> str:
    """One line: title, notes, tracks, duration."""
    title = f"{score.title!r} " if score.title else ""
    m, s = divmod(round(score.duration), 60)
    return (f"Score {title}– {score.n_notes} notes, {len(score.tracks)} tracks, "
            f"{m}:{s:02d}")


def piano_roll_png(score: Score, *, width: int = 720, height: int = 180,
                   max_seconds: float = 120.0) -> bytes:
    """A PNG piano roll of the first ``max_seconds`` of ``score`` (cached per score)."""
    cached = _CACHE.get(score)
    if cached is not None:
        return cached
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="#1e1f26")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0), facecolor="#1e1f26")
    n = score.notes
    if len(n):
        start, end = note_spans(score)
        keep = start < max_seconds
        start, end, pitch, track = start[keep], end[keep], n["pitch"][keep], n["track"][keep]
        lo, hi = pitch_range(score)
        for p in range(lo, hi + 1):
            if p % 12 in (1, 3, 6, 8, 10):
                ax.axhspan(p, p + 1, color="#23252e", lw=0)
        verts = [((s, p + 0.1), (e, p + 0.1), (e, p + 0.9), (s, p + 0.9))
                 for s, e, p in zip(start, end, pitch, strict=True)]
        colors = [PALETTE[int(t) % len(PALETTE)] for t in track]
        ax.add_collection(PolyCollection(verts, facecolors=colors, edgecolors="none"))
        ax.set_xlim(0, max(float(end.max()), 1e-3))
        ax.set_ylim(lo, hi + 1)
    ax.set_axis_off()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor=fig.get_facecolor())
    png = buf.getvalue()
    _CACHE[score] = png
    return png
