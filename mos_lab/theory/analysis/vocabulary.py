"""The numerals the analyser can choose in a key, and how likely each is.

Each mode has a list of numerals (diatonic triads and sevenths, mixture, Neapolitan,
augmented sixths, secondary dominants and leading-tone chords). A numeral's chord is
read with ``parse_numeral``, so what the analyser writes is what the reader reads.
``PRIORS`` are log-frequencies of the numerals in human analyses of Bach's chorales
(When in Rome, counted per label and smoothed), written out by ``bench/bench_theory.py
--priors``; numerals not seen there keep a small floor, so chromatic harmony stays
possible on other music.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mos_lab.theory.analysis.numeral import figure, parse_numeral, split_numeral

_SEC_MAJOR = ("ii", "iii", "IV", "V", "vi")
_SEC_MINOR = ("III", "iv", "V", "VI", "VII")
_APPLIED = ("V", "V7", "viio", "viio7", "vii/o7")

MAJOR = (
    "I", "ii", "iii", "IV", "V", "vi", "viio",
    "Imaj7", "ii7", "iii7", "IVmaj7", "V7", "vi7", "vii/o7", "viio7",
    "i", "iv", "bIII", "bVI", "bVII", "iio", "ii/o7", "v", "iv7", "bVImaj7", "I+",
    "N", "It6", "Ger6/5", "Fr4/3",
    *(f"{a}/{t}" for t in _SEC_MAJOR for a in _APPLIED if f"{a}/{t}" != "V/IV"),
)
MINOR = (
    "i", "iio", "III", "iv", "v", "V", "VI", "VII", "viio", "III+",
    "i7", "ii/o7", "IIImaj7", "iv7", "v7", "V7", "VImaj7", "viio7",
    "I", "IV", "ii", "ii7", "vio", "IV7",
    "N", "It6", "Ger6/5", "Fr4/3",
    *(f"{a}/{t}" for t in _SEC_MINOR for a in _APPLIED),
)
_FIXED = ("It6", "Ger6/5", "Fr4/3")

#: Log prior per numeral, from counts in human analyses (see the module docstring).
PRIORS: dict[str, dict[str, float]] = {
    "major": {
        "I": -1.11, "ii": -3.14, "iii": -4.49, "IV": -2.4, "V": -1.73, "vi": -2.75,
        "viio": -3.33, "Imaj7": -6.22, "ii7": -3.04, "iii7": -6.97, "IVmaj7": -4.72,
        "V7": -2.07, "vi7": -5.29, "vii/o7": -4.66, "viio7": -8.25, "i": -7.63, "iv": -7.15,
        "bIII": -10.19, "bVI": -9.09, "bVII": -9.09, "iio": -9.09, "ii/o7": -8.58, "v": -6.9,
        "iv7": -10.19, "bVImaj7": -10.19, "I+": -10.19, "N": -10.19, "It6": -10.19,
        "Ger6/5": -10.19, "Fr4/3": -10.19, "V/ii": -7.25, "V7/ii": -6.39, "viio/ii": -7.25,
        "viio7/ii": -7.25, "vii/o7/ii": -9.09, "V/iii": -10.19, "V7/iii": -10.19,
        "viio/iii": -10.19, "viio7/iii": -9.09, "vii/o7/iii": -10.19, "V7/IV": -4.42,
        "viio/IV": -7.36, "viio7/IV": -9.09, "vii/o7/IV": -9.09, "V/V": -5.58, "V7/V": -4.8,
        "viio/V": -5.5, "viio7/V": -7.25, "vii/o7/V": -6.08, "V/vi": -5.43, "V7/vi": -5.85,
        "viio/vi": -7.63, "viio7/vi": -6.83, "vii/o7/vi": -10.19,
    },
    "minor": {
        "i": -1.16, "iio": -4.24, "III": -4.34, "iv": -2.74, "v": -3.73, "V": -1.74,
        "VI": -3.35, "VII": -5.46, "viio": -3.44, "III+": -5.83, "i7": -6.89, "ii/o7": -3.05,
        "IIImaj7": -7.78, "iv7": -4.5, "v7": -6.11, "V7": -2.15, "VImaj7": -5.58,
        "viio7": -3.76, "I": -3.59, "IV": -4.35, "ii": -5.02, "ii7": -7.53, "vio": -6.51,
        "IV7": -4.42, "N": -6.78, "It6": -8.63, "Ger6/5": -8.63, "Fr4/3": -8.63,
        "V/III": -5.26, "V7/III": -6.17, "viio/III": -6.89, "viio7/III": -9.72,
        "vii/o7/III": -7.02, "V/iv": -5.65, "V7/iv": -5.19, "viio/iv": -6.36,
        "viio7/iv": -6.23, "vii/o7/iv": -7.16, "V/V": -6.01, "V7/V": -5.26, "viio/V": -6.78,
        "viio7/V": -4.64, "vii/o7/V": -9.72, "V/VI": -9.72, "V7/VI": -8.63, "viio/VI": -8.63,
        "viio7/VI": -9.72, "vii/o7/VI": -8.63, "V/VII": -6.51, "V7/VII": -6.36,
        "viio/VII": -6.89, "viio7/VII": -8.12, "vii/o7/VII": -5.41,
    },
}
#: No numeral of the vocabulary is rarer than this (log): the chorales hold a handful of
#: augmented sixths and Neapolitans, textbooks and the Romantics many more.
_FLOOR = -5.5


@dataclass(frozen=True)
class Entry:
    """One numeral of a mode: its text, members (pitch classes above the tonic), root, bass."""

    text: str
    head: str
    tail: str
    seventh: bool
    pcs: tuple[int, ...]
    members: tuple[int, ...]  # fifths above the tonic, root first
    root_pc: int
    fixed: bool
    quality: str

    def name(self, inversion: int) -> str:
        """The numeral with the inversion figure of a bass (``V6/5/V``)."""
        if self.fixed:
            return self.text
        if self.head == "N" or self.head.startswith("bII"):
            return "N" + figure(inversion, self.seventh)
        return self.head + figure(inversion, self.seventh) + self.tail


def _entry(text: str, minor: bool) -> Entry:
    n = parse_numeral(text, minor)
    head, _, tail = split_numeral(text)
    pcs = tuple(sorted({(7 * f) % 12 for f in n.members}))
    return Entry(text, head, tail, len(n.members) >= 4, pcs, n.members,
                 (7 * n.root) % 12, text in _FIXED, n.quality)


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """The numerals of both modes, padded to one length, with their log priors."""

    entries: tuple[tuple[Entry, ...], tuple[Entry, ...]]
    prior: np.ndarray  # (2, J): log prior, -inf for padding
    masks: np.ndarray  # (2, J): 12-bit pitch-class set above the tonic
    roots: np.ndarray  # (2, J): root pitch class above the tonic

    @property
    def size(self) -> int:
        return self.prior.shape[1]


def build(priors: dict[str, dict[str, float]] | None = None) -> Vocabulary:
    """The analyser's vocabulary with priors (``PRIORS`` unless given)."""
    pri = PRIORS if priors is None else priors
    ents = (tuple(_entry(t, False) for t in MAJOR), tuple(_entry(t, True) for t in MINOR))
    j = max(len(e) for e in ents)
    prior = np.full((2, j), -np.inf)
    masks = np.zeros((2, j), dtype=np.int64)
    roots = np.zeros((2, j), dtype=np.int64)
    for m, (mode, es) in enumerate(zip(("major", "minor"), ents, strict=True)):
        for i, e in enumerate(es):
            prior[m, i] = max(pri.get(mode, {}).get(e.text, _FLOOR), _FLOOR)
            masks[m, i] = sum(1 << q for q in e.pcs)
            roots[m, i] = e.root_pc
    return Vocabulary(ents, prior, masks, roots)
