"""Master bus safety: NaN scrub, a limiter with smooth gain, and a soft clipper.

The output never holds NaN/inf and never exceeds full scale: the limiter pulls loud
passages down to ``threshold`` (the gain glides there in ~``attack_s`` and back in
~``release_s``, so no click) and the soft clipper above ``knee`` bounds every sample
strictly below 1.0. The gain is decided sample by sample, so the result does not depend
on the block size (an offline render equals the real-time one). The work is done by
``kernels.limit`` (inside the synth's one kernel call per block); this class holds its
settings and state in the small array the kernel reads and updates.
"""

from __future__ import annotations

import numpy as np

from mos_lab.audio import kernels as K


class Limiter:
    """Stateful stereo limiter for float64 blocks, writing float32 output."""

    def __init__(self, sample_rate: float, *, threshold: float = 0.9, knee: float = 0.8,
                 release_s: float = 0.25, attack_s: float = 0.0005) -> None:
        self.threshold = threshold
        self.knee = knee
        self.release_s = release_s
        self.attack_s = attack_s
        self.sample_rate = sample_rate
        # [gain, threshold, knee, release frames, enabled, attack frames]: what the
        # kernel reads.
        self.state = np.array([1.0, threshold, knee, max(1.0, release_s * sample_rate), 1.0,
                               max(1.0, attack_s * sample_rate)])

    @property
    def gain(self) -> float:
        """The gain at the end of the last block."""
        return float(self.state[0])

    def reset(self) -> None:
        """Back to unity gain."""
        self.state[0] = 1.0

    def process(self, mix: np.ndarray, out: np.ndarray) -> None:
        """Limit ``mix`` (frames, 2) float64 in place and write it into ``out`` (float32)."""
        n = mix.shape[0]
        if n == 0:
            return
        planar = np.ascontiguousarray(mix.T)
        if out.dtype == np.float32 and out.flags.c_contiguous and out.ndim == 2:
            K.limit(planar, out, n, self.state)
        else:
            tmp = np.empty((n, 2), np.float32)
            K.limit(planar, tmp, n, self.state)
            out[:n] = tmp
        mix[:] = planar.T
