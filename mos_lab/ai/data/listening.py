"""Blind A/B listening: two generations at the same loudness, ratings in SQLite, a tally.

``ABStore(path)`` keeps every rating with both generations' provenance (model, version,
weights hash, prompt, seed). ``store.trial(a, b)`` makes one blind pair: which side plays
which generation is drawn at random and hidden until the rating is stored; both are
scaled to the quieter one's loudness (never boosted into clipping), so level does not
decide. ``store.tally()`` counts wins per pair of systems with a 95 % Wilson interval on
the first system's share of decisive votes (ties are counted, not shared out).
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mos_lab.ai.core.types import GenerationResult, Provenance

CHOICES = ("left", "right", "same")


def loudness_db(audio: np.ndarray, sample_rate: int) -> float:
    """Mean-square level in dB over 400 ms blocks, blocks under -70 dB left out (the
    absolute gate of ITU-R BS.1770, without its K filter); -inf for silence."""
    x = np.asarray(audio, dtype=np.float64)
    x = x.reshape(len(x), -1)
    n = max(1, int(0.4 * sample_rate))
    ms = [float(np.mean(x[i:i + n] ** 2)) * x.shape[1] for i in range(0, len(x), n)
          if len(x[i:i + n])]
    kept = [m for m in ms if m > 0 and 10 * math.log10(m) > -70]
    return 10 * math.log10(float(np.mean(kept))) if kept else float("-inf")


def match_loudness(*clips: tuple[np.ndarray, int]) -> list[np.ndarray]:
    """The clips scaled to the quietest one's loudness (float32), so none is louder."""
    levels = [loudness_db(a, sr) for a, sr in clips]
    finite = [v for v in levels if math.isfinite(v)]
    target = min(finite) if finite else 0.0
    return [np.asarray(a, dtype=np.float32) * np.float32(
        10 ** ((target - v) / 20) if math.isfinite(v) else 1.0)
        for (a, _), v in zip(clips, levels, strict=True)]


def system_of(p: Provenance) -> str:
    """A generation's system: model, version and weights hash (what is being compared)."""
    return "@".join(x for x in (p.model, p.version, p.checksum[:12]) if x) or "unknown"


def wilson(wins: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % by default); (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = wins / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, mid - half), min(1.0, mid + half)


@dataclass(frozen=True)
class Generation:
    """One generation to rate: its audio and where it came from."""

    audio: np.ndarray
    sample_rate: int
    provenance: Provenance

    @classmethod
    def from_result(cls, result: GenerationResult) -> Generation:
        """The audio and provenance of a service result (render symbolic ones first, e.g.
        with the "render" backend)."""
        if result.audio is None or result.sample_rate is None or result.provenance is None:
            raise ValueError("an A/B trial needs audio with its sample rate and provenance; "
                             "render a symbolic result first (the 'render' backend)")
        return cls(result.audio, int(result.sample_rate), result.provenance)


@dataclass
class Trial:
    """One blind pair: ``left`` and ``right`` are the loudness-matched clips to play."""

    store: ABStore
    a: Generation
    b: Generation
    a_is_left: bool
    left: np.ndarray = field(repr=False)
    right: np.ndarray = field(repr=False)
    rated: str | None = None

    def rate(self, choice: str, rater: str = "") -> str:
        """Store ``choice`` ("left", "right" or "same"); the winner's system (or "same")."""
        if choice not in CHOICES:
            raise ValueError(f"choice: {choice!r} is not one of {list(CHOICES)}")
        if self.rated is not None:
            raise ValueError("this pair is already rated; make a new trial")
        winner = None if choice == "same" else (
            "a" if (choice == "left") == self.a_is_left else "b")
        self.store._add(self, winner, rater)
        self.rated = choice
        return "same" if winner is None else system_of(
            (self.a if winner == "a" else self.b).provenance)


@dataclass(frozen=True)
class Tally:
    """Votes between two systems and the 95 % interval of ``x``'s share of decisive ones."""

    x: str
    y: str
    x_wins: int
    y_wins: int
    ties: int
    share: float
    low: float
    high: float


class ABStore:
    """Ratings of blind A/B pairs in SQLite, with both generations' provenance."""

    def __init__(self, path: str | Path = ":memory:", *,
                 rng: np.random.Generator | None = None) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._lock = threading.Lock()
        self._rng = rng or np.random.default_rng()
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS ratings (id INTEGER PRIMARY KEY, time REAL, "
                "rater TEXT, system_a TEXT, system_b TEXT, winner TEXT, a_was_left INTEGER, "
                "provenance_a TEXT, provenance_b TEXT)")

    def trial(self, a: Generation, b: Generation) -> Trial:
        """A blind pair of ``a`` and ``b``: sides drawn at random, loudness matched."""
        a_left = bool(self._rng.integers(2))
        ca, cb = match_loudness((a.audio, a.sample_rate), (b.audio, b.sample_rate))
        left, right = (ca, cb) if a_left else (cb, ca)
        return Trial(self, a, b, a_left, left, right)

    def _add(self, t: Trial, winner: str | None, rater: str) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO ratings (time, rater, system_a, system_b, winner, a_was_left, "
                "provenance_a, provenance_b) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), rater, system_of(t.a.provenance), system_of(t.b.provenance),
                 winner, int(t.a_is_left), json.dumps(asdict(t.a.provenance), default=str),
                 json.dumps(asdict(t.b.provenance), default=str)))

    def ratings(self) -> list[dict[str, object]]:
        """Every stored rating as a dict (provenance decoded)."""
        with self._lock:
            cur = self._db.execute("SELECT * FROM ratings ORDER BY id")
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        for r in rows:
            r["provenance_a"] = json.loads(str(r["provenance_a"]))
            r["provenance_b"] = json.loads(str(r["provenance_b"]))
        return rows

    def tally(self) -> list[Tally]:
        """Wins, ties and the Wilson interval per pair of systems (sorted by name)."""
        counts: dict[tuple[str, str], list[int]] = {}
        for r in self.ratings():
            sa, sb, w = str(r["system_a"]), str(r["system_b"]), r["winner"]
            x, y = sorted((sa, sb))
            c = counts.setdefault((x, y), [0, 0, 0])
            if w is None:
                c[2] += 1
            else:
                c[0 if (sa if w == "a" else sb) == x else 1] += 1
        out = []
        for (x, y), (xw, yw, ties) in sorted(counts.items()):
            n = xw + yw
            lo, hi = wilson(xw, n)
            out.append(Tally(x, y, xw, yw, ties, xw / n if n else math.nan, lo, hi))
        return out

    def table(self, rows: Sequence[Tally] | None = None) -> str:
        """The tally as text, one line per pair of systems."""
        lines = []
        for t in rows if rows is not None else self.tally():
            lines.append(f"{t.x} vs {t.y}: {t.x_wins}-{t.y_wins} ({t.ties} same), "
                         f"{t.x} preferred {t.share:.0%} [95% CI {t.low:.0%}..{t.high:.0%}]")
        return "\n".join(lines) or "no ratings yet"

    def close(self) -> None:
        self._db.close()
