"""Spelled pitches: letter, accidental and (optional) octave, placed on the line of fifths.

The line of fifths numbers every spelling by its distance in perfect fifths from C
(``F = -1, C = 0, G = 1, ..., F# = 6, Bb = -2``). Spelling is that number; the pitch
class is ``7 * fifths mod 12``, and the letter is ``fifths mod 7`` read in fifths order.
Spelled pitches from MIDI numbers elsewhere in the layer are arrays of these integers.

Examples
--------
>>> p = Pitch.parse("F#4")
>>> p.midi, p.fifths, p.name
(66, 6, 'F#')
>>> Pitch.from_midi(61, fifths=-5).name_with_octave
'Db4'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np

LETTERS = "CDEFGAB"
#: Letters in line-of-fifths order, starting at F (fifths -1).
FIFTHS_LETTERS = "FCGDAEB"
#: Semitones above C of each natural letter, in LETTERS order.
LETTER_SEMITONES = (0, 2, 4, 5, 7, 9, 11)
#: Line-of-fifths position of each natural letter, in LETTERS order.
LETTER_FIFTHS = (0, 2, 4, -1, 1, 3, 5)

_ACCIDENTAL_CHARS = {"#": 1, "♯": 1, "x": 2, "𝄪": 2, "b": -1, "♭": -1, "𝄫": -2, "♮": 0, "n": 0}
_NAME = re.compile(r"^\s*([A-Ga-g])((?:#|x|b|♯|♭|𝄪|𝄫|♮|n)*)(-?\d+)?\s*$")


class Steps(Protocol):
    """Anything that moves a pitch: signed diatonic ``steps`` and ``semitones`` (Interval)."""

    @property
    def steps(self) -> int: ...

    @property
    def semitones(self) -> int: ...


class PitchError(ValueError):
    """A pitch name that cannot be read; the message names the bad token."""


def accidental_text(alter: int) -> str:
    """ASCII accidental for an alteration in semitones: ``#``, ``##``, ``b``, ``bb``, ``""``."""
    return "#" * alter if alter > 0 else "b" * -alter


def fifths_to_letter_alter(fifths: int) -> tuple[int, int]:
    """(letter index in LETTERS, alteration) of a line-of-fifths position."""
    k = fifths + 1  # F = 0
    letter = LETTERS.index(FIFTHS_LETTERS[k % 7])
    return letter, k // 7


def fifths_name(fifths: int) -> str:
    """Pitch-class name (``"F#"``, ``"Bb"``) of a line-of-fifths position."""
    letter, alter = fifths_to_letter_alter(fifths)
    return LETTERS[letter] + accidental_text(alter)


def fifths_to_pc(fifths: np.ndarray | int) -> np.ndarray | int:
    """Pitch class (0-11) of line-of-fifths positions (works on arrays too)."""
    return (np.asarray(fifths) * 7) % 12 if isinstance(fifths, np.ndarray) else (fifths * 7) % 12


@dataclass(frozen=True, slots=True)
class Pitch:
    """A spelled pitch: ``step`` letter index (0 = C .. 6 = B), ``alter`` in semitones, octave.

    ``octave`` follows scientific pitch notation (C4 is middle C, MIDI 60) and belongs to
    the letter: B#3 and C4 are both MIDI 60. ``octave=None`` is a pitch class.
    """

    step: int
    alter: int = 0
    octave: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.step <= 6:
            raise ValueError(f"step {self.step} is not a letter index 0..6")

    # -- construction --------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Pitch:
        """Read a name such as ``"F#4"``, ``"Bb"``, ``"C##5"``, ``"Cx5"`` or ``"Ebb-1"``.

        ``-`` is always an octave sign (``"C-1"`` is MIDI 0), never music21's flat.
        """
        if not isinstance(text, str):
            raise TypeError(f"pitch name must be a str, not {type(text).__name__}")
        m = _NAME.match(text)
        if not m:
            raise PitchError(f"not a pitch name: {text!r}")
        letter, accs, octave = m.groups()
        alter = sum(_ACCIDENTAL_CHARS[c] for c in accs)
        return cls(LETTERS.index(letter.upper()), alter, int(octave) if octave else None)

    @classmethod
    def from_fifths(cls, fifths: int, octave: int | None = None) -> Pitch:
        """The pitch class (or pitch, given an octave) at a line-of-fifths position."""
        step, alter = fifths_to_letter_alter(int(fifths))
        return cls(step, alter, octave)

    @classmethod
    def from_midi(cls, midi: int, fifths: int | None = None) -> Pitch:
        """The pitch of MIDI number ``midi`` spelled as ``fifths`` (default: the key of C's
        usual choice, sharps for F#, C#, G# and flats for Eb, Bb)."""
        midi = int(midi)
        if fifths is None:
            fifths = DEFAULT_FIFTHS[midi % 12]
        elif fifths_to_pc(int(fifths)) != midi % 12:
            raise ValueError(f"{fifths_name(int(fifths))} is not a spelling of MIDI {midi}")
        step, alter = fifths_to_letter_alter(int(fifths))
        octave = (midi - alter - LETTER_SEMITONES[step]) // 12 - 1
        return cls(step, alter, octave)

    # -- views ---------------------------------------------------------------------
    @property
    def letter(self) -> str:
        """The letter name, ``"C"`` .. ``"B"``."""
        return LETTERS[self.step]

    @property
    def accidental(self) -> str:
        """The accidental in ASCII (``"#"``, ``"bb"``, ``""``)."""
        return accidental_text(self.alter)

    @property
    def name(self) -> str:
        """Name without octave, ``"F#"``."""
        return self.letter + self.accidental

    @property
    def name_with_octave(self) -> str:
        """Name with octave, ``"F#4"`` (the bare name for a pitch class)."""
        return self.name if self.octave is None else f"{self.name}{self.octave}"

    @property
    def fifths(self) -> int:
        """Line-of-fifths position (tonal pitch class): C = 0, G = 1, F = -1, F# = 6."""
        return LETTER_FIFTHS[self.step] + 7 * self.alter

    @property
    def pc(self) -> int:
        """Pitch class 0-11 (C = 0)."""
        return (LETTER_SEMITONES[self.step] + self.alter) % 12

    @property
    def midi(self) -> int:
        """MIDI note number (C4 = 60); a pitch class has none (ValueError)."""
        if self.octave is None:
            raise ValueError(f"{self.name} has no octave, so no MIDI number")
        return 12 * (self.octave + 1) + LETTER_SEMITONES[self.step] + self.alter

    @property
    def diatonic(self) -> int:
        """Diatonic step number (7 per octave, C0 = 0); used to measure generic intervals."""
        if self.octave is None:
            raise ValueError(f"{self.name} has no octave")
        return 7 * self.octave + self.step

    def with_octave(self, octave: int | None) -> Pitch:
        """The same spelling in another octave (``None`` for the pitch class)."""
        return Pitch(self.step, self.alter, octave)

    def is_enharmonic(self, other: Pitch) -> bool:
        """True when both sound the same (same MIDI number, or pitch class without octaves)."""
        if self.octave is None or other.octave is None:
            return self.pc == other.pc
        return self.midi == other.midi

    def transpose(self, interval: Steps) -> Pitch:
        """This pitch moved by an Interval, spelled by it (C + M3 = E, not Fb); a pitch
        class stays a pitch class."""
        octave = 4 if self.octave is None else self.octave
        dia = 7 * octave + self.step + interval.steps
        midi = 12 * (octave + 1) + LETTER_SEMITONES[self.step] + self.alter + interval.semitones
        step, oct_ = dia % 7, dia // 7
        alter = midi - (12 * (oct_ + 1) + LETTER_SEMITONES[step])
        return Pitch(step, alter, None if self.octave is None else oct_)

    def __str__(self) -> str:
        return self.name_with_octave

    def __repr__(self) -> str:
        return f"Pitch({self.name_with_octave!r})"


#: Default spelling (line-of-fifths position) of each pitch class without context.
DEFAULT_FIFTHS = (0, 7, 2, -3, 4, -1, 6, 1, 8, 3, -2, 5)


def pitch(value: Pitch | str | int) -> Pitch:
    """Coerce a Pitch, a name or a MIDI number to a Pitch."""
    if isinstance(value, Pitch):
        return value
    if isinstance(value, str):
        return Pitch.parse(value)
    if isinstance(value, int | np.integer):
        return Pitch.from_midi(int(value))
    raise TypeError(f"cannot make a Pitch from {type(value).__name__}")
