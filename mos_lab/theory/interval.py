"""Intervals between spelled pitches: quality and size, direction, compounds and inversions.

An interval is two signed counts: ``steps`` (diatonic, 0 = unison, 2 = a third) and
``semitones``. Quality follows from both (a third of 4 semitones is major, of 3 minor,
of 5 augmented). A unison counts as ascending, as in music21, so C to Cb is ``d1``.

Examples
--------
>>> Interval.parse("M3").transpose(Pitch.parse("C#4"))
Pitch('E#4')
>>> Interval.between("E4", "C5").name, Interval.parse("A4").inversion().name
('m6', 'd5')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mos_lab.theory.pitch import LETTER_SEMITONES, Pitch, pitch

#: Semitones of the major or perfect interval for each simple diatonic size (steps 0..6).
MAJOR_SEMITONES = LETTER_SEMITONES
#: Simple sizes (steps mod 7) whose plain quality is perfect: unison, fourth, fifth.
PERFECT_STEPS = frozenset({0, 3, 4})

_IV = re.compile(r"^\s*(-?)(P|M|m|A+|d+)(-?)(\d+)\s*$")


class IntervalError(ValueError):
    """An interval name that cannot be read; the message names the bad token."""


def quality_of(steps: int, semitones: int) -> str:
    """Quality (``P``, ``M``, ``m``, ``A``, ``d``, ``AA``, ...) of an ascending interval."""
    base = MAJOR_SEMITONES[steps % 7] + 12 * (steps // 7)
    delta = semitones - base
    if steps % 7 in PERFECT_STEPS:
        if delta == 0:
            return "P"
        return "A" * delta if delta > 0 else "d" * -delta
    if delta == 0:
        return "M"
    if delta == -1:
        return "m"
    return "A" * delta if delta > 0 else "d" * (-delta - 1)


def _delta_of(quality: str, simple_steps: int, token: str) -> int:
    """Semitones above the major/perfect size that a quality means (IntervalError if none)."""
    perfect = simple_steps in PERFECT_STEPS
    if quality == "P":
        if not perfect:
            raise IntervalError(f"{token!r}: a {simple_steps + 1}th/2nd/3rd cannot be perfect")
        return 0
    if quality in ("M", "m"):
        if perfect:
            raise IntervalError(f"{token!r}: a unison, fourth or fifth is not major or minor")
        return 0 if quality == "M" else -1
    if quality[0] == "A":
        return len(quality)
    return -len(quality) if perfect else -len(quality) - 1


@dataclass(frozen=True, slots=True)
class Interval:
    """A directed interval: ``steps`` diatonic steps and ``semitones``, both signed."""

    steps: int
    semitones: int

    # -- construction --------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Interval:
        """Read ``"M3"``, ``"P5"``, ``"m10"``, ``"A4"``, ``"dd7"``; ``"-M3"``/``"M-3"`` descend."""
        if isinstance(text, Interval):
            return text
        m = _IV.match(text)
        if not m:
            raise IntervalError(f"not an interval name: {text!r}")
        sign1, quality, sign2, number = m.groups()
        n = int(number)
        if n < 1:
            raise IntervalError(f"{text!r}: interval number {n} is not 1 or more")
        steps = n - 1
        semis = MAJOR_SEMITONES[steps % 7] + 12 * (steps // 7) + _delta_of(quality, steps % 7, text)
        if sign1 or sign2:
            if steps == 0:
                raise IntervalError(f"{text!r}: a unison has no direction")
            return cls(-steps, -semis)
        return cls(steps, semis)

    @classmethod
    def between(cls, low: Pitch | str | int, high: Pitch | str | int) -> Interval:
        """The interval from one spelled pitch to another (descending when ``high`` is lower).

        Pitch classes (no octave) give the ascending interval within an octave.
        """
        a, b = pitch(low), pitch(high)
        if a.octave is None or b.octave is None:
            steps = (b.step - a.step) % 7
            semis = (b.pc - a.pc) % 12
            # Keep e.g. B to C-flat a diminished second (0 semitones) and not a d9.
            base = MAJOR_SEMITONES[steps]
            if semis - base > 6:
                semis -= 12
            elif base - semis > 6:
                semis += 12
            return cls(steps, semis)
        return cls(b.diatonic - a.diatonic, b.midi - a.midi)

    # -- views ---------------------------------------------------------------------
    @property
    def direction(self) -> int:
        """+1 ascending (unisons too), -1 descending."""
        return -1 if self.steps < 0 else 1

    @property
    def number(self) -> int:
        """Generic size, unsigned and 1-based (3 for a third, 10 for a tenth)."""
        return abs(self.steps) + 1

    @property
    def quality(self) -> str:
        """``P``, ``M``, ``m``, ``A``, ``d``, ``AA``, ``dd``, ..."""
        d = self.direction
        return quality_of(d * self.steps, d * self.semitones)

    @property
    def name(self) -> str:
        """Undirected name, ``"M3"``, ``"P12"``."""
        return f"{self.quality}{self.number}"

    @property
    def directed_name(self) -> str:
        """Name with a ``-`` for descending intervals, as music21 writes it (``"M-3"``)."""
        return f"{self.quality}{'-' if self.direction < 0 else ''}{self.number}"

    @property
    def is_compound(self) -> bool:
        """True for intervals wider than an octave (a ninth and up)."""
        return abs(self.steps) > 7

    @property
    def simple(self) -> Interval:
        """Reduced to an octave or less (keeping direction): M10 -> M3, P8 stays P8."""
        d = self.direction
        steps, semis = d * self.steps, d * self.semitones
        while steps > 7:
            steps -= 7
            semis -= 12
        return Interval(d * steps, d * semis)

    @property
    def fifths(self) -> int:
        """Line-of-fifths shift of the pitch class (P5 = 1, M3 = 4, m2 = -5)."""
        return Pitch(0, 0, 4).transpose(self).fifths

    def inversion(self) -> Interval:
        """The simple interval that completes this one's simple form to an octave (M3 -> m6)."""
        s = self.simple
        d = s.direction
        steps, semis = d * s.steps, d * s.semitones
        return Interval(d * (7 - steps), d * (12 - semis))

    def is_enharmonic(self, other: Interval) -> bool:
        """True when both span the same number of semitones (A4 and d5)."""
        return self.semitones == other.semitones

    def reverse(self) -> Interval:
        """The same interval in the other direction."""
        return Interval(-self.steps, -self.semitones)

    def transpose(self, p: Pitch | str | int) -> Pitch:
        """``p`` moved by this interval, spelled by it (a pitch class stays a pitch class)."""
        return pitch(p).transpose(self)

    def __add__(self, other: Interval) -> Interval:
        return Interval(self.steps + other.steps, self.semitones + other.semitones)

    def __neg__(self) -> Interval:
        return self.reverse()

    def __str__(self) -> str:
        return self.directed_name

    def __repr__(self) -> str:
        return f"Interval({self.directed_name!r})"
