"""Music theory on top of the Score: spelled pitches, intervals, scales, keys, chords,
Roman-numeral analysis, RomanText and part-writing checks (one layer for everything above).

Map of the API::

    Pitch.parse("F#4")  .midi .fifths .pc .name    # spelled pitch, line-of-fifths position
    Interval.parse("M3") / Interval.between(a, b)  # quality + size, compound, inversion
    Key.parse("f#")  .sharps .pitch_of(5) .relative # key, signature, degrees
    Scale("D", "harmonic minor").pitches()         # scales and modes (SCALES)
    Chord.from_pitches(["E4", "G4", "C5"]).symbol  # root, quality, inversion: "C/E"
    parse_symbol("Bb7(#11)").pitches()             # chord symbols (QUALITIES: the templates)
    analyze(score) -> Analysis                     # keys, numerals, chords, NCTs, cadences
    read_romantext(text) / Analysis.to_romantext() # human analyses in, any analysis out
    spell(score) -> fifths per note                # pitch spelling for MIDI (Score.spelling)
    note_names(score) -> ["F#4", ...]              # every note's spelled name
    check_voice_leading(score) -> findings         # part-writing rules (RULES), SATB/2-voice
"""

from mos_lab.theory.analysis import Analysis, Segment, analyze
from mos_lab.theory.chord import Chord
from mos_lab.theory.interval import Interval
from mos_lab.theory.key import Key
from mos_lab.theory.pitch import Pitch
from mos_lab.theory.romantext import RomanTextError, read_romantext
from mos_lab.theory.scale import Scale
from mos_lab.theory.spelling import note_names, spell
from mos_lab.theory.symbols import SymbolError, parse_symbol
from mos_lab.theory.voice_leading import check_voice_leading

__all__ = [
    "Analysis",
    "Chord",
    "Interval",
    "Key",
    "Pitch",
    "RomanTextError",
    "Scale",
    "Segment",
    "SymbolError",
    "analyze",
    "check_voice_leading",
    "note_names",
    "parse_symbol",
    "read_romantext",
    "spell",
]
