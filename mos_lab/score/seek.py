"""Seek index: which notes sound at a tick, and the controller state there, in O(log n).

Notes are sorted by start; a running maximum of note ends bounds the first note that can
still sound, and ``searchsorted`` finds both ends of the candidate window. Controllers are
searched with one composite key (channel, number, time), so no Python loop runs over events.
"""

from __future__ import annotations

import numpy as np

from mos_lab.score._types import CONTROL_DTYPE, NOTE_DTYPE


class SeekIndex:
    """Answers "what sounds at tick t" and "what is the controller state at tick t"."""

    __slots__ = ("_ckey", "_ctrl", "_end", "_keys", "_long", "_long_end", "_long_start",
                 "_maxdur", "_runmax", "_start")

    def __init__(self, notes: np.ndarray, controls: np.ndarray | None = None) -> None:
        if notes.dtype != NOTE_DTYPE:
            raise TypeError("notes must use NOTE_DTYPE")
        # contiguous copies: searchsorted on a strided column would copy it on every call
        self._start = np.ascontiguousarray(notes["start"])
        dur = np.ascontiguousarray(notes["duration"])
        self._end = self._start + dur
        # Notes far longer than typical (drones, stuck pedals) would widen every window:
        # they are kept aside (at most ~1% of notes) and checked directly.
        limit = int(np.percentile(dur, 99)) * 2 + 1 if len(notes) else 0
        long_mask = dur > limit
        self._long = np.flatnonzero(long_mask)
        self._long_start, self._long_end = self._start[self._long], self._end[self._long]
        short_end = np.where(long_mask, self._start, self._end)
        self._runmax = (
            np.maximum.accumulate(short_end) if len(notes) else np.zeros(0, dtype=np.int64)
        )
        self._maxdur = limit
        ctrl = controls if controls is not None else np.zeros(0, dtype=CONTROL_DTYPE)
        # composite key: ((channel * 256 + number) << 40) + time, time < 2**40
        key = (ctrl["channel"].astype(np.int64) * 256 + ctrl["number"].astype(np.int64)) << 40
        order = np.lexsort((np.arange(len(ctrl)), ctrl["time"], key))
        self._ctrl = ctrl[order]
        self._ckey = key[order] + self._ctrl["time"]
        self._keys = np.unique(key[order])

    def notes_at(self, tick: int) -> np.ndarray:
        """Indices (into the note table) of the notes sounding at ``tick``: start <= t < end."""
        hi = int(np.searchsorted(self._start, tick, side="right"))
        lo = int(np.searchsorted(self._runmax[:hi], tick, side="right"))
        lo = max(lo, int(np.searchsorted(self._start, tick - self._maxdur, side="right")))
        short = lo + np.flatnonzero(self._end[lo:hi] > tick) if lo < hi else self._long[:0]
        if len(self._long):
            long = self._long[(self._long_start <= tick) & (self._long_end > tick)]
            if len(long):
                return np.union1d(short, long)
        return short

    def first_note_after(self, tick: int) -> int:
        """Index of the first note starting at or after ``tick`` (len(notes) if none)."""
        return int(np.searchsorted(self._start, tick, side="left"))

    def controls_at(self, tick: int) -> np.ndarray:
        """The last value of every (channel, number) set at or before ``tick``.

        Returns rows of CONTROL_DTYPE (one per controller that has been set), so a seek can
        restore pedal, volume, program (number 128) and pitch bend (129) at once.
        """
        if not len(self._keys):
            return self._ctrl[:0]
        pos = np.searchsorted(self._ckey, self._keys + min(int(tick), 2**40 - 1), side="right") - 1
        valid = pos >= 0
        pos = pos[valid]
        hit = (self._ckey[pos] >> 40) == (self._keys[valid] >> 40)
        return self._ctrl[pos[hit]]
