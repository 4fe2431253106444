"""Synthesised General MIDI drum kit (channel 9): kicks, snares, hats, toms, cymbals.

Each sound is rendered once per sample rate into a one-shot sample (noise and pitched
sines with exponential envelopes) and then played like any sample, so a drum hit costs
the same as a sampled note. Hi-hats share a choke group (a closed hat stops an open one).
All of a kit's samples live in one buffer per sample rate (each note plays a slice),
so every drum voice reads one array (one of the kernel's few sample-data slots).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np

from mos_lab.audio.envelope import ADSR
from mos_lab.audio.instruments.base import NoteSpec, velocity_gain
from mos_lab.audio.instruments.sources import SampleSource

_DRUM_ENV = ADSR(attack=0.0005, decay=10.0, sustain=1.0, release=0.05)
HIHAT_GROUP = 1


def _t(sr: float, seconds: float) -> np.ndarray:
    return np.arange(int(sr * seconds)) / sr


def _sweep(sr: float, f0: float, f1: float, fall: float, decay: float, dur: float) -> np.ndarray:
    """Sine whose frequency falls from f0 to f1 (time constant ``fall``): kicks, toms."""
    t = _t(sr, dur)
    freq = f1 + (f0 - f1) * np.exp(-t / fall)
    phase = np.cumsum(freq) / sr
    return np.cos(2 * math.pi * phase) * np.exp(-t / decay)


def _noise(sr: float, decay: float, dur: float, seed: int, hp: int = 0) -> np.ndarray:
    """Exponentially decaying white noise; ``hp`` differences brighten it (hats)."""
    t = _t(sr, dur)
    x = np.random.default_rng(seed).standard_normal(len(t) + hp)
    for _ in range(hp):
        x = np.diff(x)
    return x / max(1.0, 2.0**hp * 0.7) * np.exp(-t / decay)


def _metal(sr: float, decay: float, dur: float, seed: int, base: float = 400.0) -> np.ndarray:
    """Cymbal: six inharmonic square-ish partials (the 808 recipe) plus bright noise."""
    t = _t(sr, dur)
    ratios = (2.0, 3.0, 4.16, 5.43, 6.79, 8.21)
    x = sum(np.sign(np.sin(2 * math.pi * base * r * t + k)) for k, r in enumerate(ratios))
    x = np.diff(np.concatenate([[0.0], np.asarray(x, dtype=np.float64)])) * 0.5
    return (x * 0.25 + _noise(sr, decay, dur, seed, hp=1) * 0.6) * np.exp(-t / decay)


def _sum(*parts: np.ndarray) -> np.ndarray:
    """Add signals of different lengths (zero-padded to the longest)."""
    out = np.zeros(max(len(p) for p in parts))
    for p in parts:
        out[: len(p)] += p
    return out


def _tone(sr: float, f: float, decay: float, dur: float) -> np.ndarray:
    t = _t(sr, dur)
    return np.cos(2 * math.pi * f * t) * np.exp(-t / decay)


Recipe = Callable[[float], np.ndarray]


def _conga(f: float) -> Recipe:
    return lambda sr: _sweep(sr, f * 1.2, f, 0.01, 0.12, 0.5)


def _shaker(seed: int) -> Recipe:
    return lambda sr: _noise(sr, 0.04, 0.2, seed, hp=1)


def _recipes() -> dict[int, tuple[Recipe, float, float]]:
    """Map GM drum key -> (render(sr), gain, pan)."""
    r: dict[int, tuple[Recipe, float, float]] = {}

    def kick(sr: float) -> np.ndarray:
        return _sum(_sweep(sr, 150, 48, 0.03, 0.25, 0.6), _noise(sr, 0.004, 0.02, 1) * 0.3)

    def snare(sr: float) -> np.ndarray:
        return _sweep(sr, 240, 180, 0.02, 0.08, 0.3) * 0.6 + _noise(sr, 0.07, 0.3, 2) * 0.8

    def clap(sr: float) -> np.ndarray:
        x = _noise(sr, 0.09, 0.3, 3, hp=1)
        t = _t(sr, 0.3)
        return x * (1 + 0.8 * (np.sin(2 * math.pi * 90 * t) > 0) * (t < 0.03))

    def tom(f: float) -> Recipe:
        return lambda sr: _sum(_sweep(sr, f * 1.6, f, 0.05, 0.25, 0.8),
                                _noise(sr, 0.01, 0.05, 4) * 0.2)

    r[35] = r[36] = (kick, 1.0, 0.0)
    r[37] = (lambda sr: _tone(sr, 1700, 0.01, 0.08) + _noise(sr, 0.006, 0.08, 5) * .5, .6, 0.)
    r[38] = r[40] = (snare, 0.8, 0.0)
    r[39] = (clap, 0.7, 0.0)
    for key, f, pan in ((41, 80, -0.4), (43, 100, -0.3), (45, 120, -0.1), (47, 140, 0.0),
                        (48, 165, 0.15), (50, 195, 0.3)):
        r[key] = (tom(f), 0.8, pan)
    r[42] = (lambda sr: _noise(sr, 0.025, 0.12, 6, hp=2), 0.45, 0.3)
    r[44] = (lambda sr: _noise(sr, 0.03, 0.12, 7, hp=2), 0.35, 0.3)
    r[46] = (lambda sr: _noise(sr, 0.3, 1.0, 8, hp=2), 0.4, 0.3)
    r[49] = r[57] = (lambda sr: _metal(sr, 0.9, 3.0, 9), 0.5, -0.3)
    r[51] = r[59] = (lambda sr: _metal(sr, 1.2, 3.0, 10, 520) * 0.5
                     + _tone(sr, 3200, 0.6, 3.0) * 0.15, 0.4, 0.35)
    r[52] = (lambda sr: _metal(sr, 0.7, 2.5, 11, 330), 0.5, -0.4)
    r[53] = (lambda sr: _tone(sr, 2300, 0.5, 1.5) * 0.5 + _metal(sr, 0.3, 1.5, 12) * .3, .4, .35)
    r[54] = (lambda sr: _noise(sr, 0.08, 0.3, 13, hp=2) * 1.2, 0.4, 0.2)
    r[55] = (lambda sr: _metal(sr, 0.4, 1.5, 14, 600), 0.45, 0.2)
    r[56] = (lambda sr: _tone(sr, 562, 0.08, 0.4) + _tone(sr, 845, 0.06, 0.4), 0.4, 0.1)
    for key, f in ((60, 420), (61, 320), (62, 300), (63, 230), (64, 180), (65, 260), (66, 200),
                   (67, 700), (68, 550), (75, 2500), (76, 900), (77, 750)):
        r[key] = (_conga(f), 0.6, 0.0)
    for key in (69, 70, 73, 74, 82):
        r[key] = (_shaker(key), 0.35, 0.1)
    return r


def _render(key: int, recipe: tuple[Recipe, float, float] | None,
            sample_rate: float) -> np.ndarray:
    """One key's normalised float32 one-shot."""
    if recipe is None:
        data = _tone(sample_rate, 200.0 + 40.0 * (key % 24), 0.03, 0.15)
    else:
        data = recipe[0](sample_rate)
    return (data / max(1e-9, float(np.abs(data).max()))).astype(np.float32)


# Rendered samples are the same for every kit, so all kits of a process share them.
_lock = threading.Lock()
_slices: dict[tuple[int, int], tuple[int, int]] = {}
_buffers: dict[int, np.ndarray] = {}  # sample rate -> all its samples


class DrumKit:
    """The GM percussion map (keys 35..81); unmapped keys give a short click."""

    name = "GM drum kit"

    def __init__(self) -> None:
        self._recipes = _recipes()
        self._lock = _lock
        self._slices = _slices
        self._buffers = _buffers

    def prepare(self, sample_rate: float) -> None:
        """Render every mapped key now, into one buffer (before real-time playback).

        Why: a sample made on the render thread costs dozens of numpy calls (each may
        give the GIL away), and every new key would mean a new buffer for the kernel.
        """
        sr = int(sample_rate)
        with self._lock:
            missing = [k for k in sorted(self._recipes) if (k, sr) not in self._slices]
        if not missing:
            return
        datas = [_render(k, self._recipes[k], sample_rate) for k in missing]
        with self._lock:
            old = self._buffers.get(sr, np.zeros(0, np.float32))
            pos = len(old)
            kept = []
            for k, d in zip(missing, datas, strict=True):
                if (k, sr) not in self._slices:  # (another thread may have made it)
                    self._slices[(k, sr)] = (pos, pos + len(d))
                    pos += len(d)
                    kept.append(d)
            self._buffers[sr] = np.concatenate([old, *kept])

    def _slot(self, key: int, sample_rate: float) -> tuple[np.ndarray, int, int]:
        """``(buffer, start, end)`` of ``key``'s sample, rendering it on first use.

        A new sample is appended to a new buffer, so voices still playing from the
        old one are unaffected.
        """
        ck = (key, int(sample_rate))
        with self._lock:
            got = self._slices.get(ck)
            if got is not None:
                return self._buffers[ck[1]], got[0], got[1]
        data = _render(key, self._recipes.get(key), sample_rate)
        with self._lock:
            got = self._slices.get(ck)
            if got is None:
                old = self._buffers.get(ck[1], np.zeros(0, np.float32))
                got = (len(old), len(old) + len(data))
                self._buffers[ck[1]] = np.concatenate([old, data])
                self._slices[ck] = got
            return self._buffers[ck[1]], got[0], got[1]

    def sample(self, key: int, sample_rate: float) -> np.ndarray:
        """Return (and memoise) the one-shot float32 sample for ``key``."""
        buf, start, end = self._slot(key, sample_rate)
        return buf[start:end]

    def start(self, pitch: int, velocity: int, sample_rate: float) -> list[NoteSpec]:
        recipe = self._recipes.get(pitch)
        gain, pan = (recipe[1], recipe[2]) if recipe else (0.3, 0.0)
        buf, start, end = self._slot(pitch, sample_rate)
        src = SampleSource(buf, 1.0, start=start, end=end)
        return [NoteSpec(src, _DRUM_ENV, gain * 0.5 * velocity_gain(velocity), pan,
                         exclusive=HIHAT_GROUP if pitch in (42, 44, 46) else 0,
                         ignore_note_off=True)]
