"""Closed-form ADSR envelope: the voice's release bookkeeping and a numpy reference.

Every stage is a formula of the time since note-on (or since release). The synth's
kernel (``kernels._env``) renders the same formulas per sample; this class computes the
level where a release starts (note-off, release-all, stealing and timeouts all go
through the same ``release`` call, APO-03) and renders one voice for tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mos_lab.audio.dsp import frames_ramp
from mos_lab.audio.kernels import LN1000 as _LN
from mos_lab.audio.kernels import SILENT


@dataclass(frozen=True)
class ADSR:
    """Envelope shape in seconds; ``sustain`` is a level 0..1 (0 = percussive)."""

    attack: float = 0.005
    hold: float = 0.0
    decay: float = 1.0
    sustain: float = 1.0
    release: float = 0.2


_PARAMS: dict[int, tuple[ADSR, float, float, float, float, float, int]] = {}


class Envelope:
    """Per-voice envelope state: samples since on, and release start/level/length."""

    __slots__ = ("_a", "_d_k", "_h", "_s", "default_release", "rel_k", "rel_len",
                 "rel_level", "rel_start", "t")

    def __init__(self, shape: ADSR, sample_rate: float) -> None:
        # Derived once per shape and rate (a note start is hot). Keyed by identity (a
        # dataclass hash costs more than the arithmetic); the entry keeps its shape, so
        # an id is never reused while its entry stands.
        got = _PARAMS.get(id(shape))
        if got is None or got[0] is not shape or got[1] != sample_rate:
            got = (shape, sample_rate, max(1.0, shape.attack * sample_rate),
                   max(0.0, shape.hold * sample_rate),
                   _LN / max(1.0, shape.decay * sample_rate),
                   float(min(1.0, max(0.0, shape.sustain))),
                   max(1, round(shape.release * sample_rate)))
            if len(_PARAMS) >= 4096:
                _PARAMS.clear()
            _PARAMS[id(shape)] = got
        _, _, self._a, self._h, self._d_k, self._s, self.default_release = got
        self.t = 0  # samples since note-on
        self.rel_start = -1  # self.t at which release began (-1: held)
        self.rel_level = 0.0
        self.rel_len = 0
        self.rel_k = 0.0

    @property
    def released(self) -> bool:
        return self.rel_start >= 0

    def _held(self, t: np.ndarray) -> np.ndarray:
        att = np.minimum(1.0, (t + 1.0) / self._a)
        dt = np.maximum(0.0, t - self._a - self._h)
        dec = self._s + (1.0 - self._s) * np.exp(-self._d_k * dt)
        return np.where(t < self._a, att, dec)

    def level(self) -> float:
        """Envelope value at the next sample to render (scalar closed form)."""
        t = self.t
        if self.released:
            g = (math.exp(-self.rel_k * (t - self.rel_start)) - 0.001) * (self.rel_level / 0.999)
            return g if g > 0.0 else 0.0
        if t < self._a:
            return min(1.0, (t + 1.0) / self._a)
        dt = t - self._a - self._h
        if dt <= 0.0 or self._s == 1.0:
            return 1.0
        return self._s + (1.0 - self._s) * math.exp(-self._d_k * dt)

    def release(self, frames: int | None = None) -> None:
        """Start the release now; ``frames`` overrides the length (note stealing)."""
        if self.released and frames is None:
            return
        n = self.default_release if frames is None else max(1, int(frames))
        lvl = self.level()
        if self.released and lvl <= 0.0:
            return
        self.rel_level = lvl
        self.rel_start = self.t
        self.rel_len = n
        self.rel_k = _LN / n

    def render(self, n: int, *, advance: bool = True) -> np.ndarray | float:
        """Return ``n`` envelope samples (float64 array, or a float when constant)."""
        t0 = self.t
        if advance:
            self.t += n
        if self.released:
            tr = (t0 - self.rel_start) + frames_ramp(n)
            g = np.exp(-self.rel_k * tr)
            g -= 0.001
            g *= self.rel_level / 0.999
            return np.maximum(g, 0.0, out=g)
        if t0 + n <= self._a:  # wholly in the attack
            return (t0 + 1.0 + frames_ramp(n)) / self._a
        if t0 >= self._a:  # past the attack: hold/decay/sustain only
            if self._s == 1.0:
                return 1.0
            dt = np.maximum(0.0, (t0 - self._a - self._h) + frames_ramp(n))
            d = np.exp(-self._d_k * dt)
            d *= 1.0 - self._s
            d += self._s
            return d
        return self._held(t0 + frames_ramp(n))

    @property
    def finished(self) -> bool:
        """True once the release (or a percussive decay) has reached silence."""
        if self.released:
            return self.t - self.rel_start >= self.rel_len
        if self._s == 0.0 and self.t > self._a + self._h:
            dt = self.t - self._a - self._h
            return math.exp(-self._d_k * dt) < SILENT
        return False
