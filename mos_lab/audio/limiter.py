"""Master bus safety: NaN scrub, a block limiter with smooth gain, and a soft clipper.

The output never holds NaN/inf and never exceeds full scale: the limiter pulls loud
blocks down to ``threshold`` (gain ramps over 64 samples, so no click) and the
soft clipper above ``knee`` bounds every sample strictly below 1.0.
"""

from __future__ import annotations

import math

import numpy as np


class Limiter:
    """Stateful stereo limiter for float64 blocks, writing float32 output."""

    def __init__(self, sample_rate: float, *, threshold: float = 0.9, knee: float = 0.8,
                 release_s: float = 0.25) -> None:
        self.threshold = threshold
        self.knee = knee
        self.release_s = release_s
        self.sample_rate = sample_rate
        self.gain = 1.0

    def reset(self) -> None:
        self.gain = 1.0

    def process(self, mix: np.ndarray, out: np.ndarray) -> None:
        """Limit ``mix`` (frames, 2) float64 in place and write it into ``out``."""
        n = mix.shape[0]
        if n == 0:
            return
        # Few numpy calls on the common path (quiet, finite): peak, copy out.
        peak = float(np.abs(mix).max())
        if not math.isfinite(peak):
            np.nan_to_num(mix, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
            peak = float(np.abs(mix).max())
        target = 1.0 if peak <= self.threshold else self.threshold / peak
        if target < self.gain:
            new = target
        else:
            rel = 1.0 - math.exp(-n / (self.release_s * self.sample_rate))
            new = min(target, self.gain + (1.0 - self.gain) * rel)
        if new != 1.0 or self.gain != 1.0:
            g = np.full(n, new)
            ramp = min(n, 64)
            g[:ramp] = np.linspace(self.gain, new, ramp, endpoint=False) if ramp > 1 else new
            mix *= g[:, None]
            # Every gain is <= max(old, new): re-measure only if the bound passes the knee.
            peak *= max(self.gain, new)
            if peak > self.knee:
                peak = float(np.abs(mix).max())
        self.gain = new
        k = self.knee
        if peak > k:
            a = np.abs(mix)
            over = a > k
            soft = k + (1.0 - k) * np.tanh((a - k) / (1.0 - k))
            np.copyto(mix, np.sign(mix) * soft, where=over)
            out[:n] = mix
            np.clip(out[:n], -1.0, 1.0, out=out[:n])
        else:
            out[:n] = mix  # every sample is within the knee (< 1.0): no clip needed
