"""Scores: the columnar model, its formats and the seek index.

Map of the API::

    load(path_or_bytes) -> Score       # MIDI, NVX1 JSON, MusicXML (music21), ABC
    Score.save(path)                   # format by extension
    Score.notes                        # numpy table: start, duration, pitch, velocity, ...
    Score.tempo                        # TempoMap: ticks <-> seconds <-> frames, exact
    Score.seek.notes_at(tick)          # O(log n) "what sounds here"
    Score.seek.controls_at(tick)       # controller/program/bend state at a tick
    nvx1.validate(doc) -> [problems]   # every problem with its field path
    ScoreError                         # ValueError naming what is wrong and where
"""

from mos_lab.score import interop, model, nvx1
from mos_lab.score._types import NOTE_DTYPE, PITCH_BEND, PROGRAM
from mos_lab.score.errors import MissingDependencyError, ScoreError
from mos_lab.score.io import load, save
from mos_lab.score.midi import write_midi
from mos_lab.score.model import Chord, KeySignature, Score, TimeSignature, Track

# The model knows no format; its conveniences (Score.save, .to_nvx1, ...) call these.
model.FORMATS = model.Formats(save=save, to_nvx1=nvx1.to_nvx1, to_midi_bytes=write_midi,
                              to_mido=interop.to_mido)

__all__ = [
    "NOTE_DTYPE",
    "PITCH_BEND",
    "PROGRAM",
    "Chord",
    "KeySignature",
    "MissingDependencyError",
    "Score",
    "ScoreError",
    "TimeSignature",
    "Track",
    "load",
    "nvx1",
    "save",
]
