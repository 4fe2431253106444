"""ChordDisplay: the harmony lane: Roman numeral, chord symbol and local key at the playhead.

The score is analysed once (``theory.analyze``, cached per Score) on a thread the widget
owns, never on the audio or comm thread; the segments (onset, end, numeral, symbol, key,
cadence, measure, beat) and the key bands are sent while the widget is visible. The page
lays them on the piano roll's time axis and picks the label under its playhead at display
rate from the same clock as the roll (``kernelClock``: the audio host's heard position),
so labels change with the music and cost no kernel messages. Clicking a label seeks to
its onset. Live chords (``chord`` bus events: the keyboard, MIDI in, a plugin) are
mirrored in ``live``, every one of them, in order (ENG-07).
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import traitlets as t

from mos_lab.bus import Event
from mos_lab.score import Score
from mos_lab.theater.roll import SCROLL_LEAD
from mos_lab.theory import Analysis, Chord, Key, Segment, analyze
from mos_lab.theory.analysis.numeral import degree_name, figure
from mos_lab.theory.display import key_colour, key_label
from mos_lab.widgets._base import AUTO, MosWidget
from mos_lab.widgets._context import SessionLike
from mos_lab.widgets._messages import Arg, Spec

_CACHE: weakref.WeakKeyDictionary[Score, Analysis] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def cached_analysis(score: Score) -> Analysis | None:
    """The analysis of ``score`` if one was made in this process, else None."""
    with _CACHE_LOCK:
        return _CACHE.get(score)


def analysis_of(score: Score) -> Analysis:
    """``theory.analyze(score)``, once per Score (scores are immutable; kept while alive)."""
    found = cached_analysis(score)
    if found is not None:
        return found
    made = analyze(score)
    with _CACHE_LOCK:
        return _CACHE.setdefault(score, made)


def segment_ends(score: Score, analysis: Analysis) -> list[float]:
    """Where each segment ends, in score seconds."""
    ticks = np.asarray([s.end for s in analysis.segments], dtype=np.float64)
    if not len(ticks):
        return []
    return np.atleast_1d(np.asarray(score.tempo.ticks_to_seconds(ticks), dtype=float)).tolist()


def segment_index(rows: Sequence[Sequence[Any]], seconds: float) -> int:
    """Index of the lane row under ``seconds`` (last onset at or before it, still
    sounding), or -1: the page's rule (``chord_display.js``), mirrored for the kernel."""
    lo, hi = 0, len(rows)
    while lo < hi:
        mid = (lo + hi) // 2
        if rows[mid][0] <= seconds:
            lo = mid + 1
        else:
            hi = mid
    i = lo - 1
    return i if i >= 0 and rows[i][1] > seconds else -1


def live_chord(pitches: Sequence[int], key: str = "C") -> tuple[str, str]:
    """(chord symbol, Roman numeral in ``key``) of pitches held now; ("", "") if no chord."""
    ps = sorted({int(p) for p in pitches})
    if len({p % 12 for p in ps}) < 2:
        return "", ""
    chord = Chord.from_midi(ps)
    if chord.root is None or not chord.symbol:
        return "", ""
    k = Key.parse(key)
    rn = degree_name(chord.root.fifths - k.tonic.fifths, chord.quality, k.mode == "minor")
    rn += figure(chord.inversion or 0, chord.is_seventh)
    return chord.symbol, rn


class ChordDisplay(MosWidget):
    """Harmony lane: numeral, symbol and local key under the playhead; click to seek."""

    _esm_name = "chord_display.js"
    _commands: ClassVar[dict[str, Spec]] = {"seek": {"seconds": Arg(float, 0.0, 1e7)}}

    # [[onset s, end s, numeral, symbol, key, cadence, measure, beat], ...] in time order
    segments: t.List[Any] = t.List().tag(sync=True)
    bands: t.List[Any] = t.List().tag(sync=True)  # key runs: [[start, end, key, name, colour]]
    status = t.Unicode("").tag(sync=True)  # "analysing…", or why there is no harmony
    live = t.Dict().tag(sync=True)  # the last live chord: symbol, roman, key, seq
    window = t.Float(12.0).tag(sync=True)  # seconds across the lane (the roll's zoom)
    lead = t.Float(SCROLL_LEAD).tag(sync=True)  # playhead's place across the lane (0..1)

    def __init__(self, score: Score | None = None, *, window: float = 12.0,
                 session: SessionLike | None = None, key: str | None = AUTO) -> None:
        """The harmony of ``score`` (default: the session's current score) at the playhead.

        Parameters
        ----------
        score
            The score to analyse and show; ``None`` follows the session's current score.
        window
            Seconds of music across the lane (a Player links it to its roll's zoom).
        session
            The session whose playhead and live chords it shows (default: the kernel's).
        key
            Registry key; ``"auto"`` keys it by notebook cell (re-running the cell closes
            the previous display). ``None``: not keyed.
        """
        self._job: threading.Thread | None = None
        self._job_lock = threading.Lock()
        self._shown: Score | None = None  # the score whose lanes the page has
        self._failed: Score | None = None  # a score whose analysis raised (not retried)
        super().__init__(score, session=session, key=key, window=window)
        self.received: deque[str] = deque(maxlen=10_000)  # live chord symbols, in order
        self.seeks: deque[float] = deque(maxlen=1000)  # seeks asked by the page, seconds
        self.life.subscribe(self.session.bus, "chord", self._on_chord)

    # -- the analysis: once per score, on the widget's own thread ------------------------
    @property
    def analysis(self) -> Analysis | None:
        """The analysis of the score shown (None while it is being made, or no score)."""
        sc = self.current_score
        return cached_analysis(sc) if sc is not None else None

    def wait_analysed(self, timeout: float = 30.0) -> Analysis | None:
        """Block until the shown score's analysis exists (made here if needed); for tests."""
        sc = self.current_score
        if sc is None:
            return None
        job = self._job
        if job is not None:
            job.join(timeout)
        return analysis_of(sc)

    def _push(self) -> None:
        if not (self._dirty and self.visible) or self._closed:
            return
        sc = self.current_score
        if sc is not None and cached_analysis(sc) is None:
            if self._shown is not sc:
                self._shown = sc
                self.update(segments=[], bands=[], status="analysing…")
            self._analyse_later()
            return  # still dirty: the job pushes when done
        super()._push()

    def _analyse_later(self) -> None:
        with self._job_lock:
            job = self._job
            busy = job is not None and job.is_alive() and job is not threading.current_thread()
            if self._closed or busy or self.current_score is self._failed:
                return
            def run(stop: threading.Event) -> None:
                sc = self.current_score
                try:
                    if sc is not None:
                        analysis_of(sc)
                    if not stop.is_set() and not self._closed:
                        self._push()  # the score may have changed meanwhile: _push re-checks
                except Exception as exc:  # said on the page, never raised in a thread
                    self._failed = sc
                    self.errors.append(f"analysis: {type(exc).__name__}: {exc}")
                    if not stop.is_set() and not self._closed:
                        self.status = f"no analysis: {exc}"[:200]

            try:  # owned: close() joins it (a finished job counts as nothing alive)
                self._job = self.life.thread(run, "analysis")
            except RuntimeError:  # closed meanwhile
                return

    def _payload(self) -> dict[str, Any]:
        sc = self.current_score
        self._shown = sc
        a = cached_analysis(sc) if sc is not None else None
        if sc is None or a is None:
            return {"segments": [], "bands": [], "status": "" if sc is None else "analysing…"}
        return {"segments": lane_rows(sc, a), "bands": key_bands(sc, a),
                "status": a.message or ("" if a.segments else "no harmony found")}

    # -- what the lane shows where (the page's rule, for the kernel and tests) -----------
    def segment_at(self, seconds: float) -> Segment | None:
        """The segment whose label the lane shows at ``seconds`` of the score."""
        rows = self.segments
        i = segment_index(rows, seconds)
        a = self.analysis
        return a.segments[i] if a is not None and 0 <= i < len(a.segments) else None

    def current(self) -> Segment | None:
        """The segment under the heard position (the engine's audio clock), as the page
        shows it; None between segments or for a score the engine is not playing."""
        sc = self.current_score
        eng = self.session.engine
        pos = eng.position if sc is None or eng.score is sc else 0.0
        return self.segment_at(pos)

    # -- page -> kernel ------------------------------------------------------------------
    def _cmd_seek(self, seconds: float) -> None:
        """A clicked label (or a place on the lane): play from there."""
        self.seeks.append(seconds)
        eng = self.session.engine
        if self.score is not None and eng.score is not self.score:
            eng.load(self.score).result(30)
        eng.seek(seconds)

    def _on_chord(self, ev: Event) -> None:
        if self._closed:
            return
        with self._lock:
            self.received.append(ev["symbol"])
            self.live = {"symbol": ev["symbol"], "roman": ev.get("roman") or "",
                         "key": ev.get("key") or "", "seq": ev.seq}


def lane_rows(score: Score, analysis: Analysis) -> list[list[Any]]:
    """The lane's rows: [onset, end, numeral, symbol, key, cadence, measure, beat]."""
    ends = segment_ends(score, analysis)
    return [[round(s.onset, 4), round(e, 4), s.numeral, s.chord, s.key, s.cadence or "",
             s.measure, round(s.beat, 3)] for s, e in zip(analysis.segments, ends, strict=True)]


def key_bands(score: Score, analysis: Analysis) -> list[list[Any]]:
    """Runs of one local key: [start, end, key, "G major", colour]."""
    out: list[list[Any]] = []
    for s, e in zip(analysis.segments, segment_ends(score, analysis), strict=True):
        if out and out[-1][2] == s.key:
            out[-1][1] = round(e, 4)
        else:
            out.append([round(s.onset, 4), round(e, 4), s.key, key_label(s.key),
                        key_colour(s.key)])
    return out
