"""SoundDeviceOutput: real-time playback through PortAudio (``sounddevice``, lazy import).

The PortAudio callback only copies from the ring buffer and counts underruns; all
synthesis happens in the render thread, so a busy Python thread costs latency, not
glitches, as long as the lookahead covers the stall. Because the PortAudio callback and
the render thread both need the GIL, a pure-Python busy thread starves them at CPython's
default 5 ms switch interval (measured on JACK dummy, 256 frames: 175 underruns and 269
xruns in 8 s); while a stream runs, the interval is lowered to ``switch_interval``
(default 0.5 ms: with a dense score and a busy thread, 1 ms still gave 31 underruns in
20 s, 0.5 ms none) and restored when it stops. While the engine is idle the stream is
stopped (parked: no callback, the interval restored) and started again by ``wake()``.
"""

from __future__ import annotations

import sys
from typing import Any

from mos_lab.audio.devices.base import Output, OutputError, Source


def import_sounddevice() -> Any:
    """Import ``sounddevice`` or raise an :class:`OutputError` that says what to install."""
    try:
        import sounddevice
    except OSError as exc:  # PortAudio shared library missing
        raise OutputError(
            f"PortAudio library not found (apt-get install libportaudio2): {exc}") from exc
    except ImportError as exc:
        raise OutputError(
            f"sounddevice is not installed (pip install 'mos_lab[audio]'): {exc}") from exc
    return sounddevice


class SoundDeviceOutput(Output):
    """Plays the ring buffer on a PortAudio device (``device``: index or name)."""

    can_park = True

    def __init__(self, sample_rate: int = 48000, block: int = 256, *,
                 source: Source | None = None, lookahead_s: float = 0.1,
                 device: int | str | None = None, latency: float | str = "low",
                 switch_interval: float | None = 0.0005) -> None:
        super().__init__(sample_rate, block, source=source, lookahead_s=lookahead_s)
        self.device = device
        self.switch_interval = switch_interval
        self._saved_interval: float | None = None
        self.latency = latency
        self.xruns = 0  # underflows PortAudio itself reported
        self._stream: Any = None

    def _open(self) -> None:
        sd = import_sounddevice()
        try:
            devices = sd.query_devices()
        except Exception as exc:
            raise OutputError(f"cannot list audio devices: {exc}") from exc
        if not any(d.get("max_output_channels", 0) > 0 for d in devices):
            raise OutputError("no audio output device found")
        self._stream = sd.OutputStream(
            samplerate=self.sample_rate, blocksize=self.block, device=self.device,
            channels=2, dtype="float32", latency=self.latency, callback=self._callback)
        self._stream.start()
        self._lower_interval()

    def _lower_interval(self) -> None:
        if self.switch_interval is not None and sys.getswitchinterval() > self.switch_interval:
            self._saved_interval = sys.getswitchinterval()
            sys.setswitchinterval(self.switch_interval)

    def _restore_interval(self) -> None:
        if self._saved_interval is not None:
            if sys.getswitchinterval() == self.switch_interval:
                sys.setswitchinterval(self._saved_interval)
            self._saved_interval = None

    def _park_device(self) -> None:
        """Idle: stop the stream (kept open, so restarting is quick) and the fast switching."""
        if self._stream is not None:
            self._stream.stop()
        self._restore_interval()

    def _unpark_device(self) -> None:
        if self._stream is None:
            self._open()
            return
        self._stream.start()
        self._lower_interval()

    def _callback(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        if status.output_underflow:
            self.xruns += 1
        self._consume(outdata)

    def _close_device(self) -> None:
        stream, self._stream = self._stream, None
        self._restore_interval()
        if stream is not None:
            try:
                stream.stop()
            finally:
                stream.close()

    @staticmethod
    def devices() -> list[dict[str, Any]]:
        """Output devices PortAudio knows (raises ``OutputError`` if it is missing)."""
        sd = import_sounddevice()
        return [dict(d) for d in sd.query_devices() if d["max_output_channels"] > 0]
