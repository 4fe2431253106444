"""MIDI ports: the engine's notes out to a mido port, and a MIDI keyboard in.

Out mirrors what is heard (it listens to the bus's note events, which the audio clock
releases); in plays the current instrument live and publishes on the bus. Ports are any
mido port objects (rtmidi on ALSA or JACK, or a fake in tests) or names to open.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

import mido

from mos_lab.bus import EventBus

log = logging.getLogger(__name__)


class _Synth(Protocol):
    def send(self, kind: str, channel: int, a: int, b: int) -> None: ...


class Player(Protocol):
    """What a port needs from the engine (``Engine`` is one; the ports never import it)."""

    @property
    def bus(self) -> EventBus: ...

    @property
    def synth(self) -> _Synth: ...

    def note_on(self, pitch: int, velocity: int = 100, channel: int = 0) -> None: ...

    def note_off(self, pitch: int, channel: int = 0) -> None: ...


def _open(port: Any, direction: str) -> tuple[Any, bool]:
    if isinstance(port, str):
        opener = mido.open_output if direction == "out" else mido.open_input
        return opener(port), True
    return port, False


class MidiOut:
    """Sends the engine's heard note events to a MIDI output port until closed."""

    def __init__(self, engine: Player, port: Any) -> None:
        self.port, self._owns = _open(port, "out")
        self.engine = engine
        self.sent = 0
        self._lock = threading.Lock()
        engine.bus.subscribe("note_on", self._on, owner=self)
        engine.bus.subscribe("note_off", self._on, owner=self)

    def _on(self, ev: Any) -> None:
        if ev.type == "note_on":
            msg = mido.Message("note_on", note=ev["pitch"], velocity=ev["velocity"],
                               channel=ev["channel"])
        else:
            msg = mido.Message("note_off", note=ev["pitch"], channel=ev["channel"])
        with self._lock:
            if not getattr(self.port, "closed", False):
                self.port.send(msg)
                self.sent += 1

    def close(self) -> None:
        """Unsubscribe, silence what this port may hold (all notes off), close if ours."""
        self.engine.bus.dispose_owner(self)
        with self._lock:
            if not getattr(self.port, "closed", False):
                for ch in range(16):
                    self.port.send(mido.Message("control_change", channel=ch, control=123))
                if self._owns:
                    self.port.close()


class MidiIn:
    """Plays incoming notes and controllers on the engine's synth, live, and on the bus."""

    def __init__(self, engine: Player, port: Any) -> None:
        self.port, self._owns = _open(port, "in")
        self.engine = engine
        self.received = 0
        self.rejected = 0
        self.port.callback = self._on

    def _on(self, msg: Any) -> None:
        """Runs on the port's thread; bad messages are counted and logged, never raised."""
        try:
            if msg.type == "note_on" and msg.velocity > 0:
                self.engine.note_on(msg.note, msg.velocity, msg.channel)
            elif msg.type in ("note_off", "note_on"):
                self.engine.note_off(msg.note, msg.channel)
            elif msg.type == "control_change":
                self.engine.synth.send("control", msg.channel, msg.control, msg.value)
                self.engine.bus.emit("control", number=msg.control, value=msg.value,
                                     channel=msg.channel)
            elif msg.type == "program_change":
                self.engine.synth.send("program", msg.channel, msg.program, 0)
                self.engine.bus.emit("program", program=msg.program, channel=msg.channel)
            elif msg.type == "pitchwheel":
                self.engine.synth.send("pitch_bend", msg.channel, msg.pitch, 0)
            else:
                return
            self.received += 1
        except (ValueError, TypeError) as exc:
            self.rejected += 1
            log.warning("MIDI in: %s rejected: %s", msg, exc)

    def close(self) -> None:
        self.port.callback = None
        if self._owns:
            self.port.close()
