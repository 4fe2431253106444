"""Notation: the score engraved (``mos_lab.notation``: verovio, in the kernel) following playback.

- Pages are SVG made in the kernel (offline, remote kernels alike: no CDN), one page at a
  time when the page asks for it, a few kept (``cache_pages``). A long score is laid out in
  chunks of bars (``Engraving``): the first chunk's pages, notes and times are sent at once,
  and the widget's thread lays out the rest one chunk at a time in the background (a page
  asked beyond them first), sending only each chunk's new notes (``complete`` once all
  are): a view that missed some (rendered later) asks for the whole list once.
- The page width follows the cell: the page reports its width (ResizeObserver, debounced)
  and the kernel lays the pages out again; ``zoom`` does the same for the staff size.
- It follows the heard position: the kernel sends every engraved note id with its onset and
  offset in Score seconds (``Engraving.timemap`` on the Score's tempo map) and each page's
  first onset; the page picks, every animation frame, the notes sounding at ``kernelClock``
  (the same clock as the roll, the audio host's heard position), highlights them by id and
  turns to the page that holds them. No second clock.
- Clicking a note seeks to its onset; shift-click (from the last clicked note) or dragging
  from one note to another sets the loop over that passage; Escape or the loop button clears
  it. It plays through the session's transport, beside the roll and the theater.
- A score that cannot be engraved (``EngraveError``: no notes, too many parts, absurd
  lengths) shows the reason in ``status``; the kernel and the engine go on.

Engraving and page rendering run on one thread the widget owns, never the comm thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Any, ClassVar

import anywidget
import numpy as np
import traitlets as t

from mos_lab.notation import EngraveError, engrave
from mos_lab.notation.engraving import Engraving
from mos_lab.score import Score
from mos_lab.widgets._base import AUTO, MosWidget
from mos_lab.widgets._context import SessionLike
from mos_lab.widgets._esm import css, read
from mos_lab.widgets._messages import Arg, Spec

MIN_WIDTH, MAX_WIDTH = 200, 4000


def note_times(engraving: Engraving, chunks: int | None = None
               ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(ids, onsets, offsets) of every engraved note (of the first ``chunks`` chunks; None:
    all), in onset order, in Score seconds."""
    on: dict[str, float] = {}
    off: dict[str, float] = {}
    events = engraving.events if chunks is None else [
        ev for k in range(chunks) for ev in engraving.chunk_events(k)]
    for ev in events:
        for i in ev.on:
            on.setdefault(i, ev.seconds)
        for i in ev.off:
            off[i] = ev.seconds
    ids = sorted(on, key=lambda i: (on[i], i))
    onsets = np.array([on[i] for i in ids], dtype=np.float64)
    offsets = np.array([max(off.get(i, on[i] + 0.05), on[i] + 0.01) for i in ids],
                       dtype=np.float64)
    return ids, onsets, offsets


def page_starts(engraving: Engraving, ids: list[str], onsets: np.ndarray) -> list[float]:
    """Seconds at which each page's music starts (first onset of its first note), for the
    pages laid out so far (``ids``: the notes of the chunks laid out, or all). Pages
    hold time in order, so each boundary is searched from the last one: a guess as many
    notes on as the previous page held, widened by doubling, then halved (``page_of`` walks
    verovio's whole document, ~2 ms a call on a 75-page score: a few calls per page, not
    a search over every note)."""
    count, n = engraving.pages_known, len(ids)
    cache: dict[int, int] = {}

    def page(i: int) -> int:
        if i >= n:
            return count + 1
        if i not in cache:
            cache[i] = engraving.page_of(ids[i])
        return cache[i]

    starts, lo, step = [0.0], 0, max(1, n // max(count, 1))
    for p in range(2, count + 1):
        before = lo  # the previous page's first note (page < p)
        guess, width = min(lo + step, n), 1
        if page(guess) >= p:  # gallop back from the guess to a note before page p
            hi = guess
            while hi - width > lo and page(hi - width) >= p:
                hi, width = hi - width, width * 2
            lo = max(lo, hi - width)
        else:  # gallop on from the guess to a note on page p or later
            lo, hi = guess, min(guess + 1, n)
            while hi < n and page(hi) < p:
                lo, hi, width = hi, min(hi + width, n), width * 2
        while lo < hi:  # the first note on page p or later
            m = (lo + hi) // 2
            if page(m) >= p:
                hi = m
            else:
                lo = m + 1
        step = max(1, lo - before)
        starts.append(float(onsets[lo]) if lo < n else starts[-1])
    return starts


class Notation(MosWidget):
    """Engraved pages of a score that follow the heard position; click to seek, select to loop."""

    _esm_name = "notation.js"
    _commands: ClassVar[dict[str, Spec]] = {
        "seek": {"seconds": Arg(float, 0.0, 1e7)},
        "loop": {"start": Arg(float, 0.0, 1e7, optional=True),
                 "end": Arg(float, 0.0, 1e7, optional=True)},
        "page": {"page": Arg(int, 1, 100_000), "layout": Arg(int, 0)},
        "notes": {"layout": Arg(int, 0)},
        "width": {"width": Arg(int, 50, 100_000)},
    }

    status = t.Unicode("").tag(sync=True)  # "engraving…", or why there are no pages
    layout_id = t.Int(0).tag(sync=True)  # bumped at each (re)layout: older pages are stale
    page_count = t.Int(0).tag(sync=True)
    pages = t.List(t.Float()).tag(sync=True)  # seconds at which each page's music starts
    # the notes sent last (a layout's first chunk, then each further chunk's new notes):
    # ids space-separated, float64 [onset, offset] per id; the page then holds note_count
    note_batch_ids = t.Unicode("").tag(sync=True)
    note_batch_times = t.Bytes(b"").tag(sync=True)
    note_count = t.Int(0).tag(sync=True)
    zoom = t.Float(1.0).tag(sync=True)
    width = t.Int(840).tag(sync=True)  # SVG pixels across a page (the cell's width)
    height = t.Int(560).tag(sync=True)  # SVG pixels down a page at most
    follow = t.Bool(True).tag(sync=True)  # turn pages with the music
    complete = t.Bool(True).tag(sync=True)  # every chunk laid out (page_count is final)
    player = anywidget.WidgetTrait().tag(sync=True)  # compact Player, or None

    def __init__(self, score: Score | None = None, *, zoom: float = 1.0, height: int = 560,
                 width: int = 840, follow: bool = True, cache_pages: int = 6,
                 player: bool = False, session: SessionLike | None = None,
                 key: str | None = AUTO) -> None:
        """Engraved notation of ``score`` (default: the session's current score).

        Parameters
        ----------
        score
            The score to engrave; ``None`` follows the session's current score.
        zoom
            Staff size (1.0: a 7 mm staff; 0.3..3); the page's buttons change it.
        height
            Most SVG pixels down one page (100..4000): a page is at most a screenful.
        width
            SVG pixels across a page until the page reports the cell's width.
        follow
            Highlight the notes heard and turn pages with the music.
        cache_pages
            Rendered pages kept in the kernel (1..64); others are rendered again when needed.
        player
            Also show the compact player (transport and roll) above the pages: how a Score
            shows itself as a cell's result.
        session
            The session whose heard position it follows and which clicks seek.
        key
            Registry key; ``"auto"`` keys it by notebook cell. ``None``: not keyed.
        """
        if not 1 <= cache_pages <= 64:
            raise ValueError(f"cache_pages: {cache_pages} is not in 1..64")
        self._wake = threading.Event()
        self._work_lock = threading.Lock()  # engraving, layout, pages: one at a time
        self._job_lock = threading.Lock()
        self._engraving: Engraving | None = None
        self._engraved: Score | None = None  # the score the engraving (or refusal) is of
        self._wanted: deque[tuple[int, int]] = deque(maxlen=8)  # (page, layout) asked
        self._cache: OrderedDict[tuple[int, int], str] = OrderedDict()
        self._cache_size = cache_pages
        self._job: threading.Thread | None = None
        #: every engraved note id by onset and its [onset, offset] (what the page holds)
        self._notes: tuple[list[str], np.ndarray] = ([], np.zeros((0, 2), dtype="<f8"))
        child = None
        if player:
            from mos_lab.widgets.player import Player

            child = Player(score, compact=True, static=False, session=session, key=None)
        try:
            super().__init__(score, session=session, key=key, zoom=zoom, height=height,
                             width=width, follow=follow, player=child)
        except Exception:
            if child is not None:
                child.close()
            raise
        self.rendered: deque[int] = deque(maxlen=1000)  # pages rendered, for tests
        self.seeks: deque[float] = deque(maxlen=1000)  # seeks asked by the page
        self.loops: deque[tuple[float, float] | None] = deque(maxlen=1000)
        self.observe(self._on_layout_trait, names=["zoom", "height", "width"])

    @t.validate("zoom")
    def _valid_zoom(self, proposal: Any) -> float:
        v = float(proposal["value"])
        if not 0.3 <= v <= 3.0:
            raise t.TraitError(f"zoom: {v} is not in 0.3..3")
        return v

    @t.validate("height", "width")
    def _valid_size(self, proposal: Any) -> int:
        v = int(proposal["value"])
        lo = 100 if proposal["trait"].name == "height" else MIN_WIDTH
        if not lo <= v <= MAX_WIDTH:
            raise t.TraitError(f"{proposal['trait'].name}: {v} px is not in {lo}..{MAX_WIDTH}")
        return v

    # -- the kernel side: one owned thread engraves, lays out and renders pages ---------
    @property
    def engraving(self) -> Engraving | None:
        """The current engraving (None before it is made, or when the score was refused)."""
        return self._engraving

    def wait_engraved(self, timeout: float = 60.0, *, complete: bool = True
                      ) -> Engraving | None:
        """Engrave now if needed (on this thread) and return the engraving; for tests and
        callers that need the pages before the page asks (None when refused). ``complete``:
        also lay out every chunk of a long score and send all its pages and notes (False:
        only what the page would get at once, the first chunk)."""
        self._work()
        while complete and not self._closed and not self.complete:
            self._work()
        return self._engraving

    def _push(self) -> None:
        if not (self._dirty and self.visible) or self._closed:
            return
        self._dirty = False
        self._kick()

    def _kick(self) -> None:
        self._wake.set()
        with self._job_lock:
            job = self._job
            if self._closed or (job is not None and job.is_alive()):
                return

            def run(stop: threading.Event) -> None:
                while not stop.is_set() and not self._closed:
                    if not self._wake.wait(0.5):
                        continue
                    self._wake.clear()
                    try:
                        self._work()
                    except Exception as exc:  # said on the page, never raised in a thread
                        self.errors.append(f"notation: {type(exc).__name__}: {exc}")
                        self.status = f"notation failed: {exc}"[:300]

            try:
                self._job = self.life.thread(run, "engrave")
            except RuntimeError:  # closed meanwhile
                return

    def _work(self) -> None:
        """Bring the engraving up to date with the score and layout, then send pages asked."""
        with self._work_lock:
            sc = self.current_score
            fresh = sc is not self._engraved
            if fresh:
                self._engrave(sc)
            e = self._engraving
            if e is None:
                return
            want = {"page_width": self.width, "page_height": self.height, "zoom": self.zoom}
            opts = e.options
            if (opts.page_width, opts.page_height, opts.zoom) != tuple(want.values()):
                e.relayout(**want)
                self._cache.clear()
                self._publish(e)
            while self._wanted and not self._closed:
                page, layout = self._wanted.popleft()
                if layout != self.layout_id or page < 1:
                    continue
                if page > e.pages_known and not e.complete:  # lay out up to it first
                    while page > e.pages_known and e.lay_out_next():
                        pass
                    self._publish(e, new_layout=False)
                if page <= self.page_count:
                    self._send_page(e, page)
            if not e.complete and not self._closed:  # the rest of a long score, a chunk a go
                if not fresh:  # (the first chunk's pages go out first)
                    e.lay_out_next()
                    self._publish(e, new_layout=False)
                if not e.complete:
                    self._wake.set()

    def _engrave(self, sc: Score | None) -> None:
        self._engraved = sc
        self._engraving = None
        self._cache.clear()
        if sc is None:
            self._set_pages("no score: load one with session.load(...)")
            return
        self.status = "engraving…"
        try:
            e = engrave(sc, page_width=self.width, page_height=self.height, zoom=self.zoom)
        except EngraveError as exc:
            self.errors.append(f"engrave: {exc}")
            self._set_pages(f"cannot engrave this score: {exc}")
            return
        except Exception as exc:  # verovio missing or failing: said, never raised
            self.errors.append(f"engrave: {type(exc).__name__}: {exc}")
            self._set_pages(f"no notation: {exc}"[:300])
            return
        self._engraving = e
        self._publish(e)

    def _publish(self, e: Engraving, new_layout: bool = True) -> None:
        """Send the notes, times and page starts of the chunks laid out (a new layout makes
        the page drop its pages and notes; more chunks of the same layout only add to them,
        so only their new notes are sent)."""
        ids, on, off = note_times(e, e.chunks_laid_out)
        starts = page_starts(e, ids, on)
        times = np.empty((len(ids), 2), dtype="<f8")
        times[:, 0], times[:, 1] = on, off
        new = np.arange(len(ids))
        if not new_layout:
            known = set(self._notes[0])
            new = np.array([k for k, i in enumerate(ids) if i not in known], dtype=np.int64)
        self._notes = (ids, times)
        self.update(note_batch_ids=" ".join(ids[k] for k in new.tolist()),
                    note_batch_times=times[new].tobytes(), note_count=len(ids), pages=starts,
                    page_count=e.pages_known, complete=e.complete,
                    layout_id=self.layout_id + int(new_layout), status="")

    def _set_pages(self, status: str) -> None:
        self._notes = ([], np.zeros((0, 2), dtype="<f8"))
        self.update(note_batch_ids="", note_batch_times=b"", note_count=0, pages=[],
                    page_count=0, complete=True, layout_id=self.layout_id + 1, status=status)

    @property
    def note_ids(self) -> str:
        """Every engraved note id sent to the page, space-separated, in onset order."""
        return " ".join(self._notes[0])

    @property
    def note_times(self) -> bytes:
        """float64 [onset, offset] (Score seconds) of each id of ``note_ids``."""
        return self._notes[1].tobytes()

    def page_svg(self, page: int) -> str:
        """SVG of one page of the current layout (rendered once, a few kept)."""
        e = self._engraving
        if e is None:
            raise RuntimeError(f"no engraving: {self.status or 'not engraved yet'}")
        key = (page, self.layout_id)
        svg = self._cache.get(key)
        if svg is None:
            svg = e.svg(page)
            self.rendered.append(page)
            self._cache[key] = svg
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return svg

    def _send_page(self, e: Engraving, page: int) -> None:
        svg = self.page_svg(page)
        self.send({"type": "svg", "page": page, "layout": self.layout_id},
                  [svg.encode("utf-8")])

    def _on_layout_trait(self, change: dict[str, Any]) -> None:
        if self._engraving is not None or self.visible:
            self._kick()

    # -- what the page shows where (the page's rule, for the kernel and tests) ----------
    def ids_at(self, seconds: float) -> list[str]:
        """Ids of the engraved notes highlighted at ``seconds`` (onset <= s < offset)."""
        if not self.note_ids:
            return []
        ids = self.note_ids.split(" ")
        times = np.frombuffer(self.note_times, dtype="<f8").reshape(-1, 2)
        hit = (times[:, 0] <= seconds) & (seconds < times[:, 1])
        return [ids[i] for i in np.flatnonzero(hit)]

    def page_at(self, seconds: float) -> int:
        """The page (1-based) the music at ``seconds`` is on (0 without pages)."""
        if not self.pages:
            return 0
        return max(1, int(np.searchsorted(np.asarray(self.pages), seconds, side="right")))

    # -- page -> kernel ------------------------------------------------------------------
    def _bound_loaded(self) -> None:
        eng = self.session.engine
        if self.score is not None and eng.score is not self.score:
            eng.load(self.score).result(30)

    def _cmd_seek(self, seconds: float) -> None:
        """A clicked note: play from its onset."""
        self.seeks.append(seconds)
        self._bound_loaded()
        self.session.engine.seek(seconds)

    def _cmd_loop(self, start: float | None, end: float | None) -> None:
        """A selected passage: loop over it (no start: loop off)."""
        self._bound_loaded()
        self.session.engine.set_loop(start, end)
        self.loops.append(None if start is None else (start, end if end is not None else -1))
        self.session.bus.emit("mos.clock")

    def _cmd_notes(self, layout: int) -> None:
        """A view that missed some notes (made after they were sent): send them all."""
        ids, times = self._notes
        if layout == self.layout_id:
            self.send({"type": "notes", "layout": layout, "count": len(ids)},
                      [" ".join(ids).encode("utf-8"), times.tobytes()])

    def _cmd_page(self, page: int, layout: int) -> None:
        """The page needs a page's SVG (on screen, or the next one soon)."""
        self._wanted.append((page, layout))
        self._kick()

    def _cmd_width(self, width: int) -> None:
        """The cell's width changed (debounced by the page): lay the pages out again."""
        self.width = min(max(width, MIN_WIDTH), MAX_WIDTH)

    def _close_children(self) -> None:
        if self.player is not None:
            self.player.close()


Notation._css = css() + "\n" + read("notation.css")
