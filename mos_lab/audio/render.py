"""Offline rendering: absolute-frame events -> a stereo numpy array, faster than real time.

The engine uses the same ``Synth.process`` path offline and in real time; this helper
just slices the event list into blocks and places each event at its offset.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from mos_lab.audio.synth import Synth

Emit = Callable[[str, Mapping[str, object]], None]


def _frame(value: object) -> int:
    if isinstance(value, int | np.integer):
        return int(value)
    raise ValueError(f"event frame must be an integer, got {value!r}")


def render_offline(events: Iterable[Sequence[object]], total_frames: int,
                   sample_rate: int = 48000, synth: Synth | None = None, *, block: int = 512,
                   emit: Emit | None = None) -> np.ndarray:
    """Render ``(frame, kind, channel, a, b)`` events into ``(total_frames, 2)`` float32.

    Events at or after ``total_frames`` are ignored. A fresh :class:`Synth` is made when
    none is given; a given synth is prepared for ``sample_rate`` only if it differs.
    ``emit("audio.render.progress", {"fraction": f})`` is called about every second.
    """
    if total_frames < 0:
        raise ValueError("total_frames must be >= 0")
    if synth is None:
        synth = Synth(sample_rate=sample_rate, max_block=block)
    elif synth.sample_rate != sample_rate or synth.max_block < block:
        synth.prepare(sample_rate, max(block, synth.max_block))
    evs = sorted((tuple(e) for e in events), key=lambda e: _frame(e[0]))
    frames = [_frame(e[0]) for e in evs]
    out = np.zeros((int(total_frames), 2), dtype=np.float32)
    every = max(1, sample_rate // block)
    i = 0
    for k, pos in enumerate(range(0, int(total_frames), block)):
        end = min(pos + block, int(total_frames))
        j = bisect_left(frames, end, lo=i)
        blk = [(frames[m] - pos, *evs[m][1:]) for m in range(i, j) if frames[m] >= pos]
        i = j
        synth.process(out[pos:end], blk)
        if emit is not None and k % every == 0:
            emit("audio.render.progress", {"fraction": end / max(1, total_frames)})
    if emit is not None:
        emit("audio.render.progress", {"fraction": 1.0})
    return out
