"""Music theory on top of the Score: spelled pitches, intervals, scales, keys, chords,
Roman-numeral analysis, RomanText and part-writing checks (one layer for everything above).

Map of the API::

    Pitch.parse("F#4")  .midi .fifths .pc .name    # spelled pitch, line-of-fifths position
    Interval.parse("M3") / Interval.between(a, b)  # quality + size, compound, inversion
    Key.parse("f#")  .sharps .pitch_of(5) .relative # key, signature, degrees
    Scale("D", "harmonic minor").pitches()         # scales and modes (SCALES)
"""

from mos_lab.theory.interval import Interval, IntervalError
from mos_lab.theory.key import Key
from mos_lab.theory.pitch import Pitch, PitchError
from mos_lab.theory.scale import SCALES, Scale

__all__ = [
    "SCALES",
    "Interval",
    "IntervalError",
    "Key",
    "Pitch",
    "PitchError",
    "Scale",
]
