"""Single-producer/single-consumer ring buffer of stereo float32 frames.

The producer (render thread) only advances ``_w`` and the consumer (device callback)
only advances ``_r``, each after its copy is done; both are monotonic Python ints, whose
assignment is atomic under the GIL, so no lock is taken on the audio path. Copies go
through a small numba kernel that keeps the GIL (numpy would release and re-take it for
every copy of over 500 values, which costs up to a switch interval next to a busy thread).
"""

from __future__ import annotations

import numpy as np

from mos_lab.audio import kernels


def _plain(a: np.ndarray) -> bool:
    """True for what the copy kernel is compiled for: writable C-contiguous float32 2-D."""
    return (a.dtype == np.float32 and a.ndim == 2 and a.flags.c_contiguous
            and a.flags.writeable)


def _copy(dst: np.ndarray, d0: int, src: np.ndarray, s0: int, n: int) -> None:
    if kernels.ready() and _plain(dst) and _plain(src) and dst.shape[1] == src.shape[1]:
        kernels.copy_frames(dst, d0, src, s0, n)
    else:
        dst[d0:d0 + n] = src[s0:s0 + n]


class RingBuffer:
    """Fixed-capacity FIFO of ``(frames, channels)`` float32 audio."""

    def __init__(self, capacity: int, channels: int = 2) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = int(capacity)
        self.channels = int(channels)
        self._buf = np.zeros((self.capacity, self.channels), dtype=np.float32)
        self._w = 0  # total frames written (producer-owned)
        self._r = 0  # total frames read (consumer-owned)

    @property
    def available(self) -> int:
        """Frames ready to read."""
        return self._w - self._r

    @property
    def space(self) -> int:
        """Frames that can be written without overwriting unread audio."""
        return self.capacity - (self._w - self._r)

    @property
    def frames_written(self) -> int:
        return self._w

    @property
    def frames_read(self) -> int:
        return self._r

    def write(self, block: np.ndarray) -> int:
        """Copy as much of ``block`` as fits; return the frames written."""
        n = min(len(block), self.space)
        if n <= 0:
            return 0
        start = self._w % self.capacity
        first = min(n, self.capacity - start)
        _copy(self._buf, start, block, 0, first)
        if n > first:
            _copy(self._buf, 0, block, first, n - first)
        self._w += n
        return n

    def read(self, out: np.ndarray) -> int:
        """Fill ``out`` from the buffer; frames beyond what is available are zeroed."""
        n = min(len(out), self.available)
        if n > 0:
            start = self._r % self.capacity
            first = min(n, self.capacity - start)
            _copy(out, 0, self._buf, start, first)
            if n > first:
                _copy(out, first, self._buf, 0, n - first)
            self._r += n
        if n < len(out):
            if kernels.ready() and _plain(out):
                kernels.zero_frames(out, n, len(out) - n)
            else:
                out[n:] = 0.0
        return n

    def skip_to(self, index: int) -> int:
        """Consumer side: drop unread frames before ring frame ``index``; return the count."""
        n = max(0, min(index, self._w) - self._r)
        self._r += n
        return n

    def discard(self) -> int:
        """Consumer side: drop everything unread (e.g. after a seek); return the count."""
        n = self._w - self._r
        self._r = self._w
        return n
