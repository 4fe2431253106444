"""Outputs ("sinks"): offline numpy/WAV, PortAudio device, browser worklet, null clock."""

from mos_lab.audio.devices.base import Output, OutputError
from mos_lab.audio.devices.browser import BrowserOutput
from mos_lab.audio.devices.null import NullOutput
from mos_lab.audio.devices.offline import write_audio
from mos_lab.audio.devices.sounddevice_out import SoundDeviceOutput

__all__ = [
    "BrowserOutput",
    "NullOutput",
    "Output",
    "OutputError",
    "SoundDeviceOutput",
    "write_audio",
]
