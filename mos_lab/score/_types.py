"""Units and column layouts shared by the score package.

Times are kept in integer ticks (the file's resolution); seconds and sample frames are
derived through the tempo map. The NewTypes let a type checker catch ticks passed as seconds.
"""

from __future__ import annotations

from typing import NewType

import numpy as np

Ticks = NewType("Ticks", int)
Seconds = NewType("Seconds", float)
Frames = NewType("Frames", int)

#: One row per note, sorted by ``start`` (ticks). ``channel`` mirrors the track's channel.
NOTE_DTYPE = np.dtype(
    [
        ("start", np.int64),
        ("duration", np.int64),
        ("pitch", np.uint8),
        ("velocity", np.uint8),
        ("track", np.uint16),
        ("channel", np.uint8),
    ],
    align=True,  # aligned columns are read and written several times faster
)

#: Controller-like events: ``number`` 0-127 is a MIDI CC, 128 a program change,
#: 129 a pitch bend (``value`` -8192..8191). Sorted by ``time``.
CONTROL_DTYPE = np.dtype(
    [
        ("time", np.int64),
        ("number", np.int16),
        ("value", np.int16),
        ("track", np.uint16),
        ("channel", np.uint8),
    ],
    align=True,
)

PROGRAM = 128
PITCH_BEND = 129

MAX_NOTES = 20_000_000
MAX_TRACKS = 4096
MAX_FILE_BYTES = 256 * 1024 * 1024


def empty_notes(n: int = 0) -> np.ndarray:
    """A zeroed note table of ``n`` rows."""
    return np.zeros(n, dtype=NOTE_DTYPE)


def empty_controls(n: int = 0) -> np.ndarray:
    """A zeroed control table of ``n`` rows."""
    return np.zeros(n, dtype=CONTROL_DTYPE)
