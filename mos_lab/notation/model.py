"""What the page shows, before any file format: parts, staves, measures, voices, events.

Times are integer *units* of :data:`UNITS` per quarter note (from the quantised view of
the Score), measured from the start of the piece. Nothing here knows MusicXML or verovio.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Units per quarter note: 16th-note subdivisions (64ths), triplets of them and 128ths.
UNITS = 96


@dataclass(slots=True)
class Head:
    """One notehead: spelled pitch, the accidental to print (None: none), ties, source note."""

    step: str
    alter: int
    octave: int
    note: int  # row in Score.notes
    accidental: str | None = None
    tie_start: bool = False
    tie_stop: bool = False
    id: str = ""
    unpitched: bool = False


@dataclass(slots=True)
class Event:
    """A chord (one or more heads) or a rest (no heads) in one voice of one measure."""

    start: int  # units, absolute
    duration: int  # units actually taken (triplets: 2/3 of the shown value)
    type: str  # "quarter", "eighth", ...
    dots: int = 0
    heads: list[Head] = field(default_factory=list)
    tuplet: bool = False  # a 3:2 triplet member
    tuplet_mark: str | None = None  # "start" / "stop"
    beam: str | None = None  # "begin" / "continue" / "end"
    whole_measure: bool = False
    #: line number -> text under it; a sung syllable whose word goes on ends in "-"
    lyrics: dict[int, str] = field(default_factory=dict)
    syllabic: dict[int, str] = field(default_factory=dict)  # line -> MusicXML syllabic


@dataclass(slots=True)
class Voice:
    """The events of one voice on one staff in one measure, in time order."""

    staff: int  # 1-based inside its part
    number: int  # 1-based inside its part (staff 1: 1-4, staff 2: 5-8)
    events: list[Event] = field(default_factory=list)


@dataclass(slots=True)
class Direction:
    """Text under or over a staff at a time: a dynamic, a chord symbol, a Roman numeral."""

    staff: int
    time: int  # units, absolute
    kind: str  # "dynamics" / "words"
    text: str
    placement: str = "below"


@dataclass(slots=True)
class Measure:
    """One bar: where it starts, its length, the meter or key that change at it, its voices."""

    number: int
    start: int
    length: int
    implicit: bool = False  # a pickup (or other short) bar, not counted
    time: tuple[int, int] | None = None
    key: tuple[int, bool] | None = None  # (sharps, minor)
    voices: list[Voice] = field(default_factory=list)
    directions: list[Direction] = field(default_factory=list)


@dataclass(slots=True)
class Part:
    """A part (one Score track): its name, staves with their clefs, and its measures."""

    name: str
    clefs: list[str]  # per staff: "treble", "treble8vb", "bass", "alto", "percussion"
    measures: list[Measure] = field(default_factory=list)
    program: int = 0
    drums: bool = False


@dataclass(slots=True)
class Notated:
    """A whole engraving-ready score: title, tempo and parts (what a writer turns into a file)."""

    title: str
    parts: list[Part]
    bpm: float = 120.0
    pickup: int = 0  # units
    performed: bool = False  # quantised from a performance (see ``quantize``)
    composer: str = ""
