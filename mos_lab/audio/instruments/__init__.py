"""Instruments: built-in GM synth families, synthesised GM drum kit, SoundFont sampler."""

from mos_lab.audio.instruments.soundfont import SoundFontBank

__all__ = [
    "SoundFontBank",
]
