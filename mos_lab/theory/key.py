"""Keys: a spelled tonic and a mode, their key signature, degrees and neighbours.

A key's signature is counted in sharps (positive) or flats (negative), as in
``mos_lab.score.KeySignature``: the tonic's line-of-fifths position shifted by the mode
(minor sits three fifths below its relative major). Degrees are read from the mode's
natural scale; minor's raised sixth and seventh are ``alter=+1`` from it.

Examples
--------
>>> k = Key.parse("f#")
>>> k.sharps, k.relative.name, k.pitch_of(7).name, k.leading_tone.name
(3, 'A major', 'E', 'E#')
>>> Key.from_signature(-3).name
'Eb major'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mos_lab.theory.interval import Interval
from mos_lab.theory.pitch import FIFTHS_LETTERS, Pitch, PitchError, pitch
from mos_lab.theory.scale import Scale

#: Mode -> shift of the signature from the tonic's line-of-fifths position.
MODE_FIFTHS = {
    "major": 0,
    "minor": -3,
    "dorian": -2,
    "phrygian": -4,
    "lydian": 1,
    "mixolydian": -1,
    "locrian": -5,
}
_MODE_ALIASES = {
    "ionian": "major",
    "aeolian": "minor",
    "maj": "major",
    "min": "minor",
    "m": "minor",
}
_MODE_SCALE = {"major": "major", "minor": "natural minor"}
_KEY = re.compile(r"^\s*([A-Ga-g](?:#|b|-|♯|♭|x)*)\s*(?::|\s+([A-Za-z]+))?\s*:?\s*$")


class KeyError_(ValueError):
    """A key name that cannot be read; the message names the bad token."""


def _mode(name: str) -> str:
    m = name.lower()
    m = _MODE_ALIASES.get(m, m)
    if m not in MODE_FIFTHS:
        raise KeyError_(f"unknown mode {name!r}; known: {', '.join(MODE_FIFTHS)}")
    return m


@dataclass(frozen=True, slots=True)
class Key:
    """A key: spelled ``tonic`` (pitch class) and ``mode`` (major, minor or a church mode)."""

    tonic: Pitch
    mode: str = "major"

    def __init__(self, tonic: Pitch | str, mode: str = "major") -> None:
        object.__setattr__(self, "tonic", pitch(tonic).with_octave(None))
        object.__setattr__(self, "mode", _mode(mode))

    # -- construction --------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Key:
        """Read ``"C"``, ``"c"`` (lower case is minor), ``"F# major"``, ``"bb minor"``,
        ``"D dorian"``, ``"Eb:"`` or music21's ``"b-"``."""
        if isinstance(text, Key):
            return text
        m = _KEY.match(text) if isinstance(text, str) else None
        if not m:
            raise KeyError_(f"not a key name: {text!r}")
        name, mode = m.groups()
        letter, acc = name[0], name[1:].replace("-", "b")
        try:
            tonic = Pitch.parse(letter.upper() + acc)
        except PitchError:
            raise KeyError_(f"not a key name: {text!r} (bad tonic {name!r})") from None
        if mode is None:
            mode = "minor" if letter.islower() else "major"
        return cls(tonic, mode)

    @classmethod
    def from_signature(cls, sharps: int, mode: str = "major") -> Key:
        """The key in ``mode`` whose signature has ``sharps`` sharps (negative: flats)."""
        m = _mode(mode)
        return cls(Pitch.from_fifths(sharps - MODE_FIFTHS[m]), m)

    # -- views ---------------------------------------------------------------------
    @property
    def sharps(self) -> int:
        """Key signature: number of sharps (positive) or flats (negative)."""
        return self.tonic.fifths + MODE_FIFTHS[self.mode]

    @property
    def signature(self) -> list[Pitch]:
        """The accidentals of the key signature in the order they are written."""
        s = self.sharps
        if s >= 0:
            return [Pitch.from_fifths(6 + i) for i in range(s)]
        return [Pitch.from_fifths(-2 - i) for i in range(-s)]

    def alter_of(self, letter: str | int) -> int:
        """The alteration the signature gives a letter (``"F"`` in G major: +1)."""
        step = "CDEFGAB".index(letter.upper()) if isinstance(letter, str) else int(letter)
        f = FIFTHS_LETTERS.index("CDEFGAB"[step]) - 1  # the natural's fifths position
        lo = self.sharps - 1  # the key's seven spellings are fifths lo .. lo + 6
        return (lo + (f - lo) % 7 - f) // 7

    @property
    def scale(self) -> Scale:
        """The key's natural scale (natural minor for minor keys)."""
        return Scale(self.tonic, _MODE_SCALE.get(self.mode, self.mode))

    @property
    def name(self) -> str:
        """``"F# minor"``."""
        return f"{self.tonic.name} {self.mode}"

    @property
    def symbol(self) -> str:
        """RomanText form: upper case major, lower case minor (``"f#"``); modes by name."""
        if self.mode == "minor":
            return self.tonic.name[0].lower() + self.tonic.name[1:]
        if self.mode == "major":
            return self.tonic.name
        return self.name

    def pitch_of(self, degree: int, alter: int = 0, octave: int | None = None) -> Pitch:
        """The spelled pitch of a scale degree (1-7, then upward), altered by ``alter``."""
        p = self.scale.degree(degree, octave)
        return Pitch(p.step, p.alter + alter, p.octave)

    def degree_of(self, p: Pitch | str) -> tuple[int, int]:
        """(degree 1-7, alteration from the key's natural scale) of a spelled pitch."""
        d = self.scale.degree_of(p)
        assert d is not None  # seven-note scales have every letter
        return d

    @property
    def leading_tone(self) -> Pitch:
        """The pitch a semitone below the tonic, spelled as the seventh degree."""
        return Interval.parse("M7").transpose(self.tonic)

    @property
    def relative(self) -> Key:
        """The relative major or minor (same signature); church modes give their major."""
        if self.mode == "minor":
            return Key.from_signature(self.sharps, "major")
        if self.mode == "major":
            return Key.from_signature(self.sharps, "minor")
        return Key.from_signature(self.sharps, "major")

    @property
    def parallel(self) -> Key:
        """The key on the same tonic in the other of major and minor."""
        return Key(self.tonic, "major" if self.mode != "major" else "minor")

    def __contains__(self, p: object) -> bool:
        """True when a spelled pitch is diatonic (letter and alteration as the signature)."""
        if not isinstance(p, Pitch | str):
            return False
        q = pitch(p)
        return self.alter_of(q.step) == q.alter

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Key({self.name!r})"
