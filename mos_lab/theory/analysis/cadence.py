"""Cadences: where a phrase arrives, named by the two harmonies that make the arrival.

An arrival is a harmony that starts on a strong beat and lasts at least a beat and as long
as the harmony before it (or ends the piece). Then, within one key, onto I in root
position: from V(7) in root position with the tonic on top (the soprano read where it
arrives, past an appoggiatura) a PAC; with another tone on top, from viio, or from an
inverted V(7) onto a tonic held two beats or ending the piece an IAC (Kostka & Payne;
held, as V6-I in passing is no cadence: on the chorales 55 % of these fall at a fermata
against 26 % without the hold); IV to I a plagal cadence (PC). V(7) to vi (VI in minor)
is a DC; an arrival on V a half cadence (HC), Phrygian (PHC) after iv6 in minor.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Harmony:
    """What cadence finding needs of a segment."""

    tick: int
    end: int
    strength: float  # metrical weight of its start (3 downbeat .. 0 off-beat)
    key: int  # key index
    root: int  # root pitch class above the tonic
    quality: str
    inversion: int
    secondary: bool
    soprano: int  # highest pitch class above the tonic at its start (-1: none)
    bass: int  # bass pitch class above the tonic


_DOM = ("major", "dominant seventh")


def _is_v(h: Harmony) -> bool:
    return h.root == 7 and h.quality in _DOM and not h.secondary


def _is_i(h: Harmony) -> bool:
    return h.root == 0 and h.quality in ("major", "minor") and not h.secondary


def find(harmonies: list[Harmony], beat: int) -> list[str | None]:
    """The cadence (``PAC``, ``IAC``, ``HC``, ``PHC``, ``DC``, ``PC``) arriving at each harmony."""
    out: list[str | None] = [None] * len(harmonies)
    for i in range(1, len(harmonies)):
        a, b = harmonies[i - 1], harmonies[i]
        last = i == len(harmonies) - 1
        length = b.end - b.tick
        arrival = (b.strength >= 2 or (last and b.strength >= 1)) and (
            last or length >= max(beat, (a.end - a.tick)))
        if not arrival or a.key != b.key:
            continue
        minor = b.key >= 12
        if _is_i(b) and b.inversion == 0:
            if _is_v(a) and a.inversion == 0:
                out[i] = "PAC" if b.soprano == 0 else "IAC"
            elif _is_v(a) and (last or length >= 2 * beat):
                out[i] = "IAC"  # from an inverted V(7): only where the tonic is held
            elif a.root == 11 and a.quality.startswith(("diminished", "half")) and \
                    not a.secondary:
                out[i] = "IAC"
            elif a.root == 5 and a.inversion == 0 and not a.secondary and \
                    a.quality in ("major", "minor") and (last or length >= 2 * beat):
                out[i] = "PC"
        elif _is_v(a) and a.inversion == 0 and not b.secondary and b.inversion == 0 and (
                (not minor and b.root == 9 and b.quality == "minor")
                or (minor and b.root == 8 and b.quality == "major")):
            out[i] = "DC"
        elif _is_v(b) and b.quality == "major" and b.inversion == 0 and not _is_v(a) and (
                length >= 2 * beat or last):
            phrygian = minor and a.root == 5 and a.inversion == 1 and a.quality == "minor"
            out[i] = "PHC" if phrygian else "HC"
    return out
