"""Instruments: built-in GM synth families, synthesised GM drum kit, SoundFont sampler."""

from mos_lab.audio.instruments.base import Instrument, InstrumentBank, NoteSpec, Source
from mos_lab.audio.instruments.builtin import FAMILY_NAMES, BuiltinBank, Patch, SynthInstrument
from mos_lab.audio.instruments.drums import DrumKit
from mos_lab.audio.instruments.sf2 import SF2Error, SF2File
from mos_lab.audio.instruments.soundfont import SoundFontBank, SoundFontInstrument

__all__ = ["FAMILY_NAMES", "BuiltinBank", "DrumKit", "Instrument", "InstrumentBank",
           "NoteSpec", "Patch", "SF2Error", "SF2File", "SoundFontBank", "SoundFontInstrument",
           "Source", "SynthInstrument"]
