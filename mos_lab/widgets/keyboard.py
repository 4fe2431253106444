"""Keyboard: an on-screen piano that plays the current instrument and lights up notes.

A click (or the computer keys A W S E D F T G Y H U J K, Z/X for octaves) sends a
validated ``note_on``/``note_off`` to the kernel, which plays it through the engine now.
During playback the page lights the keys that sound at its own playhead (from the score's
notes, sent once while visible); notes played live from any source (this keyboard, MIDI
in, a plugin) arrive as bus events and light up too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

import traitlets as t

from mos_lab.bus import Event
from mos_lab.score import Score
from mos_lab.theater.roll import pitch_range
from mos_lab.widgets._base import AUTO, MosWidget
from mos_lab.widgets._context import SessionLike
from mos_lab.widgets._messages import Arg, Spec
from mos_lab.widgets._notes import PALETTE, pack_notes


class Keyboard(MosWidget):
    """A piano keyboard bound to the session's engine (plays on ``channel``)."""

    _esm_name = "keyboard.js"
    _commands: ClassVar[dict[str, Spec]] = {
        "note_on": {"pitch": Arg(int, 0, 127), "velocity": Arg(int, 1, 127, optional=True,
                                                               default=100)},
        "note_off": {"pitch": Arg(int, 0, 127)},
    }

    low = t.Int(36).tag(sync=True)
    high = t.Int(96).tag(sync=True)
    channel = t.Int(0).tag(sync=True)
    notes = t.Bytes(b"").tag(sync=True)
    colors = t.List(t.Unicode(), default_value=PALETTE).tag(sync=True)
    live = t.List(t.Int()).tag(sync=True)

    def __init__(self, score: Score | None = None, *, low: int | None = None,
                 high: int | None = None, channel: int = 0,
                 colors: Sequence[str] | None = None, session: SessionLike | None = None,
                 key: str | None = AUTO) -> None:
        """A keyboard that plays on ``channel`` and lights the notes of ``score``.

        Parameters
        ----------
        score
            The score whose sounding notes light up; ``None`` follows the session's.
        low, high
            Lowest and highest MIDI pitch shown (``high >= low + 12``); by default the
            range fits the score, at least C2..C7.
        channel
            MIDI channel (0-15) the keys play on and whose live notes light up.
        colors
            CSS colours of the tracks, in track order (default: the widgets' palette).
        session
            The session whose engine plays the keys (default: the kernel's session).
        key
            Registry key; ``"auto"`` keys it by notebook cell. ``None``: not keyed.
        """
        if not 0 <= channel <= 15:
            raise ValueError(f"channel: {channel} is not in 0..15")
        self._fixed_range = low is not None or high is not None
        traits: dict[str, Any] = {"channel": channel}
        if low is not None:
            traits["low"] = low
        if high is not None:
            traits["high"] = high
        if colors is not None:
            traits["colors"] = list(colors)
        super().__init__(score, session=session, key=key, **traits)
        self.played: deque[tuple[str, int]] = deque(maxlen=1000)  # what the kernel received
        self._held: set[int] = set()
        self.life.subscribe(self.session.bus, "note_on", self._on_note)
        self.life.subscribe(self.session.bus, "note_off", self._on_note)

    @t.validate("high")
    def _valid_high(self, proposal: Any) -> int:
        v = int(proposal["value"])
        if not (self.low + 12 <= v <= 127):
            raise t.TraitError(f"high: {v} must be in low+12..127")
        return v

    def _payload(self) -> dict[str, Any]:
        sc = self.current_score
        out: dict[str, Any] = {"notes": pack_notes(sc)}
        if sc is not None and sc.n_notes and not self._fixed_range:
            lo, hi = pitch_range(sc, minimum=1, pad=0)  # the notes' own span: whole octaves
            low = min(36, lo - lo % 12)
            out.update(low=low, high=max(96, hi + (11 - hi % 12), low + 12))
        return out

    def _on_note(self, ev: Event) -> None:
        if self._closed or ev.frame is not None or ev.get("channel") != self.channel:
            return  # playback notes (stamped with their frame) are lit by the page itself
        with self._lock:
            (self._held.add if ev.type == "note_on" else self._held.discard)(ev["pitch"])
            self.live = sorted(self._held)

    # -- commands ----------------------------------------------------------------------
    def _cmd_note_on(self, pitch: int, velocity: int) -> None:
        self.played.append(("note_on", pitch))
        self.session.engine.note_on(pitch, velocity, self.channel)

    def _cmd_note_off(self, pitch: int) -> None:
        self.played.append(("note_off", pitch))
        self.session.engine.note_off(pitch, self.channel)
