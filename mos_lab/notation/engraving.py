"""Engraved pages of a Score, made by verovio in the kernel (offline: its fonts ship in
the wheel), with the timemap that ties each engraved note to the Score's own seconds.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from mos_lab.notation.errors import EngraveError
from mos_lab.notation.model import UNITS, Notated
from mos_lab.notation.musicxml import write as write_musicxml
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
    # verovio keeps its default resource (font) path per thread and sets it at import only:
    # a toolkit made on another thread (the widget's worker) finds no fonts without this
    from importlib.resources import files

    verovio.setDefaultResourcePath(str(files("verovio") / "data"))
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
                "pageMarginRight": 50, "pageMarginTop": 50, "pageMarginBottom": 50,
                # no indenting or newlines between elements: the same drawing in 60 % of
                # the text, a third less time per page (pages are parsed, never read)
                "svgFormatRaw": True}


@dataclass(frozen=True)
class TimedEvent:
    """A moment of the timemap: its seconds (Score tempo map), notes starting and ending."""

    seconds: float
    on: tuple[str, ...]
    off: tuple[str, ...]


@dataclass
class _Chunk:
    """A run of bars laid out by its own verovio toolkit (None until it is needed)."""

    first_bar: int
    end_bar: int
    offset: int  # units from the piece's start to the chunk's first bar
    tk: Any = None
    page0: int = 0  # pages before it
    pages: int = 0
    ids: frozenset[str] = frozenset()


#: A score of more bars than this is laid out in chunks of ``CHUNK_BARS`` bars.
CHUNK_BARS = 128


class Engraving:
    """Engraved notation of a Score: SVG pages (made when asked), timemap, MusicXML.

    A long score (more than ``chunk_bars`` bars) is laid out in chunks of that many bars,
    each by its own verovio toolkit, the first at once and the others when a page, a note
    or the timemap needs them (``lay_out_next`` for a background worker): verovio lays out
    a whole document at load, 2.3 s for 2,000 bars against 0.1 s for a chunk. Page numbers
    run on across chunks (a chunk starts a new page), and ids and times are the same.

    Examples
    --------
    >>> from mos_lab.notation import engrave                          # doctest: +SKIP
    >>> e = engrave(score, page_width=1000)                           # doctest: +SKIP
    >>> e.page_count, e.svg(1)[:4], e.timemap["n0"]                   # doctest: +SKIP
    (2, '<svg', 0.0)
    >>> for svg in e.pages(): ...                                     # doctest: +SKIP
    """

    def __init__(self, score: Score, notated: Notated, quantized: Quantized,
                 musicxml: str | None, options: PageOptions,
                 chunk_bars: int | None = CHUNK_BARS,
                 fill: Callable[[int, int], None] | None = None) -> None:
        if chunk_bars is not None and chunk_bars < 1:
            raise ValueError(f"chunk_bars: {chunk_bars} is not a positive number of bars")
        self.score = score
        self._notated = notated
        #: writes the notes of bars first..end-1 into ``notated`` (``build.Filler.fill``)
        #: when a chunk needs them; None: ``notated`` came complete
        self._fill = fill
        self._xml = musicxml
        self._q = quantized
        self._lock = threading.RLock()
        self._options = options
        bars = notated.parts[0].measures if notated.parts else []
        n = len(bars)
        size = n if chunk_bars is None or n <= chunk_bars else chunk_bars
        origin = bars[0].start if bars else 0
        self._chunks = [_Chunk(a, min(a + size, n), bars[a].start - origin)
                        for a in range(0, n, max(size, 1))] or [_Chunk(0, 0, 0)]
        self._chunk_events: dict[int, list[TimedEvent]] = {}
        self._lay_out(0)

    @property
    def notated(self) -> Notated:
        """The engraving-ready view of the whole score (the notes of bars not laid out yet
        are written first: a long score's chunks get them only when laid out)."""
        with self._lock:
            if self._fill is not None:
                self._fill(0, len(self._notated.parts[0].measures) if self._notated.parts
                           else 0)
                self._fill = None
            return self._notated

    @property
    def musicxml(self) -> str:
        """The MusicXML of the whole score (what verovio engraves, chunk by chunk)."""
        if self._xml is None:
            self._xml = write_musicxml(self.notated)
        return self._xml

    # -- chunks ---------------------------------------------------------------------
    @property
    def chunk_count(self) -> int:
        """Runs of bars laid out separately (1 for a short score)."""
        return len(self._chunks)

    @property
    def chunks_laid_out(self) -> int:
        """Chunks laid out so far (always in order, the first at once)."""
        return sum(1 for c in self._chunks if c.tk is not None)

    @property
    def complete(self) -> bool:
        """Whether every chunk is laid out (page_count is then known without work)."""
        return self._chunks[-1].tk is not None

    def _chunk_xml(self, c: _Chunk) -> str:
        """MusicXML of one chunk's bars, with the key and meter in force at its first bar."""
        if len(self._chunks) == 1:
            return self.musicxml
        if self._fill is not None:
            self._fill(c.first_bar, c.end_bar)
        parts = []
        for part in self._notated.parts:
            key = time = None
            for m in part.measures[:c.first_bar + 1]:
                key = m.key if m.key is not None else key
                time = m.time if m.time is not None else time
            ms = part.measures[c.first_bar:c.end_bar]
            ms = [replace(ms[0], key=key, time=time), *ms[1:]]
            parts.append(replace(part, measures=ms))
        first = c.first_bar == 0
        sub = replace(self._notated, parts=parts, title=self._notated.title if first else "",
                      composer=self._notated.composer if first else "")
        return write_musicxml(sub)

    def _lay_out(self, k: int) -> _Chunk:
        """Lay out chunks up to ``k`` (in order: page numbers run on) and return chunk k."""
        with self._lock:
            for j in range(k + 1):
                c = self._chunks[j]
                if c.tk is not None:
                    continue
                tk = verovio_module().toolkit()
                tk.setOptions(self._options.verovio())
                ok = tk.loadData(self._chunk_xml(c))
                if not ok or tk.getPageCount() < 1:
                    where = f" (bars {c.first_bar + 1}..{c.end_bar})" if j else ""
                    raise EngraveError(f"verovio could not engrave this score{where}: "
                                       + (tk.getLog().strip()[:300] or "no message"))
                c.page0 = self._chunks[j - 1].page0 + self._chunks[j - 1].pages if j else 0
                c.pages = int(tk.getPageCount())
                c.tk = tk
            return self._chunks[k]

    def lay_out_next(self) -> bool:
        """Lay out the next chunk not laid out yet; False when all are."""
        with self._lock:
            k = self.chunks_laid_out
            if k >= len(self._chunks):
                return False
            self._lay_out(k)
            return True

    # -- pages ----------------------------------------------------------------------
    @property
    def options(self) -> PageOptions:
        return self._options

    @property
    def page_count(self) -> int:
        """Pages of the current layout (lays out every chunk: see ``pages_known``)."""
        return self._lay_out(len(self._chunks) - 1).page0 + self._chunks[-1].pages

    @property
    def pages_known(self) -> int:
        """Pages of the chunks laid out so far (no work)."""
        with self._lock:
            done = [c for c in self._chunks if c.tk is not None]
            return done[-1].page0 + done[-1].pages if done else 0

    def relayout(self, **changes: Any) -> None:
        """Lay the pages out again for a new width, height or zoom (``PageOptions`` fields);
        a chunked score lays out its first chunk again now and the others when needed."""
        opts = PageOptions(**{**self._options.__dict__, **changes})
        opts.verovio()
        with self._lock:
            first = self._chunks[0]
            first.tk.setOptions(opts.verovio())
            first.tk.redoLayout()
            first.pages = int(first.tk.getPageCount())
            for c in self._chunks[1:]:
                c.tk, c.pages = None, 0
            self._options = opts

    def _page(self, page: int) -> tuple[_Chunk, int] | None:
        """The chunk holding a page (1-based) and the page's number inside it, laying out
        the chunks up to it (None: no such page)."""
        with self._lock:
            for k, c in enumerate(self._chunks):
                self._lay_out(k)
                if 1 <= page <= c.page0 + c.pages:
                    return c, page - c.page0
        return None

    def svg(self, page: int = 1) -> str:
        """SVG text of one page (1-based); lays out the chunks before it if needed."""
        with self._lock:
            found = self._page(page)
            if found is None:
                raise IndexError(f"page {page}: the engraving has pages 1..{self.page_count}")
            c, local = found
            return str(c.tk.renderToSVG(local))

    def pages(self) -> Iterator[str]:
        """The pages' SVG one after another, each rendered (and laid out) only when reached."""
        p = 1
        while self._page(p) is not None:
            yield self.svg(p)
            p += 1

    def _chunk_of_units(self, units: int) -> int:
        """The chunk whose bars hold a place (units from the start)."""
        starts = [c.offset for c in self._chunks]
        origin = self._notated.parts[0].measures[0].start if self._notated.parts and \
            self._notated.parts[0].measures else 0
        return max(0, bisect.bisect_right(starts, units - origin) - 1)

    def page_of(self, note_id: str) -> int:
        """The page (1-based) that shows a note id (0 when none does)."""
        with self._lock:
            k = len(self._chunks) - 1
            m = _ID.match(note_id)
            if m is not None and len(self._chunks) > 1:
                row = int(m.group(1))
                if m.group(2) is not None:
                    units = int(m.group(2))
                elif 0 <= row < len(self._q.start):
                    units = int(self._q.start[row])
                else:
                    return 0
                k = self._chunk_of_units(units)
            for j in [k, *range(len(self._chunks))]:
                c = self._lay_out(j)
                if len(self._chunks) == 1 or note_id in self._ids(j):
                    local = int(c.tk.getPageWithElement(note_id))
                    return c.page0 + local if local else 0
            return 0

    def _repr_svg_(self) -> str:
        return self.svg(1)

    def __repr__(self) -> str:
        bars = len(self._notated.parts[0].measures) if self._notated.parts else 0
        pages = (f"{self.pages_known} pages" if self.complete
                 else f"{self.pages_known}+ pages, {self.chunks_laid_out}/{self.chunk_count}"
                 " chunks laid out")
        return f"Engraving({len(self._notated.parts)} parts, {bars} bars, {pages})"

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

    def _timemap_of(self, c: _Chunk) -> list[TimedEvent]:
        """verovio's timemap of one chunk, each moment in the Score's seconds."""
        with self._lock:
            raw = c.tk.renderToTimemap({"includeRests": False, "includeMeasures": False})
        out = []
        for e in raw:
            secs = self.seconds_at_units(float(e["qstamp"]) * UNITS + c.offset)
            on = tuple(e.get("on", ()))
            rows = [r for r in (self.note_row(i) for i in on if "-" not in i) if r is not None]
            if rows:  # a moment where Score notes start: their own start, exactly
                secs = float(self.score.tempo.ticks_to_seconds(
                    int(self.score.notes["start"][rows[0]])))
            out.append(TimedEvent(secs, on, tuple(e.get("off", ()))))
        return out

    def chunk_events(self, k: int) -> list[TimedEvent]:
        """The timemap of chunk ``k`` alone (laying it out, and those before it, if needed)."""
        if not 0 <= k < len(self._chunks):
            raise IndexError(f"chunk {k}: the engraving has chunks 0..{len(self._chunks) - 1}")
        with self._lock:
            if k not in self._chunk_events:  # the same in every layout
                self._chunk_events[k] = self._timemap_of(self._lay_out(k))
            return self._chunk_events[k]

    def _ids(self, k: int) -> frozenset[str]:
        """The note ids chunk ``k`` shows."""
        c = self._chunks[k]
        if not c.ids:
            c.ids = frozenset(i for e in self.chunk_events(k) for i in e.on)
        return c.ids

    @cached_property
    def events(self) -> list[TimedEvent]:
        """verovio's timemap in order, each moment in the Score's seconds (every chunk)."""
        return [e for k in range(len(self._chunks)) for e in self.chunk_events(k)]

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
