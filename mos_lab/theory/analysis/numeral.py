"""Roman numerals: read a figure such as ``V6/5/V`` in a key, name a chord as one.

Pitches are kept on the line of fifths (C = 0, G = 1, F = -1; pitch class ``7 * f mod
12``), so a numeral's chord comes out spelled: ``V7/V`` in C is D F# A C, not D Gb A C.
Minor keys read ``VI``/``VII`` on the natural degrees and ``vi``/``vii`` (minor or
diminished) on the raised ones, as music21 and the When in Rome analyses do.

Examples
--------
>>> n = parse_numeral("V6/5/V", minor=False)
>>> n.root, n.members, n.bass, n.quality
(2, (2, 6, 3, 0), 6, 'dominant seventh')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Degree (0-6) -> line-of-fifths position above the tonic, major and natural minor.
MAJOR_DEGREES = (0, 2, 4, -1, 1, 3, 5)
MINOR_DEGREES = (0, 2, -3, -1, 1, -4, -2)
_ROMANS = ("I", "II", "III", "IV", "V", "VI", "VII")

#: Quality -> chord members above the root on the line of fifths (root, 3rd, 5th, 7th).
MEMBERS: dict[str, tuple[int, ...]] = {
    "major": (0, 4, 1),
    "minor": (0, -3, 1),
    "diminished": (0, -3, -6),
    "augmented": (0, 4, 8),
    "dominant seventh": (0, 4, 1, -2),
    "minor seventh": (0, -3, 1, -2),
    "half-diminished seventh": (0, -3, -6, -2),
    "diminished seventh": (0, -3, -6, -9),
    "major seventh": (0, 4, 1, 5),
    "Italian augmented sixth": (0, 4, 10),
    "French augmented sixth": (0, 4, 6, 10),
    "German augmented sixth": (0, 4, 1, 10),
}
AUG6 = {"It": "Italian augmented sixth", "Fr": "French augmented sixth",
        "Ger": "German augmented sixth"}
SEVENTH_FIGURES = {"7": 0, "65": 1, "6/5": 1, "43": 2, "4/3": 2, "42": 3, "4/2": 3, "2": 3}
TRIAD_FIGURES = {"": 0, "5": 0, "53": 0, "5/3": 0, "6": 1, "63": 1, "6/3": 1, "64": 2, "6/4": 2}
_FIG_OUT = {False: ("", "6", "6/4"), True: ("7", "6/5", "4/3", "2")}

_RN = r"VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i"
_NUMERAL = re.compile(
    rf"^(?P<acc>[b#-]*)(?P<rn>{_RN}|N|It|Ger|Fr|Cad)(?P<qual>/o|o|ø|\+|°)?(?P<maj>maj|M)?"
    rf"(?P<fig>\d+(?:/\d+)*)?(?P<add>(?:\[[^\]]*\])*)(?P<sec>(?:/[b#-]*(?:{_RN}))*)"
    r"(?P<add2>(?:\[[^\]]*\])*)$"
)


class NumeralError(ValueError):
    """A Roman numeral that cannot be read; the message names it."""


@dataclass(frozen=True, slots=True)
class Numeral:
    """A numeral read in a key: chord members, root and bass as fifths above the tonic."""

    text: str
    root: int
    members: tuple[int, ...]
    bass: int
    quality: str
    inversion: int

    @property
    def pcs(self) -> frozenset[int]:
        """Pitch classes above the tonic (0-11)."""
        return frozenset((7 * f) % 12 for f in self.members)


def split_numeral(text: str) -> tuple[str, str, str]:
    """(head, figure, tail) of a numeral: ``"V6/5/V"`` -> ``("V", "6/5", "/V")``."""
    m = _NUMERAL.match(text.strip())
    if not m:
        raise NumeralError(f"not a Roman numeral: {text!r}")
    g = {k: m.group(k) or "" for k in ("acc", "rn", "qual", "maj", "fig", "add", "sec", "add2")}
    return g["acc"] + g["rn"] + g["qual"] + g["maj"], g["fig"], g["add"] + g["sec"] + g["add2"]


def _degree(rn: str, acc: str, minor: bool) -> int:
    """Fifths of a numeral's root above the tonic (minor's raised 6/7 for lower case)."""
    d = _ROMANS.index(rn.upper())
    f = (MINOR_DEGREES if minor else MAJOR_DEGREES)[d]
    if minor and d in (5, 6) and rn.islower() and not acc:
        f += 7
    return f + 7 * (acc.count("#") - acc.count("b") - acc.count("-"))


def _tonicised(sec: str, minor: bool) -> tuple[int, bool]:
    """Shift (fifths) and mode of the key a chain such as ``/V/III`` tonicises."""
    shift = 0
    for tok in reversed([t for t in sec.split("/") if t]):
        m = re.match(r"^([b#-]*)(.*)$", tok)
        assert m is not None
        shift += _degree(m.group(2), m.group(1), minor)
        minor = m.group(2).islower()
    return shift, minor


def parse_numeral(text: str, minor: bool) -> Numeral:
    """Read a RomanText numeral in a major (``minor=False``) or minor key."""
    m = _NUMERAL.match(text.strip())
    if not m:
        raise NumeralError(f"not a Roman numeral: {text!r}")
    acc, rn, qual, maj, fig, add, sec, add2 = (
        m.group(k) or "" for k in ("acc", "rn", "qual", "maj", "fig", "add", "sec", "add2"))
    add += add2
    shift, kminor = _tonicised(sec, minor)
    scale = MINOR_DEGREES if kminor else MAJOR_DEGREES
    if rn in AUG6:
        quality = AUG6[rn]
        root = shift - 4  # the lowered sixth degree, the chord's bass
        aug = tuple(root + f for f in MEMBERS[quality])
        if rn == "Fr":
            aug = aug[2:3] + aug[3:] + aug[:2]  # root on the 2nd degree
            return Numeral(text, aug[0], aug, root, quality, 2)
        return Numeral(text, root, aug, root, quality, 0)
    if rn == "N":
        rn, acc = "II", "b" + acc
    if rn == "Cad":
        rn, fig = "I", "64"
    root = shift + _degree(rn, acc, kminor)
    seventh = fig in SEVENTH_FIGURES or fig in ("9", "11", "13") or qual == "/o" or qual == "ø"
    if fig in SEVENTH_FIGURES:
        inversion = SEVENTH_FIGURES[fig]
    elif fig in TRIAD_FIGURES:
        inversion = TRIAD_FIGURES[fig]
    elif fig in ("9", "11", "13"):
        inversion = 0
    else:
        raise NumeralError(f"unknown figure {fig!r} in {text!r}")
    if qual in ("o", "°") or qual in ("/o", "ø"):
        third, fifth = -3, -6
    elif qual == "+":
        third, fifth = 4, 8
    else:
        third, fifth = (4, 1) if rn.isupper() else (-3, 1)
    members = [root, root + third, root + fifth]
    if seventh:
        if maj:
            sev = 5
        elif qual in ("o", "°"):
            sev = -9
        elif qual in ("/o", "ø"):
            sev = -2
        else:  # the key's diatonic seventh above the root
            d = _ROMANS.index(rn.upper())
            sev = shift + scale[(d + 6) % 7] - root
        members.append(root + sev)
    if fig in ("9", "11", "13"):
        members.append(shift + scale[(_ROMANS.index(rn.upper()) + 1) % 7])
    for a in re.findall(r"\[([^\]]*)\]", add):
        am = re.match(r"^(add|no)?([b#-]*)(\d+)$", a)
        if not am:
            raise NumeralError(f"unknown addition [{a}] in {text!r}")
        kind, acc2, num = am.group(1), am.group(2), int(am.group(3))
        alt = 7 * (acc2.count("#") - acc2.count("b") - acc2.count("-"))
        idx = {1: 0, 3: 1, 5: 2, 7: 3, 9: 4}.get(num)
        if kind == "no":
            if idx is not None and 0 < idx < len(members):
                members.pop(idx)
        elif idx is not None and idx < len(members):
            members[idx] += alt
        else:
            members.append(root + {2: 2, 9: 2, 4: -1, 11: -1, 6: 3, 13: 3}.get(num, 2) + alt)
    quality = _quality(tuple(f - root for f in members))
    inversion = min(inversion, len(members) - 1)
    return Numeral(text, root, tuple(members), members[inversion], quality, inversion)


def _quality(rel: tuple[int, ...]) -> str:
    """The quality name of members given above their root (``"other"`` when none fits)."""
    for name, q in MEMBERS.items():
        if rel[: len(q)] == q and len(rel) == len(q):
            return name
    fits = [(len(q), name) for name, q in MEMBERS.items() if rel[: len(q)] == q]
    return max(fits)[1] if fits else "other"


def figure(inversion: int, seventh: bool) -> str:
    """The inversion figure RomanText writes (``6``, ``6/4``, ``6/5``, ``4/3``, ``2``)."""
    figs = _FIG_OUT[seventh]
    return figs[min(inversion, len(figs) - 1)]


def degree_name(rel: int, quality: str, minor: bool) -> str:
    """Roman numeral (accidental, case, quality mark) of a root ``rel`` fifths above the tonic."""
    lower = quality in ("minor", "diminished", "minor seventh", "half-diminished seventh",
                        "diminished seventh")
    scale = MINOR_DEGREES if minor else MAJOR_DEGREES
    best = None
    for d, f in enumerate(scale):
        nat = f
        if minor and d in (5, 6) and lower:
            nat = f + 7
        diff = rel - nat
        if diff % 7 == 0 and (best is None or abs(diff) < abs(best[1])):
            best = (d, diff)
    assert best is not None
    d, diff = best
    acc = "#" * (diff // 7) if diff > 0 else "b" * (-diff // 7)
    rn = _ROMANS[d].lower() if lower else _ROMANS[d]
    mark = {"diminished": "o", "diminished seventh": "o", "half-diminished seventh": "/o",
            "augmented": "+"}.get(quality, "")
    if quality == "major seventh":
        mark = "maj"
    return acc + rn + mark
