"""Just enough music theory for the offline generators and the assistant's tools.

Key names, scales, diatonic triads, a melody harmoniser and a chord namer. Kept small and
numpy-only so the generators need no music21 at generation time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
_PC = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 11)  # harmonic minor: a leading tone for cadences
_KEY_RE = re.compile(
    r"^\s*([A-Ga-g])\s*(#|b|♯|♭|sharp|flat)?\s*(m|min|minor|maj|major|-)?\s*$", re.I)


@dataclass(frozen=True)
class Key:
    """A tonic pitch class (0 = C) and mode."""

    tonic: int
    minor: bool = False

    @property
    def scale(self) -> tuple[int, ...]:
        return MINOR if self.minor else MAJOR

    @property
    def name(self) -> str:
        return f"{NAMES[self.tonic]} {'minor' if self.minor else 'major'}"

    @property
    def sharps(self) -> int:
        """The key signature as sharps (>0) or flats (<0), for ``KeySignature``."""
        major_tonic = (self.tonic + 3) % 12 if self.minor else self.tonic
        fifths = (major_tonic * 7) % 12
        return fifths - 12 if fifths > 6 else fifths

    def pitch_classes(self) -> np.ndarray:
        return (np.array(self.scale) + self.tonic) % 12

    def snap(self, pitch: int) -> int:
        """The nearest scale pitch to ``pitch`` (ties go down)."""
        pcs = self.pitch_classes()
        for d in (0, -1, 1, -2, 2):
            if (pitch + d) % 12 in pcs:
                return pitch + d
        return pitch

    def triad(self, degree: int) -> tuple[int, int, int]:
        """Pitch classes of the diatonic triad on ``degree`` (0 = tonic)."""
        s = self.scale
        return tuple((self.tonic + s[(degree + k) % 7]) % 12 for k in (0, 2, 4))  # type: ignore[return-value]


def parse_key(text: str) -> Key:
    """"D minor", "Dm", "f#", "Bb major", "eb-" -> Key; lowercase alone means minor (ABC
    habit is not followed: "d" is D minor only when written with m/min/minor or "-")."""
    m = _KEY_RE.match(text or "")
    if not m:
        raise ValueError(f"key: {text!r} is not a key like 'D minor' or 'Bb'")
    letter, acc, mode = m.groups()
    pc = _PC[letter.lower()]
    if acc:
        pc += 1 if acc.lower() in ("#", "♯", "sharp") else -1
    minor = bool(mode) and mode.lower() in ("m", "min", "minor", "-")
    return Key(pc % 12, minor)


# chord templates: (suffix, intervals); tried in order, most specific first
_TEMPLATES = [("maj7", (0, 4, 7, 11)), ("m7", (0, 3, 7, 10)), ("7", (0, 4, 7, 10)),
              ("dim", (0, 3, 6)), ("aug", (0, 4, 8)), ("", (0, 4, 7)), ("m", (0, 3, 7)),
              ("sus4", (0, 5, 7)), ("5", (0, 7))]


def name_chord(pitches: np.ndarray | list[int]) -> str:
    """A chord symbol for sounding pitches ("Am", "G7", "C"), "N.C." for none.

    The best template scores +1 per matched pitch class, -1 per missing one, and a bonus
    when its root is the lowest note.
    """
    ps = np.asarray(pitches, dtype=int)
    if not len(ps):
        return "N.C."
    pcs = {int(p) % 12 for p in ps}
    bass = int(ps.min()) % 12
    if len(pcs) == 1:
        return NAMES[bass]
    best, best_score = "N.C.", -99.0
    for root in range(12):
        for suffix, iv in _TEMPLATES:
            tpl = {(root + i) % 12 for i in iv}
            score = len(tpl & pcs) - len(tpl - pcs) - 0.5 * len(pcs - tpl) + 0.5 * (root == bass)
            if score > best_score:
                best, best_score = NAMES[root] + suffix, score
    return best


def harmonise(key: Key, bar_pitches: list[list[int]]) -> list[int]:
    """One diatonic degree per bar for a melody: most melody notes in the triad, I/IV/V
    preferred, the last bar on the tonic, the one before it on V when it fits."""
    prefs = {0: 0.6, 3: 0.4, 4: 0.5, 5: 0.2, 1: 0.1, 2: 0.0, 6: -0.5}
    out = []
    for i, ps in enumerate(bar_pitches):
        pcs = [p % 12 for p in ps]
        scores = {d: sum(pc in key.triad(d) for pc in pcs) + prefs[d] for d in range(7)}
        if i == len(bar_pitches) - 1:
            scores[0] += 10
        elif i == len(bar_pitches) - 2:
            scores[4] += 1.0
        out.append(max(scores, key=lambda d: scores[d]))
    return out
