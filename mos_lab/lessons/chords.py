"""Chord identification: a written chord, answered with a chord symbol (``/bass`` for an
inversion) that music21's ``harmony.ChordSymbol`` reads as the same chord.

A response is read by theory's ``parse_symbol`` (so ``Cm``, ``Cmin`` and ``C-`` are one
answer). It is right when it names the prompt's spelled notes and bass; the same sound
under other letters (``Gbm`` for ``F#m``) is right only with ``enharmonic=True``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from mos_lab.lessons._reading import check_level, plain
from mos_lab.lessons._rng import pick
from mos_lab.lessons.exercise import TPQ, Exercise, Feedback
from mos_lab.theory.chord import QUALITIES
from mos_lab.theory.interval import Interval
from mos_lab.theory.pitch import Pitch
from mos_lab.theory.symbols import SymbolError, parse_symbol

#: Symbol suffix that both theory and music21 read, per quality.
SUFFIX = {"major": "", "minor": "m", "diminished": "dim", "augmented": "+",
          "dominant seventh": "7", "major seventh": "maj7", "minor seventh": "m7",
          "half-diminished seventh": "m7b5", "diminished seventh": "dim7"}
#: Qualities and inversions each level draws from.
LEVEL_QUALITIES: dict[int, tuple[str, ...]] = {
    1: ("major", "minor"),
    2: ("major", "minor", "diminished", "augmented"),
    3: tuple(SUFFIX),
}
LEVEL_INVERSIONS = {1: (0,), 2: (0, 1, 2), 3: (0, 1, 2, 3)}
#: Roots: at most one accidental, and only those whose chords need no double accidental
#: at levels 1-2 (checked when generated).
ROOTS = [Pitch.from_fifths(f) for f in range(-6, 7)]
INVERSION_NAMES = ("root position", "first inversion", "second inversion", "third inversion")
EXPECTED = ("a chord symbol such as C, F#m/A, G7/B, Bdim or E-maj7 (root, - or b for a "
            "flat, quality, /bass)")
_QUALITY_ALIASES = {"+": "augmented", "aug": "augmented", "dim": "diminished",
                    "o": "diminished", "m": "minor", "": "major"}


@lru_cache(maxsize=1024)
def _tones(root: Pitch, quality: str) -> tuple[Pitch, ...]:
    return tuple(Interval.parse(n).transpose(root) for n in QUALITIES[quality].intervals)


class _Read(NamedTuple):
    """A chord symbol read once: root, quality, spelled notes, bass, and their names."""

    root: Pitch
    quality: str
    names: frozenset[str]
    pcs: frozenset[int]
    bass: Pitch
    bass_name: str
    root_name: str
    m21_root: str
    bass_pc: int


@lru_cache(maxsize=8192)
def _read(text: str) -> _Read | None:
    """A symbol's root, quality, spelled notes and bass (None when it cannot be read)."""
    try:
        sym = parse_symbol(text)
        got = sym.pitches(4)
    except (SymbolError, ValueError, KeyError):
        return None
    bass = sym.bass or sym.root
    return _Read(sym.root, sym.quality, frozenset(p.name for p in got),
                 frozenset(p.pc for p in got), bass, bass.name, sym.root.name,
                 m21_name(sym.root), bass.pc)


def m21_name(p: Pitch) -> str:
    """A pitch-class name as music21's symbols write it: ``B-`` for B flat, ``F#``."""
    return p.letter + ("#" * p.alter if p.alter > 0 else "-" * -p.alter)


def chord_symbol(root: Pitch, quality: str, bass: Pitch | None = None) -> str:
    """The canonical symbol as music21 reads it: ``F#m/A``, ``B-7/D`` (``-`` is a flat in
    music21's symbols); ``bass`` equal to the root is left out."""
    text = m21_name(root) + SUFFIX[quality]
    if bass is not None and bass.name != root.name:
        text += "/" + m21_name(bass)
    return text


_M21_ROOT = re.compile(r"^([A-Ga-g])(-+)")
_M21_BASS = re.compile(r"/([A-Ga-g])(-+)\s*$")


@lru_cache(maxsize=8192)
def readings(text: str) -> tuple[str, ...]:
    """The ways a symbol can be meant: music21's (``B-m``: ``-`` a flat after a letter)
    first, then the lead sheet's (``C-7``: ``-`` for minor)."""
    text = plain(text.strip())
    m21 = _M21_BASS.sub(lambda m: "/" + m.group(1) + "b" * len(m.group(2)), text)
    m21 = _M21_ROOT.sub(lambda m: m.group(1) + "b" * len(m.group(2)), m21)
    return (m21, text) if m21 != text else (text,)


def _voicing(tones: tuple[Pitch, ...], inversion: int, bass_octave: int) -> list[Pitch]:
    """Close position above the bass member ``inversion`` (0 root, 1 third, ...)."""
    order = tones[inversion:] + tones[:inversion]
    out = [order[0].with_octave(bass_octave)]
    for t in order[1:]:
        p = t.with_octave(out[-1].octave)
        while p.midi <= out[-1].midi:
            p = p.with_octave(p.octave + 1)  # type: ignore[operator]
        out.append(p)
    return out


class ChordTarget(NamedTuple):
    """A written chord and everything its grader compares and says (made once per chord)."""

    root: Pitch
    quality: str
    inversion: int
    notes: tuple[Pitch, ...]
    answer: str
    names: frozenset[str]
    pcs: frozenset[int]
    bass_name: str = ""
    root_name: str = ""
    m21_root: str = ""  # "B-"
    m21_bass: str = ""
    m21_notes: str = ""  # "D, F#, A"
    spelled: str = ""  # "D3, F#3, A3"
    bass_pc: int = -1

    @classmethod
    def of(cls, root: Pitch, quality: str, inversion: int, notes: Sequence[Pitch]
           ) -> ChordTarget:
        """The target for a voicing whose lowest note is the bass."""
        return cls(root, quality, inversion, tuple(notes),
                   chord_symbol(root, quality, notes[0]),
                   frozenset(p.name for p in notes), frozenset(p.pc for p in notes),
                   notes[0].name, root.name, m21_name(root), m21_name(notes[0]),
                   ", ".join(m21_name(p) for p in notes),
                   ", ".join(p.name_with_octave for p in notes), notes[0].pc)


def grade_chord(target: ChordTarget, response: object, enharmonic: bool = False) -> Feedback:
    """Grade a chord symbol against the written chord (spelled notes, lowest is the bass);
    of a symbol's readings (music21's ``B-``, a lead sheet's ``C-7``) the best counts."""
    if not isinstance(response, str) or len(response) > 24:
        return Feedback(False, 0.0, f"expected {EXPECTED}")
    best: Feedback | None = None
    for text in readings(response):
        fb = _grade_one(target, text, response, enharmonic)
        if fb.correct:
            return fb
        if best is None or fb.score > best.score:
            best = fb
    assert best is not None
    return best


def _grade_one(t: ChordTarget, text: str, shown: str, enharmonic: bool) -> Feedback:
    sym = _read(text)
    if sym is None:
        return Feedback(False, 0.0, f"expected {EXPECTED}; could not read {shown.strip()!r}")
    bass = t.notes[0]
    bass_ok = sym.bass_name == (t.bass_name or bass.name)
    if bass_ok and sym.names == t.names:
        return Feedback(True, 1.0, f"right: {t.answer}")
    if sym.bass_pc == (bass.pc if t.bass_pc < 0 else t.bass_pc) and sym.pcs == t.pcs:
        if enharmonic:
            return Feedback(True, 1.0, f"right (written as {t.answer})")
        return Feedback(False, 0.5, f"right sound, wrong spelling: the notes are "
                                    f"{t.m21_notes or ', '.join(m21_name(p) for p in t.notes)}"
                                    f", so {t.answer}")
    wrong = []
    root_ok = sym.root_name == (t.root_name or t.root.name)
    score = 0.0
    if root_ok:
        score += 0.4
        if sym.quality == t.quality:
            score += 0.3
        else:
            wrong.append(f"the quality is {t.quality}, not {sym.quality}")
    else:
        wrong.append(f"the root is {t.m21_root or m21_name(t.root)}, not {sym.m21_root}")
    if bass_ok:
        score += 0.3
    else:
        b = t.m21_bass or m21_name(bass)
        wrong.append(f"the lowest note is {b} ({INVERSION_NAMES[t.inversion]}), "
                     f"so the symbol ends {'/' + b if t.inversion else 'without /bass'}")
    spelled = t.spelled or ", ".join(p.name_with_octave for p in t.notes)
    return Feedback(False, round(score, 2),
                    f"{'; '.join(wrong)}: {spelled} is {t.answer}, not {shown.strip()}")


def chord_id(seed: int = 0, level: int = 1, *, qualities: Sequence[str] | None = None,
             inversions: Sequence[int] | None = None, roots: Sequence[str] | None = None,
             bass_octave: int = 3, enharmonic: bool = False,
             arpeggiated: bool = False) -> Exercise:
    """Name a written chord with a chord symbol (``/bass`` for an inversion).

    ``level`` 1: major and minor triads in root position; 2: diminished and augmented
    triads and inversions; 3: the five common seventh chords and third inversion.
    ``qualities`` take theory's quality names or symbol suffixes (``"m"``, ``"dim"``,
    ``"7"``); ``enharmonic=True`` accepts other spellings of the same sound.
    """
    pool = _chords(level, tuple(qualities) if qualities else None,
                   tuple(inversions) if inversions is not None else None,
                   tuple(roots) if roots else None, bass_octave, arpeggiated)
    target, events, skill = pick(seed, pool)
    return Exercise(
        kind="chord_id", seed=seed, level=level,
        question="Name the chord with a chord symbol (/bass for an inversion)",
        answer=target.answer, events=events,
        grader=lambda r: grade_chord(target, r, enharmonic),
        params={"qualities": qualities, "inversions": inversions, "roots": roots,
                "bass_octave": bass_octave, "enharmonic": enharmonic,
                "arpeggiated": arpeggiated},
        skill=skill)


Events = tuple[tuple[Pitch, int, int], ...]


@lru_cache(maxsize=256)
def _chords(level: int, qualities: tuple[str, ...] | None, inversions: tuple[int, ...] | None,
            roots: tuple[str, ...] | None, bass_octave: int, arpeggiated: bool
            ) -> tuple[tuple[ChordTarget, Events, str], ...]:
    """Every chord a parameter set allows, with its prompt events and skill, made once:
    without given roots, only chords whose notes carry at most one sharp or flat."""
    check_level(level, LEVEL_QUALITIES)
    names = [_quality(q) for q in (qualities or LEVEL_QUALITIES[level])]
    invs = inversions if inversions is not None else LEVEL_INVERSIONS[level]
    if not names or not invs:
        raise ValueError("qualities and inversions must not be empty")
    pool = [Pitch.parse(r).with_octave(None) for r in roots] if roots else ROOTS
    step = TPQ if arpeggiated else 0
    out = []
    for quality in names:
        for root in pool:
            tones = _tones(root, quality)
            if not roots and any(abs(t.alter) > 1 for t in tones):
                continue
            for inv in invs:
                if 0 <= inv < len(tones):
                    notes = _voicing(tones, inv, bass_octave)
                    events = tuple((p, i * step, 2 * TPQ) for i, p in enumerate(notes))
                    out.append((ChordTarget.of(root, quality, inv, notes), events,
                                f"chord {quality} {INVERSION_NAMES[inv]}"))
    if not out:
        raise ValueError("no chord fits those roots, qualities and inversions")
    return tuple(out)


def _quality(q: str) -> str:
    if q in SUFFIX:
        return q
    for name, suffix in SUFFIX.items():
        if q == suffix:
            return name
    if q in _QUALITY_ALIASES:
        return _QUALITY_ALIASES[q]
    raise ValueError(f"quality {q!r} is not one of {sorted(SUFFIX)}")
