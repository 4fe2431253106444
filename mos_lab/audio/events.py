"""Event kinds and input validation for Apollo.

The engine drives the synth with tuples ``(offset_frame, kind, channel, a, b)``; this
module turns them into one checked form so the render path never sees bad values
(failure catalogue APO-07: velocity out of range).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

NOTE_OFF = 0
NOTE_ON = 1
CONTROL = 2
PROGRAM = 3
PITCH_BEND = 4

KIND_NAMES: dict[str, int] = {
    "note_off": NOTE_OFF,
    "note_on": NOTE_ON,
    "control": CONTROL,
    "control_change": CONTROL,
    "cc": CONTROL,
    "program": PROGRAM,
    "program_change": PROGRAM,
    "pitch_bend": PITCH_BEND,
    "pitchwheel": PITCH_BEND,
}
# MIDI status nibbles are accepted as integer kinds too.
_STATUS_KINDS = {0x80: NOTE_OFF, 0x90: NOTE_ON, 0xB0: CONTROL, 0xC0: PROGRAM, 0xE0: PITCH_BEND}

CC_VOLUME = 7
CC_PAN = 10
CC_EXPRESSION = 11
CC_SUSTAIN = 64
CC_ALL_SOUND_OFF = 120
CC_RESET_CONTROLLERS = 121
CC_ALL_NOTES_OFF = 123

DRUM_CHANNEL = 9


class Event(NamedTuple):
    """One checked event: ``offset`` frames into the block, integer ``kind``, data a/b."""

    offset: int
    kind: int
    channel: int
    a: int
    b: int


def kind_code(kind: str | int) -> int:
    """Map a kind name (``"note_on"``), internal code or MIDI status byte to a code."""
    if isinstance(kind, str):
        try:
            return KIND_NAMES[kind.lower()]
        except KeyError:
            raise ValueError(f"unknown event kind {kind!r}") from None
    k = int(kind)
    if k in (NOTE_OFF, NOTE_ON, CONTROL, PROGRAM, PITCH_BEND):
        return k
    if (k & 0xF0) in _STATUS_KINDS:
        return _STATUS_KINDS[k & 0xF0]
    raise ValueError(f"unknown event kind {kind!r}")


def validate_velocity(velocity: object) -> int:
    """Return a MIDI velocity 0..127.

    Integers are MIDI values and are clamped to 0..127. Floats in [0, 1] are normalised
    velocities (1.0 -> 127); floats above 1 are read as MIDI values and clamped. NaN,
    infinities and non-numbers raise ``ValueError`` (APO-07).
    """
    if isinstance(velocity, bool):
        raise ValueError(f"velocity must be a number, not {velocity!r}")
    if isinstance(velocity, int | np.integer):
        return int(min(127, max(0, int(velocity))))
    if isinstance(velocity, float | np.floating):
        v = float(velocity)
        if not math.isfinite(v):
            raise ValueError(f"velocity must be finite, got {v!r}")
        if v <= 1.0:
            return round(max(0.0, v) * 127.0)
        return int(min(127, round(v)))
    raise ValueError(f"velocity must be an int 0-127 or a float 0-1, got {velocity!r}")


def _check_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, float | np.floating) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if not lo <= v <= hi:
        raise ValueError(f"{name} {v} is outside {lo}..{hi}")
    return v


def check_event(
    offset: object, kind: str | int, channel: object, a: object, b: object = 0,
    *, frames: int | None = None,
) -> Event:
    """Validate one raw event and return it as an :class:`Event` (raises ``ValueError``)."""
    code = kind_code(kind)
    off = _check_int("offset", offset, 0, (frames - 1) if frames else 2**62)
    ch = _check_int("channel", channel, 0, 15)
    if code in (NOTE_ON, NOTE_OFF):
        pitch = _check_int("pitch", a, 0, 127)
        vel = validate_velocity(b) if code == NOTE_ON else 0
        if code == NOTE_ON and vel == 0:
            code = NOTE_OFF  # MIDI convention: note_on with velocity 0 is a note_off
        return Event(off, code, ch, pitch, vel)
    if code == CONTROL:
        return Event(off, code, ch, _check_int("controller", a, 0, 127),
                     _check_int("control value", b, 0, 127))
    if code == PROGRAM:
        return Event(off, code, ch, _check_int("program", a, 0, 127), 0)
    return Event(off, code, ch, _check_int("pitch bend", a, -8192, 8191), 0)


def _fast_event(ev: Sequence[object], frames: int) -> Event | None:
    """The common case checked inline: a 5-tuple of plain ints with a kind name.

    Why: a dense offline render validates thousands of events; anything unusual
    (other types, out-of-range values, MIDI status kinds) returns None and takes
    :func:`check_event`, which gives the same result or raises.
    """
    if type(ev) is not tuple or len(ev) != 5:
        return None
    off, kind, ch, a, b = ev
    if (type(off) is not int or type(ch) is not int or type(a) is not int
            or type(b) is not int or type(kind) is not str):
        return None
    code = KIND_NAMES.get(kind)
    if code is None or not (0 <= off < frames and 0 <= ch <= 15):
        return None
    if code in (NOTE_ON, NOTE_OFF):
        if not (0 <= a <= 127 and 0 <= b <= 127):
            return None
        if code == NOTE_OFF or b == 0:
            return Event(off, NOTE_OFF, ch, a, 0)
        return Event(off, NOTE_ON, ch, a, b)
    if code == CONTROL:
        return Event(off, code, ch, a, b) if 0 <= a <= 127 and 0 <= b <= 127 else None
    if code == PROGRAM:
        return Event(off, code, ch, a, 0) if 0 <= a <= 127 else None
    return Event(off, code, ch, a, 0) if -8192 <= a <= 8191 else None


def check_events(events: Iterable[Sequence[object]], frames: int) -> list[Event]:
    """Validate a block's events (all or nothing) and sort them stably by offset."""
    out = []
    sort = False
    last = 0
    for ev in events:
        fast = _fast_event(ev, frames) if frames else None
        if fast is not None:
            out.append(fast)
            if fast.offset < last:
                sort = True
            last = fast.offset
            continue
        sort = True
        if len(ev) < 4:
            raise ValueError(f"event {ev!r} needs (offset, kind, channel, a[, b])")
        b = ev[4] if len(ev) > 4 else 0
        kind = ev[1]
        if not isinstance(kind, str | int | np.integer):
            raise ValueError(f"unknown event kind {kind!r}")
        out.append(check_event(ev[0], int(kind) if not isinstance(kind, str) else kind,
                               ev[2], ev[3], b, frames=frames))
    if sort:  # stable: events at one offset keep their order
        out.sort(key=lambda e: e.offset)
    return out
