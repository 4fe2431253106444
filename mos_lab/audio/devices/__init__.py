"""Outputs ("sinks"): offline numpy/WAV, PortAudio device, browser worklet, null clock."""

from mos_lab.audio.devices.base import Output, OutputError, OutputState, Source
from mos_lab.audio.devices.browser import BrowserOutput
from mos_lab.audio.devices.null import NullOutput
from mos_lab.audio.devices.offline import OfflineOutput, write_audio
from mos_lab.audio.devices.ring import RingBuffer
from mos_lab.audio.devices.sounddevice_out import SoundDeviceOutput

__all__ = ["BrowserOutput", "NullOutput", "OfflineOutput", "Output", "OutputError", "OutputState",
           "RingBuffer", "SoundDeviceOutput", "Source", "write_audio"]
