"""Training melodies for the offline generator: music21's Bach chorales or the user's files.

A melody is two int arrays: MIDI pitches and durations in sixteenth notes. music21 is
used only here, only at training time (its corpus ships inside the music21 wheel), and
lazily, so generating from a cached model needs no music21.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mos_lab.ai.core.errors import MissingAIDependencyError
from mos_lab.score import Score, load

Melody = tuple[np.ndarray, np.ndarray]  # (pitches, durations in sixteenths)


def melody_of(score: Score) -> Melody:
    """The top line of the highest-sounding track: one pitch per onset, durations to the
    next onset in sixteenths (1..16)."""
    n = score.notes
    if not len(n):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    tracks = [t for t in np.unique(n["track"]) if not score.tracks[int(t)].drums]
    if not tracks:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    busy = [t for t in tracks if (n["track"] == t).sum() >= 8] or tracks
    best = max(busy, key=lambda t: float(n["pitch"][n["track"] == t].mean()))
    m = n[n["track"] == best]
    starts, first = np.unique(m["start"], return_index=True)
    top = np.maximum.reduceat(m["pitch"].astype(np.int64), first)
    ends = np.append(starts[1:], starts[-1] + m["duration"][first[-1]:].max())
    six = score.tpq / 4
    durs = np.clip(np.rint((ends - starts) / six), 0, 16).astype(np.int64)
    keep = durs > 0
    return top[keep], durs[keep]


def melodies_from_files(paths: Iterable[str | os.PathLike[str]]) -> list[Melody]:
    """Melodies of MIDI/ABC/MusicXML/NVX1 files (each loaded with ``mos_lab.load``)."""
    out = []
    for p in paths:
        mel = melody_of(load(p))
        if len(mel[0]) >= 4:
            out.append(mel)
    return out


def _m21() -> Any:
    try:
        import music21
    except ImportError:
        raise MissingAIDependencyError("music21", "training on the Bach chorales") from None
    return music21


def bach_paths(pieces: int) -> list[Path]:
    """The first ``pieces`` Bach chorales of music21's corpus (sorted, so stable)."""
    m21 = _m21()
    paths = sorted(Path(p) for p in m21.corpus.getComposer("bach"))
    return paths[:pieces]


def bach_melodies(pieces: int = 40) -> list[Melody]:
    """Soprano lines of ``pieces`` Bach chorales (about 0.1 s of parsing each)."""
    m21 = _m21()
    out = []
    for path in bach_paths(pieces):
        s = m21.corpus.parse(str(path))
        if not s.parts:
            continue
        ps, ds = [], []
        for el in s.parts[0].flatten().notes:
            d = round(float(el.quarterLength) * 4)
            if d <= 0:
                continue
            ps.append(max(p.midi for p in el.pitches))
            ds.append(min(d, 16))
        if len(ps) >= 4:
            out.append((np.array(ps, np.int64), np.array(ds, np.int64)))
    return out


def corpus_id(source: str | Sequence[Any], pieces: int) -> str:
    """A short stable name of a training corpus, for cache file names."""
    if isinstance(source, str):
        return f"{source}{pieces}"
    h = hashlib.sha256()
    for item in source:
        if isinstance(item, Score):  # column by column: aligned rows have padding bytes
            for col in ("start", "duration", "pitch"):
                h.update(np.ascontiguousarray(item.notes[col]).tobytes())
        else:
            h.update(Path(item).read_bytes())
    return "files-" + h.hexdigest()[:12]
