"""Chords from pitches: root, quality, inversion, sevenths, ninths, suspensions, added tones.

``QUALITIES`` is the one table of chord templates (spelled intervals above the root, the
symbol suffix, a preference rank); ``TEMPLATES`` and ``PC_TEMPLATES`` index it by the set
of simple intervals and by the pitch-class set above the root, for spelled and for
unspelled lookups. The root is the candidate whose tones match a template exactly, the
most common reading first (A-C-E-G is Am7, not C6, as in music21); a missing fifth is
allowed; otherwise tones outside a third-stack are added tones (``add9``, ``#11``).

Examples
--------
>>> c = Chord.from_pitches(["E4", "G4", "C5"])
>>> c.root.name, c.quality, c.inversion, c.symbol
('C', 'major', 1, 'C/E')
>>> Chord.from_pitches(["F#3", "A3", "C4", "E4"]).symbol
'F#m7b5'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from mos_lab.theory.interval import Interval
from mos_lab.theory.pitch import DEFAULT_FIFTHS, Pitch, pitch


class ChordQuality(NamedTuple):
    """A chord template: name, intervals above the root (simple names), symbol suffix."""

    name: str
    intervals: tuple[str, ...]
    suffix: str
    rank: int  # smaller wins when two roots match a template (m7 before 6)


def _q(name: str, ivs: str, suffix: str) -> ChordQuality:
    return ChordQuality(name, tuple(ivs.split()), suffix, 0)


# Ordered by preference: when two readings match exactly, the earlier one is chosen.
_TABLE = [
    _q("major", "P1 M3 P5", ""),
    _q("minor", "P1 m3 P5", "m"),
    _q("diminished", "P1 m3 d5", "dim"),
    _q("augmented", "P1 M3 A5", "aug"),
    _q("dominant seventh", "P1 M3 P5 m7", "7"),
    _q("minor seventh", "P1 m3 P5 m7", "m7"),
    _q("major seventh", "P1 M3 P5 M7", "maj7"),
    _q("half-diminished seventh", "P1 m3 d5 m7", "m7b5"),
    _q("diminished seventh", "P1 m3 d5 d7", "dim7"),
    _q("minor-major seventh", "P1 m3 P5 M7", "mMaj7"),
    _q("augmented seventh", "P1 M3 A5 m7", "7#5"),
    _q("augmented major seventh", "P1 M3 A5 M7", "maj7#5"),
    _q("dominant seventh flat five", "P1 M3 d5 m7", "7b5"),
    _q("dominant ninth", "P1 M3 P5 m7 M2", "9"),
    _q("minor ninth", "P1 m3 P5 m7 M2", "m9"),
    _q("major ninth", "P1 M3 P5 M7 M2", "maj9"),
    _q("dominant minor ninth", "P1 M3 P5 m7 m2", "7b9"),
    _q("dominant augmented ninth", "P1 M3 P5 m7 A2", "7#9"),
    _q("diminished ninth", "P1 m3 d5 d7 m2", "dim9"),
    _q("half-diminished ninth", "P1 m3 d5 m7 M2", "m9b5"),
    _q("suspended fourth", "P1 P4 P5", "sus4"),
    _q("suspended second", "P1 M2 P5", "sus2"),
    _q("seventh suspended fourth", "P1 P4 P5 m7", "7sus4"),
    _q("major sixth", "P1 M3 P5 M6", "6"),
    _q("minor sixth", "P1 m3 P5 M6", "m6"),
    _q("six-nine", "P1 M3 P5 M6 M2", "6/9"),
    _q("added ninth", "P1 M3 P5 M2", "add9"),
    _q("minor added ninth", "P1 m3 P5 M2", "madd9"),
    _q("dominant eleventh", "P1 M3 P5 m7 M2 P4", "11"),
    _q("minor eleventh", "P1 m3 P5 m7 M2 P4", "m11"),
    _q("dominant thirteenth", "P1 M3 P5 m7 M2 M6", "13"),
    _q("power", "P1 P5", "5"),
]
#: Quality name -> template, in preference order.
QUALITIES: dict[str, ChordQuality] = {
    q.name: q._replace(rank=i) for i, q in enumerate(_TABLE)
}
#: Set of simple spelled intervals above the root -> quality name (the preferred one).
TEMPLATES: dict[frozenset[str], str] = {}
#: Set of pitch classes above the root (0 = root) -> quality name (the preferred one).
PC_TEMPLATES: dict[frozenset[int], str] = {}
for _q_ in QUALITIES.values():
    TEMPLATES.setdefault(frozenset(_q_.intervals), _q_.name)
    PC_TEMPLATES.setdefault(
        frozenset(Interval.parse(s).semitones % 12 for s in _q_.intervals), _q_.name
    )

#: Triad-or-seventh cores that a chord with added tones is read over, in preference order.
_CORES = [
    "dominant seventh", "minor seventh", "major seventh", "half-diminished seventh",
    "diminished seventh", "minor-major seventh", "major", "minor", "diminished", "augmented",
    "suspended fourth", "suspended second", "power",
]
#: Added tone (simple interval above the root) -> how a symbol writes it.
ADDED_NAMES = {
    "m2": "b9", "M2": "9", "A2": "#9", "P4": "11", "A4": "#11", "d4": "b11",
    "m6": "b13", "M6": "13", "A5": "#5", "d5": "b5", "m7": "7", "M7": "maj7", "d7": "bb7",
    "m3": "#9", "M3": "b11",
}
#: Generic size (1-based, within the octave) of each chord member.
_MEMBER = {0: 1, 1: 9, 2: 3, 3: 11, 4: 5, 5: 13, 6: 7}


def _ivs_above(root: Pitch, pcs: Iterable[Pitch]) -> dict[str, Pitch]:
    """Simple interval name above ``root`` -> the pitch (pitch classes; P8 counts as P1)."""
    out: dict[str, Pitch] = {}
    for p in pcs:
        out.setdefault(Interval.between(root.with_octave(None), p.with_octave(None)).name, p)
    return out


@dataclass(frozen=True, slots=True)
class Chord:
    """A chord: its pitches (low to high), root, quality name, bass and inversion.

    ``quality`` is a key of QUALITIES, or ``"other"`` when no template fits. ``added``
    holds tones outside the template as symbol names (``"#11"``); ``omitted`` the members
    left out (``"5"``). ``inversion`` counts the bass's place in the stack of thirds
    (0 root, 1 third, 2 fifth, 3 seventh, 4 ninth); None when the bass is an added tone.
    """

    pitches: tuple[Pitch, ...]
    root: Pitch | None
    quality: str
    bass: Pitch | None
    inversion: int | None
    added: tuple[str, ...] = ()
    omitted: tuple[str, ...] = ()

    # -- construction --------------------------------------------------------------
    @classmethod
    def from_pitches(cls, notes: Iterable[Pitch | str | int]) -> Chord:
        """Name a chord from spelled pitches (names or Pitch) or MIDI numbers (spelled here)."""
        raw = list(notes)
        if raw and all(isinstance(n, int | np.integer) for n in raw):
            return cls.from_midi([int(n) for n in raw])  # type: ignore[arg-type]
        ps = [pitch(n) for n in raw]
        if all(p.octave is not None for p in ps):
            ps.sort(key=lambda p: (p.midi, p.step))
        return _identify(tuple(ps))

    @classmethod
    def from_midi(cls, notes: Iterable[int]) -> Chord:
        """Name and spell a chord from MIDI numbers (spelled by the best-fitting template)."""
        midis = sorted({int(n) for n in notes})
        if not midis:
            return _identify(())
        pcs = {m % 12 for m in midis}
        best: tuple[tuple[int, ...], dict[int, int]] | None = None
        for r in sorted(pcs):
            rel = frozenset((pc - r) % 12 for pc in pcs)
            name = PC_TEMPLATES.get(rel) or PC_TEMPLATES.get(rel | {7})
            if name is None:
                continue
            q = QUALITIES[name]
            for rf in (DEFAULT_FIFTHS[r], DEFAULT_FIFTHS[r] - 12, DEFAULT_FIFTHS[r] + 12):
                root = Pitch.from_fifths(rf)
                spell = {}
                for s in q.intervals:
                    t = Interval.parse(s).transpose(root)
                    spell[t.pc] = t.fifths
                cost = sum(abs(spell[pc] - 2) for pc in pcs)
                score = (q.rank, cost)
                if best is None or score < best[0]:
                    best = (score, spell)
        spelled = best[1] if best else {}
        ps = [Pitch.from_midi(m, spelled.get(m % 12)) for m in midis]
        return _identify(tuple(ps))

    # -- views ---------------------------------------------------------------------
    @property
    def pitch_classes(self) -> frozenset[int]:
        """The pitch classes (0-11) sounding."""
        return frozenset(p.pc for p in self.pitches)

    @property
    def is_seventh(self) -> bool:
        """True when the chord has a seventh above its root."""
        return self.root is not None and self.member_pitch(7) is not None

    def member(self, p: Pitch | str) -> int | None:
        """Which member a pitch is (1 root, 3, 5, 7, 9, 11, 13) by its letter; None if none."""
        if self.root is None:
            return None
        q = pitch(p)
        if not any(x.step == q.step and x.alter == q.alter for x in self.pitches):
            return None
        return _MEMBER[(q.step - self.root.step) % 7]

    def member_pitch(self, member: int) -> Pitch | None:
        """The (lowest) pitch that is the given member (3 for the third), or None."""
        for p in self.pitches:
            if self.member(p) == member:
                return p
        return None

    @property
    def symbol(self) -> str:
        """The chord symbol (``"F#m7b5"``, ``"C/E"``, ``"Bb7(#11)"``); ``""`` if none."""
        return format_symbol(self)

    @property
    def common_name(self) -> str:
        """A readable name: ``"C major, first inversion"``."""
        if self.root is None:
            return "no chord"
        inv = {0: "", 1: ", first inversion", 2: ", second inversion", 3: ", third inversion"}
        extra = f" add {' '.join(self.added)}" if self.added else ""
        return f"{self.root.name} {self.quality}{extra}{inv.get(self.inversion or 0, '')}"

    def __str__(self) -> str:
        return self.symbol or "N.C."


#: (sort key, root, quality, added, omitted) of one candidate reading.
_Cand = tuple[tuple[int, ...], Pitch, str, tuple[str, ...], tuple[str, ...]]


def _identify(ps: tuple[Pitch, ...]) -> Chord:
    """Root, quality, inversion and added tones of spelled pitches (lowest first)."""
    if not ps:
        return Chord((), None, "none", None, None)
    bass = ps[0]
    names: dict[tuple[int, int], Pitch] = {}
    for p in ps:
        names.setdefault((p.step, p.alter), p.with_octave(None))
    distinct = list(names.values())
    best: _Cand | None = None
    cand: _Cand | None
    for i, r in enumerate(distinct):
        ivs = _ivs_above(r, distinct)
        have = frozenset(ivs)
        not_bass = int(r.step != bass.step or r.alter != bass.alter)
        found = TEMPLATES.get(have)
        if found:
            cand = ((0, 0, QUALITIES[found].rank, not_bass, i), r, found, (), ())
        elif "P5" not in have and (found := TEMPLATES.get(have | {"P5"})) and len(have) > 2:
            cand = ((1, 0, QUALITIES[found].rank, not_bass, i), r, found, (), ("5",))
        else:
            # A third-stack core plus added tones: the core with the most tones wins.
            cand = None
            for core in _CORES:
                civs = set(QUALITIES[core].intervals)
                omitted: tuple[str, ...] = ()
                if not civs <= have:
                    if civs - have == {"P5"} and len(civs) > 3:
                        omitted = ("5",)
                    else:
                        continue
                extra = have - civs
                added = tuple(sorted((ADDED_NAMES.get(x, x) for x in extra), key=_added_order))
                key = (2, len(extra) + len(omitted), QUALITIES[core].rank, not_bass, i)
                cand = (key, r, core, added, omitted)
                break
            if cand is None:
                continue
        if best is None or cand[0] < best[0]:
            best = cand
    if best is None:
        return Chord(ps, None, "other", bass, None)
    _, root, quality, added, omitted = best
    step = (bass.step - root.step) % 7
    inv = {0: 0, 2: 1, 4: 2, 6: 3, 1: 4}.get(step)
    if step == 1 and quality not in _NINTHS:
        inv = None
    if step in (3, 5) and quality in _ELEVENTHS:
        inv = {3: 5, 5: 6}[step]
    if _bass_is_added(bass, root, added):
        inv = None
    return Chord(ps, root, quality, bass, inv, added, omitted)


_NINTHS = frozenset(n for n, q in QUALITIES.items() if {"M2", "m2", "A2"} & set(q.intervals))
_ELEVENTHS = frozenset({"dominant eleventh", "minor eleventh", "dominant thirteenth"})


def _bass_is_added(bass: Pitch, root: Pitch, added: tuple[str, ...]) -> bool:
    iv = Interval.between(root.with_octave(None), bass.with_octave(None)).name
    return ADDED_NAMES.get(iv) in added


def _added_order(name: str) -> tuple[int, str]:
    digits = "".join(c for c in name if c.isdigit())
    return (int(digits) if digits else 0, name)


def format_symbol(chord: Chord) -> str:
    """The chord symbol of a Chord (``""`` when it has no root)."""
    if chord.root is None or chord.quality not in QUALITIES:
        return ""
    text = chord.root.name + QUALITIES[chord.quality].suffix
    if chord.added:
        triad = not any(i in QUALITIES[chord.quality].intervals for i in ("m7", "M7", "d7"))
        mods = [
            f"add{a}" if triad and a.isdigit() else a for a in chord.added
        ]
        text += "(" + ",".join(mods) + ")"
    gone = [f"no{o}" for o in chord.omitted if o != "5"]
    if gone:
        text += "(" + ",".join(gone) + ")"
    b = chord.bass
    if b is not None and (b.step, b.alter) != (chord.root.step, chord.root.alter):
        text += "/" + b.name
    return text
