"""muspy's evaluation metrics, vectorised on a Score's note table.

Each function follows muspy 0.5's definition (``muspy.metrics``) exactly, quirks included,
so numbers from mos_lab and from papers that used muspy can be compared: drum tracks are
ignored where muspy ignores them and counted where it counts them (the empty-beat rate and
the groove consistency count drums), the song length is the latest note end *or*
controller change (muspy's ``Track.get_end_time`` includes control changes), and
``polyphony_rate`` counts time steps with *more than* ``threshold`` pitches. Where muspy
returns NaN (no note, a zero-length song) these return ``None``. The tests check every
file of the shared corpus against muspy itself to 1e-6.

Time steps are ticks of the file's resolution (``Score.tpq``, muspy's ``resolution``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mos_lab.score import PROGRAM, Score

__all__ = [
    "MUSPY_METRICS",
    "NoteTable",
    "drum_in_pattern_rate",
    "drum_pattern_consistency",
    "empty_beat_rate",
    "empty_measure_rate",
    "groove_consistency",
    "measure_resolution",
    "muspy_metrics",
    "n_pitch_classes_used",
    "n_pitches_used",
    "pitch_class_entropy",
    "pitch_entropy",
    "pitch_in_scale_rate",
    "pitch_range",
    "polyphony",
    "polyphony_rate",
    "scale_consistency",
]

_MAJOR = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], bool)
_MINOR = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0], bool)


@dataclass(frozen=True)
class NoteTable:
    """The columns the metrics read: onsets, ends, pitches, drum flags, resolution, length."""

    start: np.ndarray  # int64 ticks
    end: np.ndarray  # int64 ticks
    pitch: np.ndarray  # int64
    drum: np.ndarray  # bool per note
    resolution: int  # ticks per quarter note
    length: int | None  # latest note end or controller time; None: the song has no track

    @classmethod
    def of(cls, score: Score | NoteTable) -> NoteTable:
        """The table of a Score (a NoteTable is returned as is)."""
        if isinstance(score, NoteTable):
            return score
        n = score.notes
        start = n["start"].astype(np.int64)
        end = start + n["duration"].astype(np.int64)
        drums = np.array([t.drums for t in score.tracks] or [False], bool)
        drum = drums[n["track"]] if len(n) else np.zeros(0, bool)
        cc = score.controls
        cc_times = cc["time"][cc["number"] < PROGRAM]  # muspy keeps control changes only
        # muspy makes a track on a note or a control change; with neither there is no
        # track and muspy's max() over tracks fails: the length is undefined.
        length: int | None = None
        if len(end) or len(cc_times):
            length = int(max(end.max(initial=0), cc_times.max(initial=0)))
        return cls(start, end, n["pitch"].astype(np.int64), drum, int(score.tpq), length)


def _nan(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def n_pitches_used(score: Score | NoteTable) -> int:
    """Number of distinct pitches, drums ignored (muspy.n_pitches_used)."""
    t = NoteTable.of(score)
    return int(np.unique(t.pitch[~t.drum]).size)


def n_pitch_classes_used(score: Score | NoteTable) -> int:
    """Number of distinct pitch classes, drums ignored (muspy.n_pitch_classes_used)."""
    t = NoteTable.of(score)
    return int(np.unique(t.pitch[~t.drum] % 12).size)


def pitch_range(score: Score | NoteTable) -> int:
    """Highest minus lowest pitch, drums ignored; 0 without notes (muspy.pitch_range).

    As in muspy, a song whose only notes are drums gives 0 - 127 = -127.
    """
    t = NoteTable.of(score)
    if t.pitch.size == 0:
        return 0
    p = t.pitch[~t.drum]
    return int(p.max(initial=0) - p.min(initial=127))


def _merged(start: np.ndarray, end: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, ...]:
    """Union of [start, end) intervals within each group: (starts, ends), disjoint per group."""
    keep = end > start
    start, end, group = start[keep], end[keep], group[keep]
    if start.size == 0:
        return start, end
    big = int(end.max()) + 1
    s = start + group * big  # groups laid end to end so one running max serves them all
    e = end + group * big
    order = np.argsort(s, kind="stable")
    s, e, g = s[order], e[order], group[order]
    reach = np.maximum.accumulate(e)
    first = np.ones(s.size, bool)
    first[1:] = s[1:] > reach[:-1]
    idx = np.flatnonzero(first)
    ends = reach[np.r_[idx[1:] - 1, s.size - 1]]
    offset = g[idx] * big
    return s[idx] - offset, ends - offset


def polyphony(score: Score | NoteTable) -> float | None:
    """Mean number of pitches on over the time steps where one is on (muspy.polyphony)."""
    t = NoteTable.of(score)
    if t.length is None:
        return None
    nd = ~t.drum
    s, e = _merged(t.start[nd], t.end[nd], t.pitch[nd])
    covered = int((e - s).sum())
    us, ue = _merged(t.start[nd], t.end[nd], np.zeros(int(nd.sum()), np.int64))
    steps = int((ue - us).sum())
    if steps < 1:
        return None
    return float(np.float64(covered) / steps)


def polyphony_rate(score: Score | NoteTable, threshold: int = 2) -> float | None:
    """Share of time steps with more than ``threshold`` pitches on (muspy.polyphony_rate)."""
    t = NoteTable.of(score)
    if t.length is None or t.length < 1:
        return None
    nd = ~t.drum
    s, e = _merged(t.start[nd], t.end[nd], t.pitch[nd])
    if s.size == 0:
        return 0.0
    times, inv = np.unique(np.r_[s, e], return_inverse=True)
    delta = np.bincount(inv, weights=np.r_[np.ones(s.size), -np.ones(e.size)])
    on = np.cumsum(delta)[:-1]
    steps = int((np.diff(times)[on > threshold]).sum())
    return steps / t.length


def pitch_in_scale_rate(score: Score | NoteTable, root: int, mode: str) -> float | None:
    """Share of notes in the scale on ``root`` (major/minor), drums ignored (muspy's)."""
    mode = mode.lower()
    if mode not in ("major", "minor"):
        raise ValueError("`mode` must be either 'major' or 'minor'.")
    hist = _pc_hist(NoteTable.of(score))
    n = int(hist.sum())
    if n < 1:
        return None
    scale = np.roll(_MAJOR if mode == "major" else _MINOR, root)
    return int(hist[scale].sum()) / n


def _pc_hist(t: NoteTable) -> np.ndarray:
    return np.bincount(t.pitch[~t.drum] % 12, minlength=12)


def scale_consistency(score: Score | NoteTable) -> float | None:
    """Largest pitch-in-scale rate over the 24 major and minor scales (muspy's)."""
    hist = _pc_hist(NoteTable.of(score))
    n = int(hist.sum())
    if n < 1:
        return None
    best = 0.0
    for c_scale in (_MAJOR, _MINOR):
        for root in range(12):
            best = max(best, int(hist[np.roll(c_scale, root)].sum()) / n)
    return best


def _entropy(counter: np.ndarray) -> float | None:
    denominator = counter.sum()
    if denominator < 1:
        return None
    prob = counter / denominator
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(-np.nansum(prob * np.log2(prob)))


def pitch_entropy(score: Score | NoteTable) -> float | None:
    """Shannon entropy (bits) of the pitch histogram, drums ignored (muspy.pitch_entropy)."""
    t = NoteTable.of(score)
    return _entropy(np.bincount(t.pitch[~t.drum], minlength=128).astype(np.float64))


def pitch_class_entropy(score: Score | NoteTable) -> float | None:
    """Shannon entropy (bits) of the pitch-class histogram, drums ignored (muspy's)."""
    return _entropy(_pc_hist(NoteTable.of(score)).astype(np.float64))


def _empty_rate(t: NoteTable, step: int) -> float | None:
    if t.length is None or t.length < 1:
        return None
    n = t.length // step + 1
    # a note marks every step from its onset's to its end's, the end's included (muspy)
    marks = np.zeros(n + 1, np.int64)
    np.add.at(marks, t.start // step, 1)
    np.add.at(marks, t.end // step + 1, -1)
    count = int(np.count_nonzero(np.cumsum(marks)[:n]))
    return 1 - (count / n)


def empty_beat_rate(score: Score | NoteTable) -> float | None:
    """Share of beats where no note (drums included) sounds (muspy.empty_beat_rate)."""
    t = NoteTable.of(score)
    return _empty_rate(t, t.resolution)


def empty_measure_rate(score: Score | NoteTable, measure_resolution: int) -> float | None:
    """Share of measures of ``measure_resolution`` ticks with no note (muspy's)."""
    return _empty_rate(NoteTable.of(score), measure_resolution)


def groove_consistency(score: Score | NoteTable, measure_resolution: int) -> float | None:
    """1 - mean Hamming distance of neighbouring measures' onset patterns (muspy's)."""
    t = NoteTable.of(score)
    if t.length is None:
        return None
    if measure_resolution < 1:
        raise ValueError("Measure resolution must be a positive integer.")
    n = t.length // measure_resolution + 1
    if n < 2:
        return None
    cells = np.unique(t.start)  # measure * resolution + position, as one number
    measure = cells // measure_resolution
    lost = np.count_nonzero((measure < n - 1) & ~np.isin(cells + measure_resolution, cells))
    new = np.count_nonzero((measure >= 1) & ~np.isin(cells - measure_resolution, cells))
    return 1 - (lost + new) / (measure_resolution * (n - 1))


def _drum_pattern(res: int, meter: str) -> np.ndarray:
    pattern = np.zeros(res, bool)
    pattern[0] = True
    if meter == "duple":
        if res % 4 == 0:
            pattern[:: res // 4] = True
        if res % 2 == 0:
            pattern[:: res // 2] = True
    elif meter == "triple":
        if res % 3 == 0:
            pattern[:: res // 3] = True
    else:
        raise ValueError("Only duple and triple meters are supported.")
    return pattern


def drum_in_pattern_rate(score: Score | NoteTable, meter: str) -> float | None:
    """Share of drum onsets on the duple/triple grid of a beat (muspy's)."""
    t = NoteTable.of(score)
    pattern = _drum_pattern(t.resolution, meter.lower())
    starts = t.start[t.drum]
    if starts.size < 1:
        return None
    return int(pattern[starts % t.resolution].sum()) / starts.size


def drum_pattern_consistency(score: Score | NoteTable) -> float | None:
    """The larger drum-in-pattern rate of duple and triple meter (muspy's)."""
    t = NoteTable.of(score)
    duple = drum_in_pattern_rate(t, "duple")
    if duple is None:
        return None
    triple = drum_in_pattern_rate(t, "triple")
    assert triple is not None
    return duple if duple > triple else triple


def measure_resolution(score: Score) -> int | None:
    """Ticks per measure of the first time signature; None when not a whole number."""
    ts = score.time_signatures[0] if score.time_signatures else None
    num, den = (ts.numerator, ts.denominator) if ts is not None else (4, 4)
    ticks = score.tpq * 4 * num
    return ticks // den if ticks % den == 0 and ticks > 0 else None


#: muspy's metric names in the order ``muspy_metrics`` gives them.
MUSPY_METRICS = (
    "pitch_range", "n_pitches_used", "n_pitch_classes_used", "polyphony", "polyphony_rate",
    "scale_consistency", "pitch_entropy", "pitch_class_entropy", "empty_beat_rate",
    "empty_measure_rate", "groove_consistency", "drum_in_pattern_rate_duple",
    "drum_in_pattern_rate_triple", "drum_pattern_consistency",
)


def muspy_metrics(score: Score, measure_ticks: int | None = None) -> dict[str, Any]:
    """Every muspy metric of a score under muspy's names (None where undefined).

    ``measure_ticks`` (muspy's ``measure_resolution``) defaults to the first time
    signature's measure; the measure-based metrics are None when it is not whole.
    """
    t = NoteTable.of(score)
    mr = measure_ticks if measure_ticks is not None else measure_resolution(score)
    return {
        "pitch_range": pitch_range(t),
        "n_pitches_used": n_pitches_used(t),
        "n_pitch_classes_used": n_pitch_classes_used(t),
        "polyphony": polyphony(t),
        "polyphony_rate": polyphony_rate(t),
        "scale_consistency": scale_consistency(t),
        "pitch_entropy": pitch_entropy(t),
        "pitch_class_entropy": pitch_class_entropy(t),
        "empty_beat_rate": empty_beat_rate(t),
        "empty_measure_rate": empty_measure_rate(t, mr) if mr else None,
        "groove_consistency": groove_consistency(t, mr) if mr else None,
        "drum_in_pattern_rate_duple": drum_in_pattern_rate(t, "duple"),
        "drum_in_pattern_rate_triple": drum_in_pattern_rate(t, "triple"),
        "drum_pattern_consistency": drum_pattern_consistency(t),
    }
