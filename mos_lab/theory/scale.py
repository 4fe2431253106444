"""Scales and modes as interval patterns above a spelled tonic.

``SCALES`` maps a scale name to its intervals above the tonic; every spelling follows
from them (D harmonic minor has C#, not Db). Seven-note scales have a degree for every
letter, so ``degree_of`` can say which degree a pitch is and how it is altered.

Examples
--------
>>> [p.name for p in Scale("D", "harmonic minor").pitches()]
['D', 'E', 'F', 'G', 'A', 'Bb', 'C#']
>>> Scale("Eb", "dorian").degree_of("Gb")
(3, 0)
"""

from __future__ import annotations

from dataclasses import dataclass

from mos_lab.theory.interval import Interval
from mos_lab.theory.pitch import Pitch, pitch

_MODES = {
    "ionian": "P1 M2 M3 P4 P5 M6 M7",
    "dorian": "P1 M2 m3 P4 P5 M6 m7",
    "phrygian": "P1 m2 m3 P4 P5 m6 m7",
    "lydian": "P1 M2 M3 A4 P5 M6 M7",
    "mixolydian": "P1 M2 M3 P4 P5 M6 m7",
    "aeolian": "P1 M2 m3 P4 P5 m6 m7",
    "locrian": "P1 m2 m3 P4 d5 m6 m7",
}

#: Scale name -> intervals above the tonic (ascending).
SCALES: dict[str, tuple[str, ...]] = {
    "major": tuple(_MODES["ionian"].split()),
    "natural minor": tuple(_MODES["aeolian"].split()),
    "harmonic minor": ("P1", "M2", "m3", "P4", "P5", "m6", "M7"),
    "melodic minor": ("P1", "M2", "m3", "P4", "P5", "M6", "M7"),
    **{name: tuple(ivs.split()) for name, ivs in _MODES.items()},
    "major pentatonic": ("P1", "M2", "M3", "P5", "M6"),
    "minor pentatonic": ("P1", "m3", "P4", "P5", "m7"),
    "blues": ("P1", "m3", "P4", "A4", "P5", "m7"),
    "major blues": ("P1", "M2", "m3", "M3", "P5", "M6"),
    "whole-tone": ("P1", "M2", "M3", "A4", "A5", "A6"),
    "octatonic": ("P1", "M2", "m3", "P4", "d5", "m6", "M6", "M7"),  # whole-half
    "octatonic half-whole": ("P1", "m2", "m3", "M3", "A4", "P5", "M6", "m7"),
    "chromatic": ("P1", "A1", "M2", "A2", "M3", "P4", "A4", "P5", "A5", "M6", "A6", "M7"),
}

_ALIASES = {
    "minor": "natural minor",
    "aeolian minor": "natural minor",
    "whole tone": "whole-tone",
    "diminished": "octatonic",
    "whole-half": "octatonic",
    "half-whole": "octatonic half-whole",
    "pentatonic": "major pentatonic",
    "melodic minor ascending": "melodic minor",
}


def scale_kind(name: str) -> str:
    """The canonical name in SCALES of a scale or mode name (ValueError naming it if none)."""
    key = " ".join(name.lower().replace("_", " ").split())
    key = _ALIASES.get(key, key)
    if key not in SCALES:
        raise ValueError(f"unknown scale {name!r}; known: {', '.join(SCALES)}")
    return key


@dataclass(frozen=True, slots=True)
class Scale:
    """A scale: spelled ``tonic`` (pitch class) and ``kind`` (a key of SCALES)."""

    tonic: Pitch
    kind: str = "major"

    def __init__(self, tonic: Pitch | str, kind: str = "major") -> None:
        object.__setattr__(self, "tonic", pitch(tonic).with_octave(None))
        object.__setattr__(self, "kind", scale_kind(kind))

    @property
    def intervals(self) -> tuple[Interval, ...]:
        """The intervals above the tonic."""
        return tuple(Interval.parse(s) for s in SCALES[self.kind])

    def pitches(self, octave: int | None = None) -> list[Pitch]:
        """The scale's pitches ascending from the tonic (in ``octave`` if given)."""
        start = self.tonic.with_octave(octave)
        return [iv.transpose(start) for iv in self.intervals]

    @property
    def pitch_classes(self) -> frozenset[int]:
        """The set of pitch classes (0-11) in the scale."""
        return frozenset(p.pc for p in self.pitches())

    def __contains__(self, p: object) -> bool:
        """True when a pitch's pitch class (enharmonics too) is in the scale."""
        if not isinstance(p, Pitch | str | int):
            return False
        return pitch(p).pc in self.pitch_classes

    def degree_of(self, p: Pitch | str) -> tuple[int, int] | None:
        """(degree 1-based, alteration) of a pitch whose letter is a degree of the scale.

        For a seven-note scale every letter is a degree; in others a letter may be absent
        (None) or held twice (the first is used).
        """
        q = pitch(p)
        for i, sp in enumerate(self.pitches()):
            if sp.step == q.step:
                return i + 1, q.alter - sp.alter
        return None

    def degree(self, n: int, octave: int | None = None) -> Pitch:
        """The ``n``-th degree (1-based; above the scale's length it continues upward)."""
        if n < 1:
            raise ValueError(f"degree {n} is not 1 or more")
        ps = self.pitches(octave)
        k, i = divmod(n - 1, len(ps))
        p = ps[i]
        return p if p.octave is None else p.with_octave(p.octave + k)

    def __str__(self) -> str:
        return f"{self.tonic.name} {self.kind}"
