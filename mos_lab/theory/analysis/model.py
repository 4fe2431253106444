"""The result of a harmonic analysis: segments with key, numeral, chord and cadence.

An ``Analysis`` is the same object whether an analyser made it (``theory.analyze``) or a
human wrote it (``theory.read_romantext``), so the two can be compared frame by frame
(``frames``) and either can be written back as RomanText or JSON records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mos_lab.theory.chord import QUALITIES
from mos_lab.theory.pitch import fifths_name

#: Augmented sixths written as the chord symbols they sound as (on the lowered sixth).
_AUG6_SUFFIX = {"Italian augmented sixth": "7(no5)", "French augmented sixth": "7b5",
                "German augmented sixth": "7"}
#: Kinds of non-chord tone a Segment can list.
NCT_KINDS = ("passing", "neighbour", "suspension", "appoggiatura", "pedal", "anticipation",
             "escape", "other")
#: Cadence names a Segment can carry.
CADENCES = ("PAC", "IAC", "HC", "PHC", "DC", "PC")


@dataclass(frozen=True, slots=True)
class NonChordTone:
    """A note outside its segment's chord: where it starts, its pitch, voice and kind."""

    tick: int
    pitch: int
    track: int
    kind: str


@dataclass(frozen=True, slots=True)
class Segment:
    """One harmony: where it starts and ends, its key, numeral and chord, and what follows."""

    tick: int
    end: int
    onset: float
    measure: int
    beat: float
    key: str
    numeral: str
    chord: str
    root: str
    quality: str
    inversion: int
    pcs: tuple[int, ...]
    bass: int
    non_chord_tones: tuple[NonChordTone, ...] = ()
    cadence: str | None = None

    @property
    def key_tonic(self) -> int:
        """Pitch class of the key's tonic."""
        return _key_pc(self.key)

    @property
    def minor(self) -> bool:
        """True in a minor key."""
        return self.key[:1].islower()

    def record(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``mos-lab analyze --json`` prints per segment)."""
        d = asdict(self)
        d["onset"] = round(self.onset, 6)
        d["beat"] = round(self.beat, 4)
        d["pcs"] = list(self.pcs)
        d["non_chord_tones"] = [asdict(n) for n in self.non_chord_tones]
        return d


def _key_pc(symbol: str) -> int:
    """Pitch class of a RomanText key symbol (``"F#"``, ``"bb"``)."""
    base = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}[symbol[0].lower()]
    return (base + symbol[1:].count("#") - symbol[1:].count("b") - symbol[1:].count("-")) % 12


def chord_symbol(root_fifths: int, quality: str, bass_fifths: int) -> str:
    """Chord symbol such as ``D7/F#`` from spelled root and bass (line-of-fifths)."""
    root = fifths_name(root_fifths)
    q = QUALITIES.get(quality)
    sym = root + (q.suffix if q is not None else _AUG6_SUFFIX.get(quality, ""))
    return sym if bass_fifths == root_fifths else f"{sym}/{fifths_name(bass_fifths)}"


@dataclass
class Analysis:
    """A harmonic analysis: segments in time order, the global key and how sure it is.

    Examples
    --------
    >>> from mos_lab import theory
    >>> a = theory.read_romantext("Time Signature: 4/4\\nm1 C: I b3 V7\\nm2 I")
    >>> [s.numeral for s in a], a.key
    (['I', 'V7', 'I'], 'C')
    >>> a.to_romantext().splitlines()[-2:]
    ['m1 C: I b3 V7', 'm2 I']
    """

    segments: list[Segment]
    key: str | None
    confidence: float
    tpq: int = 480
    time_signatures: list[tuple[int, int, int]] = field(default_factory=list)
    measures: dict[int, int] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    message: str = ""

    def __len__(self) -> int:
        return len(self.segments)

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    def __getitem__(self, i: int) -> Segment:
        return self.segments[i]

    def __repr__(self) -> str:
        msg = f", {self.message!r}" if self.message else ""
        return (f"Analysis({len(self.segments)} segments, key={self.key!r}, "
                f"confidence={self.confidence:.2f}{msg})")

    def _repr_html_(self) -> str:
        """A notebook shows an analysis as a coloured key/numeral timeline with a table."""
        from mos_lab.theory.display import analysis_html

        return analysis_html(self)

    @property
    def cadences(self) -> list[Segment]:
        """The segments where a cadence arrives."""
        return [s for s in self.segments if s.cadence]

    def records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per segment."""
        return [s.record() for s in self.segments]

    def to_json(self) -> str:
        """The records as a JSON list."""
        return json.dumps(self.records())

    def to_romantext(self) -> str:
        """The analysis as RomanText (``m3 G: I b2 V6 b3 I``), measures as in the score:
        header, time signatures where they change, one line a bar (``read_romantext``
        reads it back)."""
        lines = [f"{k}: {v2}" for k, v in self.metadata.items() for v2 in v.split("\n")
                 if k.lower() != "time signature"]
        ts = sorted(self.time_signatures) or [(0, 4, 4)]
        by_measure: dict[int, list[Segment]] = {}
        for s in self.segments:
            by_measure.setdefault(s.measure, []).append(s)
        current: tuple[int, int] | None = None
        key: str | None = None
        for measure in sorted(by_measure):
            segs = by_measure[measure]
            tick = self.measures.get(measure, segs[0].tick)
            meter = next(((n, d) for t, n, d in reversed(ts) if t <= max(tick, 0)), ts[0][1:])
            if meter != current:
                lines.append(f"Time Signature: {meter[0]}/{meter[1]}")
                current = meter
            toks = [f"m{measure}"]
            for j, s in enumerate(segs):
                if j or abs(s.beat - 1.0) > 1e-6:
                    toks.append("b" + f"{s.beat:.2f}".rstrip("0").rstrip("."))
                if s.key != key:
                    toks.append(f"{s.key}:")
                    key = s.key
                toks.append(s.numeral)
            lines.append(" ".join(toks))
        return "\n".join(lines) + "\n"

    def frames(self, ticks: np.ndarray) -> dict[str, np.ndarray]:
        """Labels at many ticks: key tonic pc and minor flag, chord pc mask, bass pc (-1: none)."""
        ticks = np.asarray(ticks, dtype=np.int64)
        n = len(self.segments)
        if not n:
            neg = np.full(len(ticks), -1, dtype=np.int64)
            return {"tonic": neg, "minor": neg.copy(), "mask": neg.copy(), "bass": neg.copy()}
        starts = np.asarray([s.tick for s in self.segments], dtype=np.int64)
        ends = np.asarray([s.end for s in self.segments], dtype=np.int64)
        tonic = np.asarray([s.key_tonic for s in self.segments], dtype=np.int64)
        minor = np.asarray([s.minor for s in self.segments], dtype=np.int64)
        mask = np.asarray([sum(1 << p for p in s.pcs) for s in self.segments], dtype=np.int64)
        bass = np.asarray([s.bass for s in self.segments], dtype=np.int64)
        i = np.searchsorted(starts, ticks, side="right") - 1
        ok = (i >= 0) & (ticks < ends[np.clip(i, 0, None)])
        j = np.clip(i, 0, None)
        return {k: np.where(ok, v[j], -1) for k, v in
                (("tonic", tonic), ("minor", minor), ("mask", mask), ("bass", bass))}
