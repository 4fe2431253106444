"""Key finding from pitch-class weights: Krumhansl-Kessler and Temperley profiles.

A key is an index 0-23: ``12 * minor + tonic pitch class``. ``key_scores`` correlates a
pitch-class histogram with every rotated profile (the Krumhansl-Schmuckler method);
``log_profiles`` gives the probabilistic form the analyser's key emissions use.

Examples
--------
>>> import numpy as np
>>> h = np.zeros(12); h[[0, 2, 4, 5, 7, 9, 11]] = 1; h[[0, 7]] = 2
>>> key_name(int(np.argmax(key_scores(h))))
'C'
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from mos_lab.theory.pitch import fifths_name

#: Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
#: Temperley (2007, Kostka-Payne corpus): probability that a pitch class occurs in a segment.
TEMPERLEY_MAJOR = np.array([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104,
                            0.366, 0.057, 0.400])
TEMPERLEY_MINOR = np.array([0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404,
                            0.067, 0.133, 0.330])

#: How long each pitch class sounds in the human-labelled keys of the 371 Bach chorales
#: (When in Rome; eighth-note frames, tonic first): sharper than Temperley's, chromatic
#: tones rarer. ``"mixed"`` averages it with Temperley's so other music is not judged by
#: Bach's habits alone (on chorales not used to make it: key agreement 84.0 -> 85.0 %).
CHORALE_MAJOR = np.array([0.241, 0.0009, 0.1233, 0.0005, 0.142, 0.094, 0.0042, 0.2247,
                          0.0022, 0.084, 0.0033, 0.08])
CHORALE_MINOR = np.array([0.2348, 0.001, 0.1318, 0.1182, 0.0165, 0.0925, 0.004, 0.2415,
                          0.0471, 0.0145, 0.0227, 0.0755])

# Tonic spellings with the fewest accidentals (F# major and g# minor at the edges).
_MAJOR_FIFTHS = {(7 * f) % 12: f for f in range(-5, 7)}
_MINOR_FIFTHS = {(7 * f) % 12: f for f in range(-3, 9)}


@lru_cache(maxsize=24)
def key_name(key: int) -> str:
    """RomanText symbol of a key index: ``"Bb"`` (major), ``"f#"`` (minor)."""
    minor, pc = divmod(int(key), 12)
    name = fifths_name((_MINOR_FIFTHS if minor else _MAJOR_FIFTHS)[pc])
    return name[0].lower() + name[1:] if minor else name


def key_fifths(key: int) -> int:
    """Line-of-fifths position of a key index's tonic, spelled as ``key_name`` spells it."""
    minor, pc = divmod(int(key), 12)
    return (_MINOR_FIFTHS if minor else _MAJOR_FIFTHS)[pc]


def key_index(symbol: str) -> int:
    """Key index of a RomanText key symbol (``"F#"``, ``"bb"``)."""
    base = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}[symbol[0].lower()]
    acc = symbol[1:]
    pc = (base + acc.count("#") - acc.count("b") - acc.count("-")) % 12
    return pc + (12 if symbol[0].islower() else 0)


def _unit(p: np.ndarray) -> np.ndarray:
    return p / p.sum()


@lru_cache(maxsize=4)
def profiles(kind: str = "temperley") -> np.ndarray:
    """(24, 12) profile of every key, rows indexed as key indices (read-only, shared).

    ``kind``: ``"kk"`` (Krumhansl-Kessler), ``"temperley"``, ``"chorale"`` or ``"mixed"``
    (the mean of Temperley's and the chorales', each normalised; the analyser's).
    """
    if kind == "kk":
        major, minor = KK_MAJOR, KK_MINOR
    elif kind == "temperley":
        major, minor = TEMPERLEY_MAJOR, TEMPERLEY_MINOR
    elif kind == "chorale":
        major, minor = CHORALE_MAJOR + 0.005, CHORALE_MINOR + 0.005
    elif kind == "mixed":
        major = 0.5 * _unit(CHORALE_MAJOR + 0.005) + 0.5 * _unit(TEMPERLEY_MAJOR)
        minor = 0.5 * _unit(CHORALE_MINOR + 0.005) + 0.5 * _unit(TEMPERLEY_MINOR)
    else:
        raise ValueError(f"unknown key profile {kind!r}: kk, temperley, chorale or mixed")
    out = np.stack([np.roll(p, t) for p in (major, minor) for t in range(12)])
    out.setflags(write=False)
    return out


@lru_cache(maxsize=4)
def log_profiles(kind: str = "temperley") -> np.ndarray:
    """(24, 12) log-probability of each pitch class in each key (profiles normalised)."""
    p = profiles(kind)
    out = np.log(p / p.sum(axis=1, keepdims=True))
    out.setflags(write=False)
    return out


def key_scores(hist: np.ndarray, kind: str = "kk") -> np.ndarray:
    """Correlation of a 12-bin histogram (or rows of them) with the 24 key profiles."""
    h = np.atleast_2d(np.asarray(hist, dtype=np.float64))
    p = profiles(kind)
    hc = h - h.mean(axis=1, keepdims=True)
    pc = p - p.mean(axis=1, keepdims=True)
    num = hc @ pc.T
    den = np.sqrt((hc**2).sum(axis=1, keepdims=True) * (pc**2).sum(axis=1)[None, :])
    out = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return out[0] if np.ndim(hist) == 1 else out


@lru_cache(maxsize=1)
def key_distance() -> np.ndarray:
    """(24, 24) steps around the circle of fifths between key signatures (0-6)."""
    sig = np.array([(_MAJOR_FIFTHS[k % 12] - 3 * (k // 12)) for k in range(24)])
    d = np.abs(sig[:, None] - sig[None, :]) % 12
    return np.minimum(d, 12 - d)
