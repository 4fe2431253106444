"""Engraved pages of a Score, made by verovio in the kernel (offline: its fonts ship in
the wheel), with the timemap that ties each engraved note to the Score's own seconds.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from mos_lab.notation.errors import EngraveError
from mos_lab.notation.model import UNITS, Notated
from mos_lab.notation.quantize import Quantized
from mos_lab.score import MissingDependencyError, Score

_ID = re.compile(r"^n(\d+)(?:-(\d+))?$")


def verovio_module() -> Any:
    """The verovio module, or a MissingDependencyError naming the ``notation`` extra."""
    try:
        import verovio
    except ImportError:
        raise MissingDependencyError("verovio", "notation", "Engraving notation") from None
    verovio.enableLog(verovio.LOG_OFF)
    return verovio


@dataclass(frozen=True)
class PageOptions:
    """Page size in SVG pixels and zoom (1.0: a 7 mm staff, verovio's scale 40)."""

    page_width: int = 840
    page_height: int = 1188
    zoom: float = 1.0
    fit_height: bool = True  # pages only as tall as their systems

    def verovio(self) -> dict[str, Any]:
        """The same as verovio options (its page sizes are in units before scaling)."""
        if self.zoom <= 0 or self.page_width < 50 or self.page_height < 50:
            raise ValueError(f"page {self.page_width}x{self.page_height} px at zoom "
                             f"{self.zoom}: need a positive zoom and at least 50 px")
        scale = max(1, round(40 * self.zoom))
        clamp = lambda v: int(min(max(v * 100 / scale, 100), 60_000))  # noqa: E731
        return {"scale": scale, "pageWidth": clamp(self.page_width),
                "pageHeight": clamp(self.page_height), "adjustPageHeight": self.fit_height,
                "footer": "none", "breaks": "auto", "lyricSize": 3.2, "pageMarginLeft": 50,
                "pageMarginRight": 50, "pageMarginTop": 50, "pageMarginBottom": 50}


@dataclass(frozen=True)
class TimedEvent:
    """A moment of the timemap: its seconds (Score tempo map), notes starting and ending."""

    seconds: float
    on: tuple[str, ...]
    off: tuple[str, ...]


class Engraving:
    """Engraved notation of a Score: SVG pages (made when asked), timemap, MusicXML.

    Examples
    --------
    >>> from mos_lab.notation import engrave                          # doctest: +SKIP
    >>> e = engrave(score, page_width=1000)                           # doctest: +SKIP
    >>> e.page_count, e.svg(1)[:4], e.timemap["n0"]                   # doctest: +SKIP
    (2, '<svg', 0.0)
    >>> for svg in e.pages(): ...                                     # doctest: +SKIP
    """

    def __init__(self, score: Score, notated: Notated, quantized: Quantized, musicxml: str,
                 options: PageOptions) -> None:
        self.score = score
        self.notated = notated
        self.musicxml = musicxml
        self._q = quantized
        self._lock = threading.Lock()
        self._tk = verovio_module().toolkit()
        self._options = options
        self._tk.setOptions(options.verovio())
        with self._lock:
            ok = self._tk.loadData(musicxml)
        if not ok or self._tk.getPageCount() < 1:
            raise EngraveError("verovio could not engrave this score: "
                               + (self._tk.getLog().strip()[:300] or "no message"))

    # -- pages ----------------------------------------------------------------------
    @property
    def options(self) -> PageOptions:
        return self._options

    @property
    def page_count(self) -> int:
        """Pages of the current layout."""
        return int(self._tk.getPageCount())

    def relayout(self, **changes: Any) -> None:
        """Lay the pages out again for a new width, height or zoom (``PageOptions`` fields)."""
        opts = PageOptions(**{**self._options.__dict__, **changes})
        with self._lock:
            self._tk.setOptions(opts.verovio())
            self._tk.redoLayout()
        self._options = opts

    def svg(self, page: int = 1) -> str:
        """SVG text of one page (1-based)."""
        if not 1 <= page <= self.page_count:
            raise IndexError(f"page {page}: the engraving has pages 1..{self.page_count}")
        with self._lock:
            return str(self._tk.renderToSVG(page))

    def pages(self) -> Iterator[str]:
        """The pages' SVG one after another, each rendered only when reached."""
        for p in range(1, self.page_count + 1):
            yield self.svg(p)

    def page_of(self, note_id: str) -> int:
        """The page (1-based) that shows a note id (0 when none does)."""
        with self._lock:
            return int(self._tk.getPageWithElement(note_id))

    def _repr_svg_(self) -> str:
        return self.svg(1)

    def __repr__(self) -> str:
        return (f"Engraving({len(self.notated.parts)} parts, "
                f"{len(self.notated.parts[0].measures)} bars, {self.page_count} pages)")

    # -- time -----------------------------------------------------------------------
    def note_row(self, note_id: str) -> int | None:
        """The row of ``Score.notes`` an engraved note id shows (None for other ids)."""
        m = _ID.match(note_id)
        return int(m.group(1)) if m else None

    @cached_property
    def _unit_ticks(self) -> tuple[np.ndarray, np.ndarray]:
        """(units, ticks) of every distinct quantised onset: where the page's places were
        played (a performance keeps its own timing)."""
        units, first = np.unique(self._q.start, return_index=True)
        return units.astype(np.float64), self.score.notes["start"][first].astype(np.float64)

    def seconds_at_units(self, units: float) -> float:
        """Seconds of a place on the page (units from the start), on the Score's tempo map."""
        u, t = self._unit_ticks
        per_unit = self.score.tpq / UNITS
        if units <= u[0]:
            tick = t[0] + (units - u[0]) * per_unit
        elif units >= u[-1]:
            tick = t[-1] + (units - u[-1]) * per_unit
        else:
            tick = float(np.interp(units, u, t))
        return float(self.score.tempo.ticks_to_seconds(max(tick, 0.0)))

    @cached_property
    def events(self) -> list[TimedEvent]:
        """verovio's timemap in order, each moment in the Score's seconds."""
        with self._lock:
            raw = self._tk.renderToTimemap({"includeRests": False, "includeMeasures": False})
        out = []
        for e in raw:
            secs = self.seconds_at_units(float(e["qstamp"]) * UNITS)
            on = tuple(e.get("on", ()))
            rows = [r for r in (self.note_row(i) for i in on if "-" not in i) if r is not None]
            if rows:  # a moment where Score notes start: their own start, exactly
                secs = float(self.score.tempo.ticks_to_seconds(
                    int(self.score.notes["start"][rows[0]])))
            out.append(TimedEvent(secs, on, tuple(e.get("off", ()))))
        return out

    @cached_property
    def timemap(self) -> dict[str, float]:
        """Note id -> onset seconds on the Score's tempo map (every engraved note)."""
        return {i: e.seconds for e in self.events for i in e.on}

    @cached_property
    def _sounding(self) -> tuple[list[float], list[tuple[str, ...]]]:
        """Times of the timemap's moments and the ids sounding from each (built once)."""
        times: list[float] = []
        sets: list[tuple[str, ...]] = []
        now: set[str] = set()
        for e in self.events:
            now = (now - set(e.off)) | set(e.on)
            times.append(e.seconds)
            sets.append(tuple(sorted(now)))
        return times, sets

    def ids_at(self, seconds: float) -> list[str]:
        """Ids of the engraved notes sounding at ``seconds`` (what a follower highlights)."""
        times, sets = self._sounding
        k = bisect.bisect_right(times, seconds)
        return list(sets[k - 1]) if k else []

    # -- files ----------------------------------------------------------------------
    def save(self, path: str | Path, *, scale: float = 2.0) -> list[Path]:
        """Write every page: ``OUT.svg`` for one page, else ``OUT-1.svg``, ``OUT-2.svg`` ...;
        ``.png`` the same as PNG (``scale`` times the SVG's pixels)."""
        from mos_lab.notation.export import save_pages

        return save_pages(self, Path(path), scale=scale)
