"""The tempo map: exact conversions between ticks, seconds and sample frames.

Ticks to frames is computed in integers (microseconds x ticks), so a note's frame never
drifts however long the piece; the inverse directions return float ticks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_USPQ = 500_000  # 120 BPM, the MIDI default
MAX_TICK = 2**36  # keeps microsecond-tick products inside int64


@dataclass(frozen=True, slots=True)
class TempoChange:
    """A tempo in microseconds per quarter note, from ``tick`` on."""

    tick: int
    us_per_quarter: int

    @property
    def bpm(self) -> float:
        return 60_000_000 / self.us_per_quarter


class TempoMap:
    """Piecewise-constant tempo over ticks, with exact tick -> frame conversion.

    Ticks before the first change run at 120 BPM (``DEFAULT_USPQ``), the MIDI default.

    Examples
    --------
    >>> tm = TempoMap(480, [TempoChange(0, 500_000)])
    >>> tm.ticks_to_seconds(960)
    1.0
    >>> int(tm.ticks_to_frames(960, 48_000))
    48000
    """

    __slots__ = ("_cum_n", "_cum_s", "_den", "_ticks", "_us", "tpq")

    def __init__(self, tpq: int, changes: Sequence[TempoChange] = ()) -> None:
        if tpq <= 0:
            raise ValueError(f"ticks_per_quarter: {tpq} must be positive")
        self.tpq = int(tpq)
        merged: dict[int, int] = {}
        for ch in sorted(changes, key=lambda c: c.tick):
            merged[int(ch.tick)] = int(ch.us_per_quarter)
        # before the first Set Tempo the Standard MIDI File default applies (120 BPM), as
        # mido, symusic and every sequencer read it; a later tempo never reaches back to 0
        merged.setdefault(0, DEFAULT_USPQ)
        ticks = np.array(sorted(merged), dtype=np.int64)
        us = np.array([merged[int(t)] for t in ticks], dtype=np.int64)
        keep = np.ones(len(ticks), dtype=bool)  # drop changes that repeat the tempo before
        keep[1:] = us[1:] != us[:-1]
        self._ticks = ticks[keep]
        self._us = us[keep]
        self._den = 1_000_000 * self.tpq  # seconds = N / den, N in microsecond-ticks
        seg = np.diff(self._ticks) * self._us[:-1]
        self._cum_n = np.concatenate([[0], np.cumsum(seg)]).astype(np.int64)
        self._cum_s = self._cum_n / self._den

    @property
    def changes(self) -> list[TempoChange]:
        """The tempo changes, first at tick 0, without repeats."""
        return [TempoChange(int(t), int(u)) for t, u in zip(self._ticks, self._us, strict=True)]

    def __len__(self) -> int:
        return len(self._ticks)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TempoMap):
            return NotImplemented
        return (
            self.tpq == other.tpq
            and np.array_equal(self._ticks, other._ticks)
            and np.array_equal(self._us, other._us)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TempoMap(tpq={self.tpq}, changes={len(self)}, start_bpm={self.bpm_at(0):.2f})"

    def _n(self, ticks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        i = np.searchsorted(self._ticks, ticks, side="right") - 1
        i = np.maximum(i, 0)
        return self._cum_n[i] + (ticks - self._ticks[i]) * self._us[i], i

    def bpm_at(self, tick: int) -> float:
        """The tempo in quarter notes per minute at ``tick``."""
        i = max(int(np.searchsorted(self._ticks, tick, side="right")) - 1, 0)
        return 60_000_000 / int(self._us[i])

    def ticks_to_seconds(self, ticks: float | np.ndarray) -> np.ndarray | float:
        """Seconds at ``ticks`` (scalar or array)."""
        t = np.asarray(ticks)
        if t.dtype.kind in "iu":
            n, _ = self._n(t.astype(np.int64))
            out = n / self._den
        else:
            i = np.maximum(np.searchsorted(self._ticks, t, side="right") - 1, 0)
            out = self._cum_s[i] + (t - self._ticks[i]) * self._us[i] / self._den
        return float(out) if np.ndim(out) == 0 else out

    def ticks_to_frames(self, ticks: int | np.ndarray, sample_rate: int) -> np.ndarray | int:
        """Sample frame of integer ``ticks``, rounded to nearest, computed exactly in integers."""
        t = np.asarray(ticks, dtype=np.int64)
        n, _ = self._n(t)
        q, r = np.divmod(n, self._den)
        out = q * sample_rate + (r * sample_rate + self._den // 2) // self._den
        return int(out) if np.ndim(out) == 0 else out

    def seconds_to_ticks(self, seconds: float | np.ndarray) -> np.ndarray | float:
        """Fractional ticks at ``seconds`` (scalar or array)."""
        s = np.asarray(seconds, dtype=np.float64)
        i = np.maximum(np.searchsorted(self._cum_s, s, side="right") - 1, 0)
        out = self._ticks[i] + (s - self._cum_s[i]) * self._den / self._us[i]
        return float(out) if np.ndim(out) == 0 else out

    def frames_to_ticks(self, frames: int | np.ndarray, sample_rate: int) -> np.ndarray | float:
        """Fractional ticks at sample frame ``frames``."""
        return self.seconds_to_ticks(np.asarray(frames, dtype=np.float64) / sample_rate)

    def frames_to_seconds(self, frames: int, sample_rate: int) -> float:
        """Seconds at a frame: the plain ratio, kept here so all time goes through one place."""
        return frames / sample_rate

    def scaled(self, factor: float) -> TempoMap:
        """A copy with every tempo multiplied by ``factor`` (2.0 plays twice as fast)."""
        if not (factor > 0 and np.isfinite(factor)):
            raise ValueError(f"tempo factor: {factor} must be a positive finite number")
        return TempoMap(
            self.tpq,
            [TempoChange(c.tick, max(1, round(c.us_per_quarter / factor))) for c in self.changes],
        )
