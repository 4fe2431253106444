"""Figured bass: the figures under a bass note read as the chord they ask for, in a key.

A figure lists intervals above the bass (``6``, ``6/5``, ``4/2``), each diatonic in the
key's signature unless an accidental goes with it (``#6``, ``b7``, ``n3``: raised, lowered,
natural; ``+`` is ``#``). A lone accidental stands for the third (``#`` is a raised
third, ``7/#`` a seventh chord with one). The usual abbreviations are completed as
figured-bass manuals do: nothing or ``5`` is 5/3, ``6`` is 6/3, ``7`` is 7/5/3, ``6/5``
is 6/5/3, ``4/3`` is 6/4/3, ``4/2`` and ``2`` are 6/4/2. Figures may be written with
``/``, commas or spaces between the numbers, or run together (``65``, ``43``).

``figures_for`` goes the other way: the figure a continuo player reads for spelled chord
members over a bass (only the inversion's figure plus the notes the signature does not
give), so ``realize(bass, figures_for(bass, members, key), key)`` gives the members back.

Examples
--------
>>> from mos_lab.theory.key import Key
>>> from mos_lab.theory.pitch import Pitch
>>> [p.name for p in realize(Pitch.parse("B2"), "6/5", Key.parse("C"))]
['B', 'D', 'F', 'G']
>>> [p.name for p in realize(Pitch.parse("E3"), "#", Key.parse("a"))]
['E', 'G#', 'B']
>>> figures_for(Pitch.parse("E3"), ["E", "G#", "B", "D"], Key.parse("a"))
'7/#'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mos_lab.theory.key import Key
from mos_lab.theory.pitch import Pitch, pitch

#: Accidental signs of a figure, in semitones against the signature (``None``: natural).
SIGNS: dict[str, int | None] = {"#": 1, "+": 1, "b": -1, "n": None, "♮": None, "♯": 1,
                                "♭": -1}
#: Abbreviations completed to the full set of intervals above the bass.
COMPLETE: dict[frozenset[int], frozenset[int]] = {
    frozenset(): frozenset({3, 5}), frozenset({5}): frozenset({3, 5}),
    frozenset({3}): frozenset({3, 5}), frozenset({6}): frozenset({3, 6}),
    frozenset({7}): frozenset({3, 5, 7}), frozenset({6, 5}): frozenset({3, 5, 6}),
    frozenset({4, 3}): frozenset({3, 4, 6}), frozenset({4, 2}): frozenset({2, 4, 6}),
    frozenset({2}): frozenset({2, 4, 6}), frozenset({7, 5}): frozenset({3, 5, 7}),
    frozenset({7, 3}): frozenset({3, 5, 7}), frozenset({6, 4}): frozenset({4, 6}),
}
#: The figure written for each inversion of a triad and of a seventh chord.
INVERSION_FIGURES = {False: ("", "6", "6/4"), True: ("7", "6/5", "4/3", "4/2")}
_TOKEN = re.compile(r"([#+bn♮♯♭]?)([1-9]?)([#+bn♮♯♭]?)")


class FiguredBassError(ValueError):
    """A figure that cannot be read or realised; the message names it."""


def parse_figures(figures: str) -> dict[int, int | str | None]:
    """Interval number (2-9 above the bass) -> its sign (+1, -1, None for a natural, or
    ``""`` for the signature's note), abbreviations completed."""
    if not isinstance(figures, str) or len(figures) > 24:
        raise FiguredBassError(f"figures must be text such as '6/5' or '#', not {figures!r}")
    text = figures.strip()
    parts = [p for p in re.split(r"[/,\s]+", text) if p] if re.search(r"[/,\s]", text) \
        else _runs(text)
    given: dict[int, int | str | None] = {}
    for part in parts:
        m = _TOKEN.fullmatch(part)
        if not m or not (m.group(1) or m.group(2) or m.group(3)) or \
                (m.group(1) and m.group(3)):
            raise FiguredBassError(f"cannot read {part!r} in figures {figures!r}")
        sign_text = m.group(1) or m.group(3)
        number = int(m.group(2)) if m.group(2) else 3  # a lone accidental is the third
        if number < 2:
            raise FiguredBassError(f"interval {number} in figures {figures!r}: use 2-9")
        if number in given:
            raise FiguredBassError(f"interval {number} twice in figures {figures!r}")
        given[number] = SIGNS[sign_text] if sign_text else ""
    full = COMPLETE.get(frozenset(given), frozenset(given))
    return {n: given.get(n, "") for n in sorted(full)}


def _runs(text: str) -> list[str]:
    """``"65"`` -> ``["6", "5"]``, ``"#6"`` -> ``["#6"]``, ``"7#"`` -> ``["7", "#"]``:
    each number with the sign just before it; a trailing sign is its own third."""
    out: list[str] = []
    sign = ""
    for ch in text:
        if ch in SIGNS:
            if sign:
                out.append(sign)
            sign = ch
        elif ch.isdigit():
            out.append(sign + ch)
            sign = ""
        else:
            raise FiguredBassError(f"cannot read {ch!r} in figures {text!r}")
    if sign:
        out.append(sign)
    return out


def realize(bass: Pitch | str, figures: str, key: Key | str) -> list[Pitch]:
    """The chord's pitch classes, bass first, then upward by interval number: each the
    diatonic note of ``key`` that many steps above the bass, altered by its sign."""
    b = pitch(bass)
    k = Key.parse(key) if isinstance(key, str) else key
    out = [b.with_octave(None)]
    for number, sign in parse_figures(figures).items():
        step = (b.step + number - 1) % 7
        alter = k.alter_of(step)
        if sign is None:
            alter = 0
        elif isinstance(sign, int):
            alter += sign
        out.append(Pitch(step, alter))
    return out


def root_position(members: Sequence[Pitch]) -> list[Pitch]:
    """Chord members reordered root, third, fifth, seventh (stacked in thirds); a
    FiguredBassError when they do not stack in thirds."""
    ps = list(dict.fromkeys(p.with_octave(None) for p in members))
    for root in ps:
        by_step = {(p.step - root.step) % 7: p for p in ps}
        if len(by_step) == len(ps) and set(by_step) <= {0, 2, 4, 6}:
            return [by_step[s] for s in sorted(by_step)]
    names = ", ".join(p.name for p in ps)
    raise FiguredBassError(f"{names} do not stack in thirds: no root to name")


def figures_for(bass: Pitch | str, members: Sequence[Pitch | str], key: Key | str) -> str:
    """The figure for chord ``members`` (pitch classes, any order) over ``bass``: the
    inversion's figure, plus each note the signature does not give with its sign."""
    b = pitch(bass).with_octave(None)
    k = Key.parse(key) if isinstance(key, str) else key
    ps = root_position([pitch(m) for m in members])
    if b not in ps:
        raise FiguredBassError(f"bass {b.name} is not one of {', '.join(p.name for p in ps)}")
    seventh = len(ps) == 4
    base = INVERSION_FIGURES[seventh][ps.index(b)] if len(ps) in (3, 4) else None
    if base is None:
        raise FiguredBassError(f"{len(ps)} chord members: figures here are for triads and "
                               "seventh chords")
    numbers = [int(c) for c in base.replace("/", "")]
    shown: dict[int, str] = {}
    for p in ps:
        if p == b:
            continue
        number = (p.step - b.step) % 7 + 1
        diff = p.alter - k.alter_of(p.step)
        if abs(diff) > 1:
            raise FiguredBassError(f"{p.name} is {diff:+d} semitones from {k.name}'s "
                                   "signature: figures alter by one")
        if diff:  # a natural sign where the note the signature alters comes back natural
            shown[number] = "n" if p.alter == 0 else "#" if diff > 0 else "b"
    parts = [shown.pop(n, "") + str(n) for n in numbers]
    for n, sign in sorted(shown.items(), reverse=True):  # altered notes the figure implies
        parts.append(sign if n == 3 else sign + str(n))
    return "/".join(parts)
