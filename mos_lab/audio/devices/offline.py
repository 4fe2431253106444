"""OfflineOutput: render a source into numpy as fast as the CPU allows, write WAV/FLAC."""

from __future__ import annotations

import os

import numpy as np

from mos_lab.audio.devices.base import Output, OutputError, Source


class OfflineOutput(Output):
    """Pulls ``source`` block by block (no threads); the clock is frames rendered."""

    def __init__(self, sample_rate: int = 48000, block: int = 512, *,
                 source: Source | None = None) -> None:
        super().__init__(sample_rate, block, source=None, lookahead_s=0.0)
        self.offline_source = source
        self.chunks: list[np.ndarray] = []

    def _open(self) -> None:
        self._state = "running"

    def _close_device(self) -> None:
        pass

    def render(self, frames: int) -> np.ndarray:
        """Render ``frames`` more frames, keep them, and return them (float32, (n, 2))."""
        if self.offline_source is None:
            raise OutputError("OfflineOutput has no source to render")
        if self.state != "running":
            self.start()
        out = np.zeros((int(frames), 2), dtype=np.float32)
        for pos in range(0, len(out), self.block):
            blk = out[pos:pos + self.block]
            self.offline_source(blk)
        self.frames_played += len(out)
        self.device_frames += len(out)
        self.chunks.append(out)
        return out

    @property
    def audio(self) -> np.ndarray:
        """Everything rendered so far as one (frames, 2) float32 array."""
        if not self.chunks:
            return np.zeros((0, 2), dtype=np.float32)
        if len(self.chunks) > 1:
            self.chunks = [np.concatenate(self.chunks)]
        return self.chunks[0]

    def write(self, path: str | os.PathLike[str], data: np.ndarray | None = None, *,
              subtype: str | None = None) -> None:
        """Write WAV/FLAC/OGG (by extension) with soundfile."""
        write_audio(path, self.audio if data is None else data, self.sample_rate,
                    subtype=subtype)


def write_audio(path: str | os.PathLike[str], data: np.ndarray, sample_rate: int, *,
                subtype: str | None = None) -> None:
    """Write ``data`` (frames, channels) with soundfile, imported lazily."""
    try:
        import soundfile as sf
    except (ImportError, OSError) as exc:
        raise OutputError(
            f"writing audio files needs soundfile (pip install 'mos_lab[audio]'): {exc}"
        ) from exc
    sf.write(os.fspath(path), data, int(sample_rate), subtype=subtype)
