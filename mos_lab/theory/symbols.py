"""Chord symbols in and out: ``F#m7b5``, ``C/E``, ``Bb7(#11)``, ``Cmaj9``, ``Dsus4``.

A symbol is a root, a quality suffix from ``chord.QUALITIES`` (or one of SUFFIX_ALIASES),
then modifiers (``b9``, ``#11``, ``add9``, ``omit5``, ``sus4``), with or without
parentheses and commas, then ``/bass``. Errors name the token that could not be read.

Examples
--------
>>> s = parse_symbol("Bb7(#11)")
>>> [p.name_with_octave for p in s.pitches()]
['Bb3', 'D4', 'F4', 'Ab4', 'E5']
>>> parse_symbol("C/E").chord().symbol
'C/E'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mos_lab.theory.chord import ADDED_NAMES, QUALITIES, TEMPLATES, Chord, _added_order
from mos_lab.theory.interval import Interval
from mos_lab.theory.pitch import Pitch, PitchError

#: Other spellings of the quality suffixes (music21's and lead-sheet habits).
SUFFIX_ALIASES: dict[str, str] = {
    **{q.suffix: q.name for q in QUALITIES.values()},
    "maj": "major", "M": "major", "Maj": "major",
    "min": "minor", "-": "minor", "mi": "minor",
    "o": "diminished", "°": "diminished", "dim": "diminished",
    "+": "augmented", "aug": "augmented",
    "M7": "major seventh", "Maj7": "major seventh", "ma7": "major seventh",
    "Δ": "major seventh", "Δ7": "major seventh", "maj7": "major seventh",
    "min7": "minor seventh", "-7": "minor seventh", "mi7": "minor seventh",
    "ø": "half-diminished seventh", "ø7": "half-diminished seventh",
    "min7b5": "half-diminished seventh", "-7b5": "half-diminished seventh",
    "m7(b5)": "half-diminished seventh",
    "o7": "diminished seventh", "°7": "diminished seventh",
    "mM7": "minor-major seventh", "m(maj7)": "minor-major seventh",
    "minmaj7": "minor-major seventh", "mmaj7": "minor-major seventh",
    "+7": "augmented seventh", "aug7": "augmented seventh", "7+": "augmented seventh",
    "+M7": "augmented major seventh", "augmaj7": "augmented major seventh",
    "sus": "suspended fourth", "7sus": "seventh suspended fourth",
    "M9": "major ninth", "min9": "minor ninth", "69": "six-nine", "add2": "added ninth",
    "min6": "minor sixth", "5": "power", "o9": "diminished ninth",
}
_SUFFIXES = sorted(SUFFIX_ALIASES, key=len, reverse=True)
_ROOT = re.compile(r"^([A-Ga-g])((?:#|b|♯|♭)*)")
_BASS = re.compile(r"/([A-G](?:#|b|♯|♭)*)$")
_MOD = re.compile(r"(add|omit|no)?(bb|b|#|\+|-)?(\d+)|(sus[24]?)|(maj7|M7)")
#: Natural interval of a chord member named by number (9 is a ninth: compound).
_DEGREE = {
    2: "M2", 3: "M3", 4: "P4", 5: "P5", 6: "M6", 7: "m7",
    9: "M9", 11: "P11", 13: "M13",
}


class SymbolError(ValueError):
    """A chord symbol that cannot be read; the message names the bad token."""


@dataclass(frozen=True, slots=True)
class ChordSymbol:
    """A parsed symbol: root, quality name, intervals above the root (ascending), bass."""

    text: str
    root: Pitch
    quality: str
    intervals: tuple[Interval, ...]
    bass: Pitch | None = None
    added: tuple[str, ...] = ()
    omitted: tuple[str, ...] = ()

    def pitches(self, octave: int = 3) -> list[Pitch]:
        """Pitches in close position from the root in ``octave``; the bass below if given."""
        root = self.root.with_octave(octave)
        tones = sorted((iv.transpose(root) for iv in self.intervals), key=lambda p: p.midi)
        if self.bass is None or self.bass.with_octave(None) == self.root:
            return tones
        b = self.bass
        low = b.with_octave(octave)
        above = []
        for t in tones:
            if (t.step, t.alter) == (b.step, b.alter):
                continue
            while t.midi <= low.midi:
                t = t.with_octave(t.octave + 1)  # type: ignore[operator]
            above.append(t)
        return [low, *sorted(above, key=lambda p: p.midi)]

    def chord(self, octave: int = 3) -> Chord:
        """The Chord this symbol names (root and quality as written, not re-guessed)."""
        ps = tuple(self.pitches(octave))
        bass = ps[0]
        step = (bass.step - self.root.step) % 7
        inv = {0: 0, 2: 1, 4: 2, 6: 3, 1: 4}.get(step)
        if self.bass is not None and ADDED_NAMES.get(
            Interval.between(self.root, self.bass.with_octave(None)).name
        ) in self.added:
            inv = None
        names = {(t.step, t.alter) for t in (iv.transpose(self.root) for iv in self.intervals)}
        if (bass.step, bass.alter) not in names:
            inv = None  # a bass outside the chord (C/Bb)
        return Chord(ps, self.root, self.quality, bass, inv, self.added, self.omitted)


def _interval_for(degree: int, acc: str, token: str) -> Interval:
    if degree not in _DEGREE:
        raise SymbolError(f"chord symbol: {token!r} is not a chord member")
    iv = Interval.parse(_DEGREE[degree])
    shift = {"": 0, "b": -1, "-": -1, "bb": -2, "#": 1, "+": 1}[acc]
    return Interval(iv.steps, iv.semitones + shift)


def _template(quality: str) -> list[Interval]:
    """A quality's intervals with ninths, elevenths and thirteenths placed above the octave."""
    names = QUALITIES[quality].intervals
    has_third = any(n in names for n in ("m3", "M3"))
    has_seventh = any(n in names for n in ("m7", "M7", "d7"))
    out = []
    for n in names:
        iv = Interval.parse(n)
        if (iv.steps in (1, 3) and has_third) or (iv.steps == 5 and has_seventh):
            iv = Interval(iv.steps + 7, iv.semitones + 12)
        if n == "M2" and quality == "six-nine":
            iv = Interval(8, 14)
        out.append(iv)
    return out


def parse_symbol(text: str) -> ChordSymbol:
    """Read a chord symbol; SymbolError names the token it could not read."""
    if not isinstance(text, str):
        raise TypeError(f"chord symbol must be a str, not {type(text).__name__}")
    s = text.strip()
    m = _ROOT.match(s)
    if not m:
        raise SymbolError(f"chord symbol {text!r}: no root letter at {s[:1]!r}")
    try:
        root = Pitch.parse(m.group(1).upper() + m.group(2))
    except PitchError as exc:
        raise SymbolError(f"chord symbol {text!r}: {exc}") from None
    rest = s[m.end():]
    bass = None
    bm = _BASS.search(rest)
    if bm:
        bass = Pitch.parse(bm.group(1))
        rest = rest[: bm.start()]
    suffix = next((x for x in _SUFFIXES if x and rest.startswith(x)), "")
    quality = SUFFIX_ALIASES[suffix]
    ivs = {iv.steps % 7: iv for iv in _template(quality)}
    added: list[str] = []
    omitted: list[str] = []
    pos = len(suffix)
    while pos < len(rest):
        ch = rest[pos]
        if ch in "(), ":
            pos += 1
            continue
        mm = _MOD.match(rest, pos)
        if not mm:
            raise SymbolError(f"chord symbol {text!r}: cannot read {rest[pos:]!r}")
        token = mm.group(0)
        pos = mm.end()
        word, acc, num, sus, maj7 = mm.groups()
        if sus:
            ivs.pop(2, None)
            ivs[1 if sus == "sus2" else 3] = Interval.parse("M2" if sus == "sus2" else "P4")
            continue
        if maj7:
            ivs[6] = Interval.parse("M7")
            continue
        degree = int(num)
        iv = _interval_for(degree, acc or "", token)
        if word in ("omit", "no"):
            if ivs.pop(iv.steps % 7, None) is None:
                raise SymbolError(f"chord symbol {text!r}: {token!r} omits a missing tone")
            omitted.append(str(degree))
            continue
        if degree in (9, 11, 13) and word is None and 6 not in ivs and acc is None:
            ivs[6] = Interval.parse("m7")  # "C(9)" reads as a ninth chord over its seventh
        ivs[iv.steps % 7] = iv
        if degree not in (3, 5, 7):
            added.append(f"{acc or ''}{degree}".replace("+", "#").replace("-", "b"))
    intervals = tuple(sorted(ivs.values(), key=lambda iv: iv.semitones))
    base = frozenset(i.simple.name if i.steps != 7 else "P1" for i in intervals)
    if base in TEMPLATES and not omitted:
        quality, added = TEMPLATES[base], []
    added_t = tuple(sorted(dict.fromkeys(added), key=_added_order))
    return ChordSymbol(text, root, quality, intervals, bass, added_t, tuple(omitted))
