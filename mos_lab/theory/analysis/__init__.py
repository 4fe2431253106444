"""Harmonic analysis of a Score: keys, Roman numerals, chords, non-chord tones, cadences.

Map::

    analyze(score) -> Analysis        # segments with key, numeral, chord, cadence
    Analysis.to_romantext()           # RomanText (m3 G: I b2 V6 b3 I)
    Analysis.records()                # one JSON-ready dict per segment
    Analysis.frames(ticks)            # key, chord and bass at many ticks (for comparison)
    parse_numeral("V6/5/V", minor)    # a numeral's chord in a key (line-of-fifths)
"""

from mos_lab.theory.analysis.analyze import analyze
from mos_lab.theory.analysis.model import Analysis, Segment

__all__ = [
    "Analysis",
    "Segment",
    "analyze",
]
