"""The scene: what the theater shows, as pure data (no wgpu import).

A ``Scene`` is mutable and thread-safe; every change bumps a revision under one lock.
Renderers never read the live scene: they take a ``SceneState`` snapshot (immutable), so
all views of one frame show the same playhead (THR-09) and a batch of changes made with
``Scene.batch()`` is seen entirely or not at all (THR-08).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from mos_lab.score import Score
from mos_lab.theater.roll import page_window, pitch_range, scroll_window

ColorBy = Literal["track", "velocity"]
Orientation = Literal["landscape", "portrait"]

NAMED_SIZES: dict[str, tuple[int, int]] = {
    "720p": (1280, 720),
    "1080p": (1920, 1080),
    "1440p": (2560, 1440),
    "4k": (3840, 2160),
    "8k": (7680, 4320),
}


@dataclass(frozen=True, slots=True)
class View:
    """One output of a scene: pixel size and orientation (portrait = falling notes)."""

    width: int
    height: int
    orientation: Orientation = "landscape"

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16:
            raise ValueError(f"view size: {self.width}x{self.height} is below 16x16")
        if self.width > 32768 or self.height > 32768:
            raise ValueError(f"view size: {self.width}x{self.height} is above 32768")
        if self.orientation not in ("landscape", "portrait"):
            raise ValueError(f"orientation: {self.orientation!r} is not landscape/portrait")

    @classmethod
    def parse(cls, size: str, orientation: Orientation = "landscape") -> View:
        """A view from ``"1080p"``, ``"4k"``, ``"8k"`` or ``"WxH"``."""
        key = size.strip().lower()
        if key in NAMED_SIZES:
            w, h = NAMED_SIZES[key]
        else:
            try:
                ws, hs = key.split("x")
                w, h = int(ws), int(hs)
            except ValueError:
                raise ValueError(
                    f"size: {size!r} is not WxH, 720p, 1080p, 1440p, 4k or 8k") from None
        if orientation == "portrait" and w > h:
            w, h = h, w
        return cls(w, h, orientation)

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


@dataclass(frozen=True, slots=True)
class SceneState:
    """An immutable snapshot of a scene: everything one frame needs."""

    score: Score
    playhead: float  # seconds
    span: float  # seconds of music visible
    lead: float  # fraction of the window before the playhead
    color_by: ColorBy
    selection: np.ndarray  # sorted unique note indices
    pitch_range: tuple[int, int]  # lowest and highest pitch shown, inclusive
    show_keyboard: bool
    show_grid: bool
    show_text: bool
    revision: int
    score_revision: int  # bumps on score / colour / selection change (geometry re-upload)
    paged: bool = False  # the window turns pages instead of scrolling with the playhead

    @property
    def window(self) -> tuple[float, float]:
        """Visible time window ``(t0, t1)`` in seconds.

        Scrolling: the playhead sits ``lead`` of the way into the window. Paged: the
        window stays put while the playhead crosses it and turns when the playhead reaches
        its end; page ``k`` starts at ``k * step - lead * span`` with
        ``step = (1 - lead) * span``, so the new page still shows ``lead`` of the old one.
        """
        if self.paged:
            return page_window(self.playhead, self.span, self.lead)
        return scroll_window(self.playhead, self.span, self.lead)

    def active_notes(self) -> np.ndarray:
        """Indices of the notes sounding at the playhead (through the score's seek index)."""
        tick = int(self.score.tempo.seconds_to_ticks(max(self.playhead, 0.0)))
        return self.score.seek.notes_at(tick)


@dataclass
class _Fields:
    score: Score
    playhead: float = 0.0
    span: float = 8.0
    lead: float = 0.25
    color_by: ColorBy = "track"
    selection: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pitch_range: tuple[int, int] | None = None
    show_keyboard: bool = True
    show_grid: bool = True
    show_text: bool = True
    paged: bool = False


class Scene:
    """What the theater shows: score, playhead, window, colours, highlights, overlays.

    Examples
    --------
    >>> from mos_lab.score import Score
    >>> scene = Scene(Score.from_notes([(0, 480, 60, 90)]), span=4.0)
    >>> scene.set_playhead(0.25)
    >>> scene.snapshot().window
    (-0.75, 3.25)
    >>> with scene.batch():  # seen by renderers all at once
    ...     scene.set_color_by("velocity")
    ...     scene.set_playhead(0.5)
    """

    def __init__(self, score: Score, *, span: float = 8.0, lead: float = 0.25,
                 color_by: ColorBy = "track", playhead: float = 0.0) -> None:
        self._lock = threading.RLock()
        self._f = _Fields(score)
        self._revision = 0
        self._score_revision = 0
        self._snap: SceneState | None = None
        with self.batch():
            self.set_span(span, lead)
            self.set_color_by(color_by)
            self.set_playhead(playhead)

    # -- changes -------------------------------------------------------------------------
    @contextmanager
    def batch(self) -> Iterator[Scene]:
        """Group changes: snapshots taken meanwhile by other threads see none of them."""
        with self._lock:  # re-entrant: batches nest, other threads wait for the outermost
            yield self

    def _changed(self, geometry: bool = False) -> None:
        self._revision += 1
        if geometry:
            self._score_revision += 1

    def set_score(self, score: Score) -> None:
        """Show another score (selection cleared, pitch range re-fitted unless fixed)."""
        if not isinstance(score, Score):
            raise TypeError(f"score: expected a Score, got {type(score).__name__}")
        with self.batch():
            self._f.score = score
            self._f.selection = np.zeros(0, np.int64)
            self._changed(geometry=True)

    def set_playhead(self, seconds: float) -> None:
        """Move the playhead (the window follows it)."""
        if not np.isfinite(seconds):
            raise ValueError(f"playhead: {seconds} is not finite")
        with self.batch():
            self._f.playhead = float(seconds)
            self._changed()

    def set_span(self, span: float, lead: float | None = None) -> None:
        """Seconds visible, and where the playhead sits in the window (0 = left edge)."""
        if not (np.isfinite(span) and span > 0):
            raise ValueError(f"span: {span} must be a positive number of seconds")
        lead = self._f.lead if lead is None else lead
        if not 0.0 <= lead < 1.0:
            raise ValueError(f"lead: {lead} is not in [0, 1)")
        with self.batch():
            self._f.span, self._f.lead = float(span), float(lead)
            self._changed()

    def set_color_by(self, mode: ColorBy) -> None:
        """Colour notes by ``"track"`` or by ``"velocity"``."""
        if mode not in ("track", "velocity"):
            raise ValueError(f"color_by: {mode!r} is not 'track' or 'velocity'")
        with self.batch():
            if mode != self._f.color_by:
                self._f.color_by = mode
                self._changed(geometry=True)

    def select(self, indices: Sequence[int] | np.ndarray) -> None:
        """Highlight these notes (indices into ``score.notes``); empty clears."""
        sel = np.unique(np.asarray(indices, dtype=np.int64))
        with self.batch():
            n = len(self._f.score.notes)
            if len(sel) and (sel[0] < 0 or sel[-1] >= n):
                raise ValueError(f"selection: indices must be in 0..{n - 1}")
            self._f.selection = sel
            self._changed(geometry=True)

    def set_pitch_range(self, pitch_range: tuple[int, int] | None) -> None:
        """Fix the pitches shown (inclusive), or ``None`` to fit the score."""
        if pitch_range is not None:
            lo, hi = pitch_range
            if not 0 <= lo < hi <= 127:
                raise ValueError(f"pitch_range: {pitch_range} is not within 0..127, low < high")
        with self.batch():
            self._f.pitch_range = pitch_range
            self._changed()

    def set_paging(self, paged: bool) -> None:
        """Turn pages (the window stays while the playhead crosses it, as TheaterView
        shows) instead of scrolling with the playhead: a still page is cheap to redraw."""
        with self.batch():
            self._f.paged = bool(paged)
            self._changed()

    def set_overlays(self, *, keyboard: bool | None = None, grid: bool | None = None,
                     text: bool | None = None) -> None:
        """Switch the keyboard strip, bar/beat grid and text on or off."""
        with self.batch():
            f = self._f
            f.show_keyboard = f.show_keyboard if keyboard is None else keyboard
            f.show_grid = f.show_grid if grid is None else grid
            f.show_text = f.show_text if text is None else text
            self._changed()

    # -- reading -------------------------------------------------------------------------
    @property
    def score(self) -> Score:
        return self._f.score

    @property
    def playhead(self) -> float:
        return self._f.playhead

    @property
    def revision(self) -> int:
        return self._revision

    def snapshot(self) -> SceneState:
        """The current state, consistent (never half of another thread's batch)."""
        with self._lock:  # a batch on another thread holds the lock: we wait for all of it
            if self._snap is not None and self._snap.revision == self._revision:
                return self._snap
            f = self._f
            snap = SceneState(
                score=f.score, playhead=f.playhead, span=f.span, lead=f.lead,
                color_by=f.color_by, selection=f.selection,
                pitch_range=f.pitch_range or pitch_range(f.score),
                show_keyboard=f.show_keyboard, show_grid=f.show_grid, show_text=f.show_text,
                revision=self._revision, score_revision=self._score_revision,
                paged=f.paged,
            )
            self._snap = snap
            return snap

    def with_playhead(self, seconds: float) -> SceneState:
        """A snapshot at another playhead, leaving the scene as it is (for export)."""
        return replace(self.snapshot(), playhead=float(seconds))
