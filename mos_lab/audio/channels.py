"""Per-channel MIDI state (program, controllers, pitch bend) and its mixing gains."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from mos_lab.audio.events import CC_EXPRESSION, CC_PAN, CC_SUSTAIN, CC_VOLUME

# A channel's controllers at power-on, as FluidSynth's channel starts them (the sound
# controllers CC70-79 at 64, "no change"; every other controller 0).
DEFAULT_CONTROLS: dict[int, int] = {CC_VOLUME: 100, CC_PAN: 64, CC_EXPRESSION: 127,
                                    CC_SUSTAIN: 0, **{c: 64 for c in range(70, 80)}}
# What Reset All Controllers (CC121) leaves alone, as FluidSynth: bank select, volume,
# balance, pan (MSB and LSB), the sound controllers CC70-79 and effect depths CC91-95.
_KEEP_ON_RESET = frozenset({0, 32, 7, 39, 8, 40, 10, 42, *range(70, 80), *range(91, 96)})
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

    @property
    def pan(self) -> float:
        """CC10 as a -1..1 pan offset: (cc - 64) / 64, FluidSynth's bipolar mapping of
        the default pan modulator (127 is 63/64 of the way right, 0 hard left)."""
        return (self.controls.get(CC_PAN, 64) - 64) / 64.0

    @property
    def wheel(self) -> tuple[float, float]:
        """(pitch wheel as 0..1, 0.5 at rest; sensitivity in semitones): what the
        SoundFont modulators read of the wheel."""
        return (self.pitch_bend + 8192) / 16384.0, self.bend_range

    def pan_gains(self, voice_pan: float) -> tuple[float, float]:
        """Equal-power left/right gains (1, 1 at centre) for channel pan + voice pan."""
        p = self.pan + voice_pan
        p = min(1.0, max(-1.0, p))
        angle = (p + 1.0) * math.pi / 4.0
        return math.cos(angle) * math.sqrt(2.0), math.sin(angle) * math.sqrt(2.0)

    def reset_controllers(self) -> None:
        """CC121 as FluidSynth plays it: every controller below 120 to 0 except bank,
        volume, balance, pan, CC70-79 and CC91-95; expression 127, no RPN or NRPN
        selected, the wheel centred (its sensitivity and the program stay, RP-015)."""
        self.pitch_bend = 0
        for num in list(self.controls):
            if num < 120 and num not in _KEEP_ON_RESET:
                self.controls[num] = 0
        self.controls[CC_EXPRESSION] = 127
        self.controls[CC_SUSTAIN] = 0
        self.controls[CC_RPN_MSB] = self.controls[CC_RPN_LSB] = 127
        self.controls[CC_NRPN_MSB] = self.controls[CC_NRPN_LSB] = 127
        self.nrpn = False

    def snapshot(self) -> dict[str, object]:
        return {"program": self.program, "controls": dict(self.controls),
                "pitch_bend": self.pitch_bend}

    def restore(self, program: int | None, controls: Mapping[int, int] | None,
                pitch_bend: int | None) -> None:
        """Set the program, controllers and bend a seek found in force. ``controls`` are
        applied in their order (give them in the order they were last set): RPN and
        NRPN selections and data entries replay as they were played, so a data entry
        after an NRPN selection leaves the pitch-wheel sensitivity alone."""
        if program is not None:
            self.program = program
        if controls is not None:
            for num, value in controls.items():
                self.set_control(num, value)
                if num in (CC_DATA_MSB, CC_DATA_LSB):
                    self.data_entry(num, value)
        if pitch_bend is not None:
            self.pitch_bend = pitch_bend
