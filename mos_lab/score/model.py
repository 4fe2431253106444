"""The Score: a columnar note table plus tempo map and musical metadata.

Everything in a Score is checked when it is made (``Score.__init__`` validates), and its
arrays are read-only, so a Score handed to the engine can never change under it.

The model knows no file format: the formats import the model, and ``mos_lab.score``
registers their writers in :data:`FORMATS`, which ``Score.save``, ``to_nvx1``,
``to_midi_bytes`` and ``to_mido`` call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mos_lab.score._types import CONTROL_DTYPE, MAX_NOTES, MAX_TRACKS, NOTE_DTYPE, PROGRAM
from mos_lab.score.errors import ScoreError
from mos_lab.score.seek import SeekIndex
from mos_lab.score.tempo import MAX_TICK, TempoChange, TempoMap

if TYPE_CHECKING:
    import mido


@dataclass(frozen=True, slots=True)
class Track:
    """A part: its name, General MIDI program (0-127), MIDI channel (0-15) and drums flag."""

    name: str = ""
    program: int = 0
    channel: int = 0
    drums: bool = False


@dataclass(frozen=True, slots=True)
class TimeSignature:
    """``numerator``/``denominator`` from ``tick`` on."""

    tick: int
    numerator: int = 4
    denominator: int = 4


@dataclass(frozen=True, slots=True)
class KeySignature:
    """A key from ``tick`` on: ``key`` counts sharps (positive) or flats (negative)."""

    tick: int
    key: int = 0
    minor: bool = False
    #: The mode where the source names one beyond major/minor ("dorian", "mixolydian", ...;
    #: see ``MODES``); "" for plain major or minor as ``minor`` says.
    mode: str = ""

    @property
    def name(self) -> str:
        majors = ["Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#"]
        minors = ["ab", "eb", "bb", "f", "c", "g", "d", "a", "e", "b", "f#", "c#", "g#", "d#", "a#"]
        return (minors if self.minor else majors)[self.key + 7]


#: Modes a key signature may name (ABC ``K:D dor``, MusicXML ``<mode>``); "" for none.
MODES = ("", "major", "minor", "ionian", "dorian", "phrygian", "lydian", "mixolydian",
         "aeolian", "locrian")


@dataclass(frozen=True, slots=True)
class Lyric:
    """A sung syllable from ``tick`` in ``track``, verse ``verse`` (from 1); ``text`` ends in
    "-" when the word goes on in the next syllable (as in ABC ``w:`` lines)."""

    tick: int
    text: str
    track: int = 0
    verse: int = 1


@dataclass(frozen=True, slots=True)
class Marker:
    """A text marker (rehearsal letter, section name) at ``tick``."""

    tick: int
    text: str


@dataclass(frozen=True, slots=True)
class Chord:
    """A chord annotation: ``symbol`` (e.g. "Cmaj7") sounding from ``tick`` for ``duration``."""

    tick: int
    duration: int
    symbol: str
    roman: str = ""


def _check_arrays(notes: np.ndarray, controls: np.ndarray, n_tracks: int) -> list[str]:
    """Vectorised checks of the note and control tables; one line per kind of problem.

    Each column is checked with one min/max pass; the row of the first offender is only
    searched for when a check fails, so valid tables cost little.
    """
    problems: list[str] = []
    if len(notes) > MAX_NOTES:
        return [f"notes: {len(notes)} notes is more than the limit of {MAX_NOTES}"]

    def check(table: np.ndarray, what: str, col: str, lo: int, hi: int) -> None:
        if not len(table):
            return
        c = table[col]
        if c.min() >= lo and c.max() <= hi:
            return
        bad = np.flatnonzero((c < lo) | (c > hi))
        i = int(bad[0])
        v = int(c[i])
        rule = f"is below {lo}" if v < lo else f"is above {hi}"
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        problems.append(f"{what}[{i}].{col}: {v} {rule}{more}")

    check(notes, "notes", "pitch", 0, 127)
    check(notes, "notes", "velocity", 1, 127)
    check(notes, "notes", "start", 0, MAX_TICK)
    check(notes, "notes", "duration", 0, MAX_TICK)
    check(notes, "notes", "track", 0, max(n_tracks - 1, 0))
    check(notes, "notes", "channel", 0, 15)
    st = notes["start"]
    if len(st) > 1 and not (st[1:] >= st[:-1]).all():
        problems.append("notes: not sorted by start")
    check(controls, "controls", "number", 0, 129)
    check(controls, "controls", "time", 0, MAX_TICK)
    check(controls, "controls", "channel", 0, 15)
    ct = controls["time"]
    if len(ct) > 1 and not (ct[1:] >= ct[:-1]).all():
        problems.append("controls: not sorted by time")
    return problems


def _check_spelling(spelling: Any, notes: np.ndarray) -> list[str]:
    """Problems with a per-note spelling: length, range, and agreement with each pitch."""
    if not isinstance(spelling, np.ndarray) or spelling.dtype.kind not in "iu":
        return ["spelling: must be an int numpy array (line-of-fifths positions) or None"]
    if spelling.shape != (len(notes),):
        return [f"spelling: {spelling.shape} values for {len(notes)} notes"]
    bad = np.flatnonzero((np.abs(spelling.astype(np.int64)) > 35)
                         | ((spelling.astype(np.int64) * 7) % 12 != notes["pitch"] % 12))
    if len(bad):
        i = int(bad[0])
        return [f"spelling[{i}]: {int(spelling[i])} is not a spelling of pitch "
                f"{int(notes['pitch'][i])}" + (f" (and {len(bad) - 1} more)" if len(bad) > 1
                                                else "")]
    return []


def _check_measures(measures: Any) -> list[str]:
    """Problems with the source's bar lines: ints, at least one measure, strictly rising."""
    if not isinstance(measures, np.ndarray) or measures.dtype.kind not in "iu" \
            or measures.ndim != 1:
        return ["measures: must be a 1-D int numpy array of ticks or None"]
    if len(measures) < 2:
        return [f"measures: {len(measures)} ticks; a measure needs its start and end (2)"]
    m = measures.astype(np.int64)
    if m[0] < 0 or m[-1] > MAX_TICK:
        return [f"measures: ticks must lie in 0..{MAX_TICK} (got {int(m[0])}..{int(m[-1])})"]
    bad = np.flatnonzero(m[1:] <= m[:-1])
    if len(bad):
        i = int(bad[0]) + 1
        return [f"measures[{i}]: {int(m[i])} does not come after {int(m[i - 1])} "
                "(bar lines must rise)"]
    return []


def _check_ties(ties: Any, notes: np.ndarray) -> list[str]:
    """Problems with written ties: (row, tick) pairs, each tick inside its note."""
    if not isinstance(ties, np.ndarray) or ties.dtype.kind not in "iu" or ties.ndim != 2 \
            or ties.shape[1] != 2:
        return ["ties: must be an int numpy array of (row, tick) pairs, shape (k, 2), or None"]
    if not len(ties):
        return []
    rows, ticks = ties[:, 0].astype(np.int64), ties[:, 1].astype(np.int64)
    out = np.flatnonzero((rows < 0) | (rows >= len(notes)))
    if len(out):
        return [f"ties[{int(out[0])}]: row {int(rows[out[0]])} is not a note of the score "
                f"({len(notes)} notes)"]
    start = notes["start"][rows]
    bad = np.flatnonzero((ticks <= start) | (ticks >= start + notes["duration"][rows]))
    if len(bad):
        i = int(bad[0])
        return [f"ties[{i}]: tick {int(ticks[i])} is not inside notes[{int(rows[i])}]"
                + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")]
    return []


def _check_voices(voices: Any, notes: np.ndarray) -> list[str]:
    """Problems with the source's voices: one number in 1..255 per note."""
    if not isinstance(voices, np.ndarray) or voices.dtype.kind not in "iu":
        return ["voices: must be an int numpy array (the source's voice of each note) or None"]
    if voices.shape != (len(notes),):
        return [f"voices: {voices.shape} values for {len(notes)} notes"]
    bad = np.flatnonzero((voices.astype(np.int64) < 1) | (voices.astype(np.int64) > 255))
    if len(bad):
        i = int(bad[0])
        return [f"voices[{i}]: {int(voices[i])} is not a voice number in 1..255"]
    return []


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Score:
    """A piece of music: notes as one sorted numpy table, tracks, tempo map and metadata.

    Examples
    --------
    >>> import mos_lab
    >>> s = mos_lab.Score.from_notes([(0, 480, 60, 90), (480, 480, 64, 90)])
    >>> s.n_notes, s.duration
    (2, 1.0)
    >>> s.notes["pitch"].tolist()
    [60, 64]
    """

    notes: np.ndarray
    tracks: tuple[Track, ...]
    tempo: TempoMap
    controls: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=CONTROL_DTYPE))
    time_signatures: tuple[TimeSignature, ...] = (TimeSignature(0),)
    key_signatures: tuple[KeySignature, ...] = ()
    markers: tuple[Marker, ...] = ()
    chords: tuple[Chord, ...] = ()
    title: str = ""
    warnings: tuple[str, ...] = ()
    #: Spelling of each note as its line-of-fifths position (C = 0, G = 1, F = -1, F# = 6),
    #: aligned with ``notes``; None when the source gave none (MIDI). See mos_lab.theory.
    spelling: np.ndarray | None = None
    #: The piece's composer where the source names one (MusicXML creator, ABC ``C:``, a MIDI
    #: text event "Composer: ..."); "" when none.
    composer: str = ""
    #: Sung text, one syllable per entry (MusicXML lyrics, ABC ``w:``, MIDI lyric events).
    lyrics: tuple[Lyric, ...] = ()
    #: The source's bar lines: the tick where each measure starts, then where the last one
    #: ends (int64, rising), so irregular bars and pickups survive; None where the source
    #: has none (MIDI): the engraver bars the piece itself. Kept by ``replace`` and NVX1.
    measures: np.ndarray | None = None
    #: Where the source wrote a note as tied heads: (row of ``notes``, tick where a tied-on
    #: head starts) pairs, sorted; an empty table when every note was one head. None where
    #: the source writes no heads (MIDI): the engraver splits notes itself. Aligned with
    #: ``notes`` like ``spelling``, so ``replace(notes=...)`` without ties drops it.
    ties: np.ndarray | None = None
    #: The source's voice of each note in its part (MusicXML ``<voice>``: 1, 2, ...), uint8
    #: aligned with ``notes`` like ``spelling``; None where the source has one voice per part
    #: or says nothing (MIDI): the engraver then separates voices itself.
    voices: np.ndarray | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not isinstance(self.notes, np.ndarray) or self.notes.dtype != NOTE_DTYPE:
            raise TypeError("Score.notes must be a numpy array of NOTE_DTYPE")
        if not isinstance(self.controls, np.ndarray) or self.controls.dtype != CONTROL_DTYPE:
            raise TypeError("Score.controls must be a numpy array of CONTROL_DTYPE")
        if len(self.tracks) > MAX_TRACKS:
            problems.append(f"tracks: {len(self.tracks)} tracks is more than {MAX_TRACKS}")
        for i, tr in enumerate(self.tracks):
            if not 0 <= tr.program <= 127:
                problems.append(f"tracks[{i}].program: {tr.program} is not in 0..127")
            if not 0 <= tr.channel <= 15:
                problems.append(f"tracks[{i}].channel: {tr.channel} is not in 0..15")
        for i, ts in enumerate(self.time_signatures):
            if ts.numerator < 1 or ts.denominator < 1 or ts.denominator & (ts.denominator - 1):
                problems.append(
                    f"time_signatures[{i}]: {ts.numerator}/{ts.denominator} is not a valid meter"
                )
        for i, ks in enumerate(self.key_signatures):
            if not -7 <= ks.key <= 7:
                problems.append(f"key_signatures[{i}].key: {ks.key} is not in -7..7")
            if ks.mode not in MODES:
                problems.append(f"key_signatures[{i}].mode: {ks.mode!r} is not one of "
                                f"{', '.join(m for m in MODES if m)}")
        for i, ly in enumerate(self.lyrics):
            if not 0 <= ly.track < max(len(self.tracks), 1):
                problems.append(f"lyrics[{i}].track: {ly.track} is not a track of the score")
            if ly.verse < 1 or ly.tick < 0:
                problems.append(f"lyrics[{i}]: verse {ly.verse} or tick {ly.tick} is below "
                                "its minimum (1, 0)")
        problems += _check_arrays(self.notes, self.controls, len(self.tracks))
        if self.spelling is not None:
            problems += _check_spelling(self.spelling, self.notes)
        if self.measures is not None:
            problems += _check_measures(self.measures)
        if self.ties is not None:
            problems += _check_ties(self.ties, self.notes)
        if self.voices is not None:
            problems += _check_voices(self.voices, self.notes)
        if problems:
            raise ScoreError(problems)
        if self.spelling is not None:
            object.__setattr__(self, "spelling", _frozen(self.spelling.astype(np.int16)))
        if self.voices is not None:
            object.__setattr__(self, "voices", _frozen(self.voices.astype(np.uint8)))
        if self.measures is not None:
            object.__setattr__(self, "measures", _frozen(self.measures.astype(np.int64)))
        if self.ties is not None:
            t = self.ties.astype(np.int64).reshape(-1, 2)
            object.__setattr__(self, "ties", _frozen(t[np.lexsort((t[:, 1], t[:, 0]))]))
        object.__setattr__(self, "notes", _frozen(self.notes))
        object.__setattr__(self, "controls", _frozen(self.controls))
        object.__setattr__(self, "tracks", tuple(self.tracks))

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_notes(
        cls,
        notes: Any,
        *,
        tpq: int = 480,
        bpm: float = 120.0,
        program: int = 0,
        title: str = "",
    ) -> Score:
        """A one-track score from ``(start, duration, pitch, velocity)`` rows in ticks."""
        rows = np.asarray(notes, dtype=np.int64).reshape(-1, 4)
        table = np.zeros(len(rows), dtype=NOTE_DTYPE)
        problems = []
        for col, name, hi in ((2, "pitch", 127), (3, "velocity", 127)):
            bad = np.flatnonzero((rows[:, col] < 0) | (rows[:, col] > hi))
            if len(bad):
                problems.append(f"notes[{bad[0]}].{name}: {rows[bad[0], col]} is not in 0..{hi}")
        if problems:
            raise ScoreError(problems)
        table["start"], table["duration"] = rows[:, 0], rows[:, 1]
        table["pitch"], table["velocity"] = rows[:, 2], rows[:, 3]
        table = table[np.argsort(table["start"], kind="stable")]
        tempo = TempoMap(tpq, [TempoChange(0, round(60_000_000 / bpm))])
        return cls(table, (Track("", program, 0, False),), tempo, title=title)

    def replace(self, **changes: Any) -> Score:
        """A copy with some fields replaced (validated like any new score); new notes
        without a new spelling, ties or voices drop the old ones (they described other
        notes)."""
        for aligned in ("spelling", "ties", "voices"):
            if "notes" in changes and aligned not in changes:
                changes[aligned] = None
        return replace(self, **changes)

    # -- derived -----------------------------------------------------------------------
    @property
    def tpq(self) -> int:
        """Ticks per quarter note."""
        return self.tempo.tpq

    @property
    def n_notes(self) -> int:
        return len(self.notes)

    @cached_property
    def end_tick(self) -> int:
        """Tick at which the last note ends (0 for an empty score)."""
        if not len(self.notes):
            return 0
        return int((self.notes["start"] + self.notes["duration"]).max())

    @property
    def duration(self) -> float:
        """Seconds at which the last note ends."""
        return float(self.tempo.ticks_to_seconds(self.end_tick))

    @cached_property
    def seek(self) -> SeekIndex:
        """The seek index (built once, on first use)."""
        return SeekIndex(self.notes, self.controls)

    def notes_at(self, seconds: float) -> np.ndarray:
        """The rows of the notes sounding at ``seconds``."""
        return self.notes[self.seek.notes_at(int(self.tempo.seconds_to_ticks(seconds)))]

    def programs(self) -> list[int]:
        """Programs used: each track's program plus every program change."""
        pcs = self.controls["value"][self.controls["number"] == PROGRAM]
        return sorted({t.program for t in self.tracks} | {int(p) for p in pcs})

    def track_notes(self, track: int) -> np.ndarray:
        """The note rows of one track."""
        return self.notes[self.notes["track"] == track]

    def transpose(self, semitones: int) -> Score:
        """A copy moved by ``semitones`` (drum tracks stay); raises if a pitch leaves 0..127."""
        notes = self.notes.copy()
        drums = np.array([t.drums for t in self.tracks], dtype=bool)
        movable = ~drums[notes["track"]] if len(drums) else np.ones(len(notes), bool)
        moved = notes["pitch"].astype(np.int64) + semitones * movable
        bad = np.flatnonzero((moved < 0) | (moved > 127))
        if len(bad):
            raise ScoreError(
                f"notes[{bad[0]}].pitch: {moved[bad[0]]} after transposing is out of 0..127"
            )
        notes["pitch"] = moved
        # same rows: the heads and voices stay
        return self.replace(notes=notes, ties=self.ties, voices=self.voices)

    def info(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``mos-lab info --json`` prints)."""
        return {
            "title": self.title,
            "notes": self.n_notes,
            "tracks": [
                {
                    "name": t.name,
                    "program": t.program,
                    "channel": t.channel,
                    "drums": t.drums,
                    "notes": int(np.count_nonzero(self.notes["track"] == i)),
                }
                for i, t in enumerate(self.tracks)
            ],
            "duration": round(self.duration, 6),
            "ticks_per_quarter": self.tpq,
            "tempo_changes": [
                {"tick": c.tick, "bpm": round(c.bpm, 3), "seconds": round(
                    float(self.tempo.ticks_to_seconds(c.tick)), 6)}
                for c in self.tempo.changes
            ],
            "time_signatures": [
                {"tick": t.tick, "numerator": t.numerator, "denominator": t.denominator}
                for t in self.time_signatures
            ],
            "key_signatures": [{"tick": k.tick, "key": k.name} for k in self.key_signatures],
            "controls": len(self.controls),
            "warnings": list(self.warnings),
        }

    def __repr__(self) -> str:
        name = f"{self.title!r}, " if self.title else ""
        return (
            f"Score({name}{self.n_notes} notes, {len(self.tracks)} tracks, "
            f"{self.duration:.1f} s, tpq={self.tpq})"
        )

    # -- I/O (formats live in their own modules and register their writers) ------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write by extension: .mid/.midi, .json (NVX1), .musicxml/.mxl/.xml, .abc."""
        return FORMATS.save(self, path)

    def to_nvx1(self) -> dict[str, Any]:
        """The NVX1 document (a JSON-ready dict)."""
        return FORMATS.to_nvx1(self)

    def to_midi_bytes(self) -> bytes:
        """A Standard MIDI File."""
        return FORMATS.to_midi_bytes(self)

    def to_mido(self) -> mido.MidiFile:
        """A ``mido.MidiFile``."""
        return FORMATS.to_mido(self)

    def engrave(self, **options: Any) -> Any:
        """Engraved notation (``mos_lab.notation.Engraving``: SVG pages, timemap); options
        as ``mos_lab.notation.engrave``. Registered when ``mos_lab.notation`` is imported."""
        return FORMATS.engrave(self, **options)


def _unregistered(*_: Any) -> Any:
    raise RuntimeError("no writer registered for this format (mos_lab.score registers them)")


def _no_notation(*_: Any, **__: Any) -> Any:
    raise RuntimeError("Score.engrave needs the notation layer: import mos_lab.notation first")


@dataclass
class Formats:
    """The writers behind Score's conveniences, registered by ``mos_lab.score``."""

    save: Callable[[Score, str | os.PathLike[str]], Path] = _unregistered
    to_nvx1: Callable[[Score], dict[str, Any]] = _unregistered
    to_midi_bytes: Callable[[Score], bytes] = _unregistered
    to_mido: Callable[[Score], Any] = _unregistered
    engrave: Callable[..., Any] = _no_notation  # filled by mos_lab.notation


FORMATS = Formats()
