"""miditok tokenizations (REMI, TSD, Structured, MIDILike) of a Score and back.

``Tokenizer("REMI").encode(score)`` gives token ids with a report of what the tokenization
could not keep: it decodes its own ids and compares note by note (per program and pitch,
in order), so the report is what actually changed, not a guess. A score whose onsets and
durations lie on the tokenizer's grid (``beat_res``) round-trips exactly; the defaults
keep every pitch (0-127), every velocity (127 bins) and every program, drums included
(one token stream with Program tokens). miditok is imported lazily (the ``ai`` extra).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mos_lab.score import MissingDependencyError, Score, interop
from mos_lab.score._types import PROGRAM

__all__ = ["TOKENIZATIONS", "Encoding", "Tokenizer", "tokenize"]

TOKENIZATIONS = ("REMI", "TSD", "Structured", "MIDILike")
DEFAULT_BEAT_RES: dict[tuple[int, int], int] = {(0, 4): 8, (4, 12): 4}


def _miditok() -> Any:
    try:
        import miditok
    except ImportError as exc:
        raise MissingDependencyError("miditok", "ai", "Tokenizing scores") from exc
    return miditok


@dataclass(frozen=True)
class Encoding:
    """Token ids of one score, their names, and what the tokenization dropped or moved."""

    ids: np.ndarray  # int64, one token stream
    tokens: tuple[str, ...]
    dropped: tuple[str, ...] = field(default=())

    @property
    def exact(self) -> bool:
        """True when decoding gives back every note unchanged."""
        return not self.dropped

    def __len__(self) -> int:
        return len(self.ids)


def _note_rows(score: Score) -> np.ndarray:
    """(program or -1 for drums, pitch, start, duration, velocity) per note, int64."""
    n = score.notes
    prog = np.array([-1 if t.drums else t.program for t in score.tracks] or [0], np.int64)
    rows = np.zeros((len(n), 5), np.int64)
    if len(n):
        rows[:, 0] = prog[n["track"]]
        rows[:, 1], rows[:, 2] = n["pitch"], n["start"]
        rows[:, 3], rows[:, 4] = n["duration"], n["velocity"]
    return rows


def _diff(before: Score, after: Score, programs: bool) -> list[str]:
    """What changed from ``before`` to ``after``, in words, note by note in order."""
    a, b = _note_rows(before), _note_rows(after)
    if not programs:  # no Program tokens: instruments collapse, notes must still match
        a[:, 0], b[:, 0] = 0, 0
    out: list[str] = []
    groups: dict[tuple[int, int], list[np.ndarray]] = defaultdict(lambda: [a[:0], b[:0]])
    for i, rows in enumerate((a, b)):
        if len(rows):
            order = np.lexsort((rows[:, 4], rows[:, 3], rows[:, 2], rows[:, 1], rows[:, 0]))
            rows = rows[order]
            keys = rows[:, 0] * 128 + rows[:, 1]
            cuts = np.flatnonzero(np.diff(keys)) + 1
            for chunk in np.split(rows, cuts):
                groups[(int(chunk[0, 0]), int(chunk[0, 1]))][i] = chunk
    lost = added = moved = resized = revel = overlaps = 0
    shift = 0
    for ga, gb in groups.values():
        if len(ga) > 1:  # notes starting before an earlier one of the same pitch ends
            overlaps += int(np.count_nonzero(ga[1:, 2] < np.maximum.accumulate(
                ga[:-1, 2] + ga[:-1, 3])))
        if len(ga) != len(gb):
            lost += max(0, len(ga) - len(gb))
            added += max(0, len(gb) - len(ga))
            continue
        d_on = np.abs(ga[:, 2] - gb[:, 2])
        moved += int(np.count_nonzero(d_on))
        shift = max(shift, int(d_on.max(initial=0)))
        resized += int(np.count_nonzero(ga[:, 3] != gb[:, 3]))
        revel += int(np.count_nonzero(ga[:, 4] != gb[:, 4]))
    if lost:
        out.append(f"{lost} notes dropped (same pitch and onset twice, or not representable)")
    if added:
        out.append(f"{added} notes split or added by the tokenization")
    if moved:
        out.append(f"{moved} onsets moved to the grid (up to {shift} ticks)")
    if resized:
        out.append(f"{resized} durations quantised or clipped")
    if revel:
        out.append(f"{revel} velocities rounded")
    if out and overlaps:
        out.append(f"{overlaps} notes overlap an earlier note of the same pitch and program "
                   "(MIDI and the tokens cannot say which note ends first)")
    return out


class Tokenizer:
    """One miditok tokenization with mos_lab's defaults (lossless where it can be)."""

    def __init__(self, kind: str = "REMI", *, beat_res: dict[tuple[int, int], int] | None = None,
                 num_velocities: int = 127, pitch_range: tuple[int, int] = (0, 127),
                 **config: Any) -> None:
        names = {k.lower(): k for k in TOKENIZATIONS}
        if kind.lower() not in names:
            raise ValueError(f"unknown tokenization {kind!r}: "
                             f"use one of {', '.join(TOKENIZATIONS)}")
        self.kind = names[kind.lower()]
        miditok = _miditok()
        self.programs = bool(config.pop("use_programs", True))
        params: dict[str, Any] = {
            "pitch_range": pitch_range, "num_velocities": num_velocities,
            "beat_res": dict(beat_res or DEFAULT_BEAT_RES),
            "use_programs": self.programs, "one_token_stream_for_programs": True,
        }
        params.update(config)
        self.config = miditok.TokenizerConfig(**params)
        self._tok = getattr(miditok, self.kind)(self.config)

    @property
    def vocab_size(self) -> int:
        """Number of distinct token ids."""
        return len(self._tok)

    def ids_to_tokens(self, ids: Any) -> list[str]:
        """Token names of ids (``Pitch_60``, ``Bar_None``...)."""
        inv = {v: k for k, v in self._tok.vocab.items()}
        return [inv[int(i)] for i in ids]

    def _encode(self, score: Score) -> Any:
        sym = interop.to_symusic(score)
        seq = self._tok.encode(sym)
        if isinstance(seq, list):  # one stream per track (no Program tokens): merge them
            merged = self._tok.encode(_one_track(sym))
            seq = merged[0] if isinstance(merged, list) else merged
        return seq

    def encode(self, score: Score, *, report: bool = True) -> Encoding:
        """Token ids of ``score``; ``report`` decodes them and says what did not survive."""
        seq = self._encode(score)
        ids = np.asarray(seq.ids, np.int64)
        dropped: list[str] = []
        if report:
            dropped = _diff(score, self.decode(ids, tpq=score.tpq), self.programs)
            other = score.controls["number"] != PROGRAM
            if np.any(other):
                dropped.append(f"{int(other.sum())} controller/pitch-bend events not encoded")
            if len(score.tempo.changes) > 1:
                dropped.append(f"{len(score.tempo.changes)} tempo changes not encoded")
        return Encoding(ids, tuple(seq.tokens), tuple(dropped))

    def decode(self, ids: Any, *, tpq: int = 480) -> Score:
        """A Score from token ids, at ``tpq`` ticks per quarter note."""
        miditok = _miditok()
        seq = miditok.TokSequence(ids=[int(i) for i in ids])
        self._tok.complete_sequence(seq)
        sym = self._tok.decode([seq] if not self.programs else seq)
        return interop.from_symusic(sym.resample(tpq, min_dur=0))


def _one_track(sym: Any) -> Any:
    """All notes of a symusic score in its first non-drum track (for a one-stream encoding)."""
    out = sym.copy()
    if len(out.tracks) > 1:
        first = out.tracks[0]
        for t in list(out.tracks)[1:]:
            first.notes.extend(t.notes)
        first.notes.sort()
        while len(out.tracks) > 1:
            out.tracks.pop(len(out.tracks) - 1)
    return out


def tokenize(score: Score, kind: str = "REMI") -> Encoding:
    """Shortcut: ``Tokenizer(kind).encode(score)``."""
    return Tokenizer(kind).encode(score)
