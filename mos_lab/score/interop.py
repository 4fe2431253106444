"""Conversions to and from the other Python music libraries: mido, symusic, pretty_midi,
music21. Each goes through MIDI bytes, the format all of them read and write exactly."""

from __future__ import annotations

import io
from typing import Any

from mos_lab.score.midi import read_midi
from mos_lab.score.model import Score
from mos_lab.score.notation import from_music21, to_music21


def to_mido(score: Score) -> Any:
    """A ``mido.MidiFile``."""
    import mido

    return mido.MidiFile(file=io.BytesIO(score.to_midi_bytes()))


def from_mido(mid: Any) -> Score:
    """A Score from a ``mido.MidiFile``."""
    buf = io.BytesIO()
    mid.save(file=buf)
    return read_midi(buf.getvalue(), getattr(mid, "filename", None))


def to_symusic(score: Score) -> Any:
    """A ``symusic.Score`` in ticks."""
    import symusic

    return symusic.Score.from_midi(score.to_midi_bytes())


def from_symusic(sc: Any) -> Score:
    """A Score from a ``symusic.Score`` (any time unit)."""
    return read_midi(bytes(sc.dumps_midi()))


def to_pretty_midi(score: Score) -> Any:
    """A ``pretty_midi.PrettyMIDI``."""
    import pretty_midi

    return pretty_midi.PrettyMIDI(io.BytesIO(score.to_midi_bytes()))


def from_pretty_midi(pm: Any) -> Score:
    """A Score from a ``pretty_midi.PrettyMIDI``."""
    buf = io.BytesIO()
    pm.write(buf)
    return read_midi(buf.getvalue())


__all__ = [
    "from_mido", "from_music21", "from_pretty_midi", "from_symusic",
    "to_mido", "to_music21", "to_pretty_midi", "to_symusic",
]
