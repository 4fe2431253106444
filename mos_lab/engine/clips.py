"""Audio clips on the transport: sampled audio placed at a score time, heard and rendered
with the score.

Why in the engine: generated audio (MusicGen, a render of another take) must play in time
with the notes, follow seeks, loops and tempo changes of the transport, and be in the
offline render that exports the piece. A :class:`ClipLane` lays clips out in the frames of
one :class:`~mos_lab.engine.timeline.Timeline` (its start tick through the timeline's tempo
map; the audio itself plays at its own speed) and adds them into each rendered block after
the synth, so a block is the same whether rendered live, offline or after a seek.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mos_lab.score import Score
from mos_lab.score.tempo import TempoMap

MAX_CLIP_S = 3600.0  # one hour of stereo float32 at 48 kHz is 1.4 GB: longer is a mistake


@dataclass(frozen=True, eq=False)
class AudioClip:
    """Stereo float32 ``audio`` (frames, 2) at ``sample_rate``, starting at ``start``
    seconds of score time, scaled by ``gain``. Build with :meth:`make`, which checks it."""

    audio: np.ndarray = field(repr=False)
    sample_rate: int
    start: float = 0.0
    gain: float = 1.0
    name: str = ""

    @classmethod
    def make(cls, audio: np.ndarray, sample_rate: int, *, start: float = 0.0,
             gain: float = 1.0, name: str = "") -> AudioClip:
        """A clip from mono (frames,) or (frames, 1|2) audio; bad input raises ValueError
        naming the field."""
        a = np.asarray(audio)
        if a.dtype.kind not in "fiu":
            raise ValueError(f"clip audio: dtype {a.dtype} is not numeric samples")
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[1] not in (1, 2) or not len(a):
            raise ValueError(f"clip audio: shape {np.shape(audio)} is not (frames, 1 or 2)")
        if not isinstance(sample_rate, int | np.integer) or not 8000 <= sample_rate <= 192_000:
            raise ValueError(f"clip sample_rate: {sample_rate!r} is not in 8000..192000")
        if len(a) / sample_rate > MAX_CLIP_S:
            raise ValueError(f"clip audio: {len(a) / sample_rate:.0f} s is over {MAX_CLIP_S:.0f} s")
        if not (math.isfinite(start) and start >= 0):
            raise ValueError(f"clip start: {start!r} must be 0 or more seconds")
        if not (math.isfinite(gain) and 0 <= gain <= 16):
            raise ValueError(f"clip gain: {gain!r} is not in 0..16")
        x = a.astype(np.float32) if a.dtype.kind == "f" else (
            a / float(np.iinfo(a.dtype).max)).astype(np.float32)
        if not np.isfinite(x).all():
            raise ValueError("clip audio: has NaN or infinite samples")
        if x.shape[1] == 1:
            x = np.repeat(x, 2, axis=1)
        return cls(np.ascontiguousarray(x), int(sample_rate), float(start), float(gain), name)

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


def _resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Linear-interpolation resampling (clips are made at the engine rate; this is for
    the odd one that is not)."""
    if rate == target:
        return x
    n = max(1, round(len(x) * target / rate))
    t = np.arange(n) * (rate / target)
    src = np.arange(len(x))
    return np.ascontiguousarray(np.stack([np.interp(t, src, x[:, c]) for c in range(2)],
                                         axis=1), dtype=np.float32)


class ClipLane:
    """Clips at their frames in one timeline: ``mix(block, first_frame)`` adds them in."""

    def __init__(self, clips: Sequence[AudioClip], score: Score, tempo: TempoMap,
                 sample_rate: int) -> None:
        self.spans: list[tuple[int, np.ndarray, np.float32]] = []
        for c in clips:
            tick = score.tempo.seconds_to_ticks(c.start)
            first = round(float(tempo.ticks_to_seconds(float(tick))) * sample_rate)
            data = _resample(c.audio, c.sample_rate, sample_rate)
            self.spans.append((first, data, np.float32(c.gain)))
        self.end_frame = max((s + len(d) for s, d, _ in self.spans), default=0)

    def mix(self, out: np.ndarray, first: int) -> None:
        """Add every clip sounding in frames [first, first + len(out)) into ``out``, then
        keep it within full scale (the synth's limiter ran before the clips came in)."""
        end = first + len(out)
        touched = False
        for start, data, gain in self.spans:
            a, b = max(first, start), min(end, start + len(data))
            if a >= b:
                continue
            out[a - first : b - first] += data[a - start : b - start] * gain
            touched = True
        if touched:
            np.clip(out, -1.0, 1.0, out=out)
