"""SoundFont 2 instruments played by Apollo's own sampler (the numba block kernel).

Choice: our own sampler, not FluidSynth. Measured by ``bench/bench_audio.py`` on the
2-core dev VM (48 kHz, 512-frame blocks, TimGM6mb.sf2, ~64 voices with stealing): our
sampler ~55-60x real time, FluidSynth (pyfluidsynth + libfluidsynth3, driven one
``get_samples`` call per event segment for sample accuracy) ~30-42x in the same runs.
Fidelity on one piano A4: pitch 440.0 Hz in both, RMS-envelope correlation 1.000,
log-spectrum correlation 0.91 (we skip modulators, the filter, chorus and reverb).
FluidSynth would add a system library, takes events only between render calls, and
bypasses our voice allocator, limiter and shared release path (APO-02/03/10).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable

import numpy as np

from mos_lab.audio.cache import SampleCache
from mos_lab.audio.envelope import ADSR
from mos_lab.audio.instruments.base import Instrument, NoteSpec, velocity_gain
from mos_lab.audio.instruments.sf2 import Region, SF2File
from mos_lab.audio.instruments.sources import SampleSource

SF2_HEADROOM = 0.5
_DB_PER_DECAY = 0.6  # SF2 times are for 100 dB; our envelope times are for 60 dB


class SoundFontInstrument:
    """One preset: picks the regions matching key and velocity and plays their samples."""

    def __init__(self, name: str, regions: list[Region], data: np.ndarray) -> None:
        self.name = name
        self.regions = regions
        self.data = data

    def start(self, pitch: int, velocity: int, sample_rate: float) -> list[NoteSpec]:
        specs = []
        for r in self.regions:
            if not (r.key_lo <= pitch <= r.key_hi and r.vel_lo <= velocity <= r.vel_hi):
                continue
            cents = (pitch - r.root_key) * r.scale_tuning + r.tune_cents
            ratio = 2.0 ** (cents / 1200.0) * r.sample_rate / sample_rate
            loop = (r.loop_start, r.loop_end) if r.loops else None
            src = SampleSource(self.data, ratio, start=r.start, end=r.end, loop=loop)
            env = ADSR(attack=max(0.001, r.attack), hold=r.hold,
                       decay=max(0.001, r.decay * _DB_PER_DECAY), sustain=r.sustain,
                       release=max(0.01, r.release * _DB_PER_DECAY))
            # EMU/FluidSynth convention: attenuation counts 0.4 dB per unit.
            gain = 10.0 ** (-0.4 * r.attenuation_db / 20.0) * velocity_gain(velocity)
            specs.append(NoteSpec(src, env, gain * SF2_HEADROOM, r.pan, exclusive=r.exclusive))
        return specs


class SoundFontBank:
    """A bank backed by an .sf2 file; unknown programs fall back to the built-in bank."""

    def __init__(self, sf2: SF2File, name: str, fallback: object | None = None) -> None:
        from mos_lab.audio.instruments.builtin import BuiltinBank

        self.sf2 = sf2
        self.name = name
        self.data = sf2.decode_samples()
        self.fallback = fallback if fallback is not None else BuiltinBank()
        self._lock = threading.Lock()
        self._cache: dict[tuple[int, int], Instrument] = {}

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, progress: Callable[[float], None] | None
             = None, cache: SampleCache | None = None, preload: bool = True) -> SoundFontBank:
        """Parse ``path``; with ``preload`` resolve every preset now (reporting progress)."""
        report = progress or (lambda f: None)
        path = os.fspath(path)
        with open(path, "rb") as f:
            blob = f.read()
        report(0.3)
        sf2 = SF2File(blob)
        if cache is not None:
            key = "sf2:" + hashlib.sha256(blob).hexdigest()
            sf2.samples = cache.get_or_build(key, sf2.decode_samples)
        bank = cls(sf2, os.path.basename(path))
        report(0.5)
        if preload:
            keys = sorted(sf2.presets)
            for i, (b, p) in enumerate(keys):
                bank._preset(b, p)
                if i % 16 == 0:
                    report(0.5 + 0.5 * i / max(1, len(keys)))
        report(1.0)
        return bank

    def _preset(self, bank: int, program: int) -> Instrument | None:
        key = (bank, program)
        with self._lock:
            got = self._cache.get(key)
        if got is not None:
            return got
        idx = self.sf2.presets.get(key)
        if idx is None:
            return None
        inst = SoundFontInstrument(self.sf2.preset_name(idx), self.sf2.regions(idx), self.data)
        with self._lock:
            self._cache[key] = inst
        return inst

    def instrument(self, program: int, drums: bool) -> Instrument:
        if drums:
            inst = self._preset(128, program) or self._preset(128, 0)
        else:
            inst = self._preset(0, program) or self._preset(0, program & 0x78)
        if inst is None:
            return self.fallback.instrument(program, drums)  # type: ignore[attr-defined]
        return inst
