"""Instrument interfaces: a bank maps (program, drums) to an instrument, which starts notes.

A started note is a :class:`NoteSpec`: a sound source (oscillator or sample player)
plus the envelope, gain and pan the voice wraps around it.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from mos_lab.audio.envelope import ADSR


class Source(Protocol):
    """Makes the raw mono signal of one note, block by block."""

    finished: bool

    def render(self, n: int, bend: float) -> np.ndarray:
        """Return ``n`` float64 samples; ``bend`` multiplies the playback frequency."""
        ...


@dataclass
class NoteSpec:
    """What an instrument returns for one note: source + envelope + level + pan."""

    source: Source
    envelope: ADSR
    gain: float = 1.0
    pan: float = 0.0  # -1 (left) .. 1 (right), added to the channel pan
    exclusive: int = 0  # choke group: a new note in the group releases the others
    ignore_note_off: bool = False  # GM drums play through; they end with their sample
    # Same key -> same source output at native pitch: the synth may render it once and
    # read it back (``notecache``). None: always render live. A spec with a key may be
    # shared between notes (so may its source): the synth never renders such a source
    # in place (it copies it, ``sources.clone_source``).
    cache_key: Hashable | None = None


@runtime_checkable
class Instrument(Protocol):
    """Something that can start notes."""

    name: str

    def start(self, pitch: int, velocity: int, sample_rate: float) -> list[NoteSpec]:
        """Return the layers of one note (empty when the key has no sound)."""
        ...


@runtime_checkable
class InstrumentBank(Protocol):
    """A set of 128 melodic programs plus a drum kit (channel 9 in GM)."""

    name: str

    def instrument(self, program: int, drums: bool) -> Instrument:
        """Return the instrument for ``program`` (or the drum kit when ``drums``)."""
        ...


def velocity_gain(velocity: int) -> float:
    """GM-style velocity curve: 40*log10(v/127) dB, i.e. (v/127)**2 in amplitude."""
    return (max(0, min(127, velocity)) / 127.0) ** 2
