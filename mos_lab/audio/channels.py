"""Per-channel MIDI state (program, controllers, pitch bend) and its mixing gains."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from mos_lab.audio.events import CC_EXPRESSION, CC_PAN, CC_SUSTAIN, CC_VOLUME

DEFAULT_CONTROLS: dict[int, int] = {CC_VOLUME: 100, CC_PAN: 64, CC_EXPRESSION: 127,
                                    CC_SUSTAIN: 0}
BEND_RANGE_SEMIS = 2.0  # GM default pitch-wheel sensitivity (RPN 0,0), semitones
CC_DATA_MSB, CC_DATA_LSB, CC_RPN_LSB, CC_RPN_MSB = 6, 38, 100, 101
CC_NRPN_LSB, CC_NRPN_MSB = 98, 99


@dataclass
class ChannelState:
    """Program, controller values (0..127) and pitch bend (-8192..8191) of a channel."""

    program: int = 0
    controls: dict[int, int] = field(default_factory=lambda: dict(DEFAULT_CONTROLS))
    pitch_bend: int = 0
    bend_range: float = BEND_RANGE_SEMIS  # pitch-wheel sensitivity (RPN 0,0), semitones
    nrpn: bool = False  # CC99/98 came after CC101/100: data entry goes to that NRPN

    def set_control(self, num: int, value: int) -> None:
        """Store a controller's value; CC99/98 select an NRPN and CC101/100 an RPN for
        the data entries that follow (the last selection wins, as FluidSynth keeps it)."""
        self.controls[num] = value
        if num in (CC_NRPN_LSB, CC_NRPN_MSB):
            self.nrpn = True
        elif num in (CC_RPN_LSB, CC_RPN_MSB):
            self.nrpn = False

    @property
    def rpn(self) -> tuple[int, int]:
        """The registered parameter selected by CC101/CC100 ((127, 127): none)."""
        return self.controls.get(CC_RPN_MSB, 127), self.controls.get(CC_RPN_LSB, 127)

    def data_entry(self, num: int, value: int) -> bool:
        """CC6 (data entry MSB) or CC38 (LSB) for the selected RPN; True when it changed
        the pitch-wheel sensitivity (RPN 0,0: MSB semitones, LSB cents; an MSB alone
        sets whole semitones, as GM's RP-018 sends it). An NRPN selected since (a GS/XG
        one: none is played) takes the entry, and the range stays."""
        if self.nrpn or self.rpn != (0, 0) or num not in (CC_DATA_MSB, CC_DATA_LSB):
            return False
        if num == CC_DATA_MSB:
            self.controls[CC_DATA_LSB] = 0
            self.bend_range = float(value)
        else:
            self.bend_range = self.controls.get(CC_DATA_MSB, int(self.bend_range)) \
                + value / 100.0
        return True

    @property
    def sustain(self) -> bool:
        return self.controls.get(CC_SUSTAIN, 0) >= 64

    @property
    def bend_ratio(self) -> float:
        """Frequency multiplier of the current pitch bend (+- ``bend_range`` semitones)."""
        if self.pitch_bend == 0:
            return 1.0
        return 2.0 ** (self.pitch_bend / 8192.0 * self.bend_range / 12.0)

    @property
    def level(self) -> float:
        """Volume x expression on the GM 40*log10 curve (squared amplitude)."""
        vol = self.controls.get(CC_VOLUME, 100) / 127.0
        expr = self.controls.get(CC_EXPRESSION, 127) / 127.0
        return (vol * expr) ** 2

    def pan_gains(self, voice_pan: float) -> tuple[float, float]:
        """Equal-power left/right gains (1, 1 at centre) for channel pan + voice pan."""
        p = (self.controls.get(CC_PAN, 64) - 64) / 63.0 + voice_pan
        p = min(1.0, max(-1.0, p))
        angle = (p + 1.0) * math.pi / 4.0
        return math.cos(angle) * math.sqrt(2.0), math.sin(angle) * math.sqrt(2.0)

    def reset_controllers(self) -> None:
        """CC121: bend, expression and sustain to defaults, no RPN selected (volume, pan
        and the pitch-wheel sensitivity stay, RP-015)."""
        self.pitch_bend = 0
        self.controls[CC_EXPRESSION] = 127
        self.controls[CC_SUSTAIN] = 0
        self.controls[CC_RPN_MSB] = self.controls[CC_RPN_LSB] = 127
        self.nrpn = False

    def snapshot(self) -> dict[str, object]:
        return {"program": self.program, "controls": dict(self.controls),
                "pitch_bend": self.pitch_bend}

    def restore(self, program: int | None, controls: Mapping[int, int] | None,
                pitch_bend: int | None) -> None:
        if program is not None:
            self.program = program
        if controls is not None:
            self.controls.update(controls)
            if self.rpn == (0, 0) and CC_DATA_MSB in controls:  # the last data entry
                self.bend_range = controls[CC_DATA_MSB] + controls.get(CC_DATA_LSB, 0) / 100.0
        if pitch_bend is not None:
            self.pitch_bend = pitch_bend
