"""SoundFont 2 instruments played by Apollo's own sampler (the numba block kernel).

Choice: our own sampler, not FluidSynth: FluidSynth would add a system library, takes
events only between render calls, and bypasses our voice allocator, limiter and shared
release path (APO-02/03/10). The voice is SoundFont 2.04's (``sf2voice.py``,
``kernels._sf2``): volume and modulation envelopes, vibrato and modulation LFOs, the
resonant low-pass filter, cubic interpolation, the default and the file's modulators,
loop modes; FluidSynth (Debian's ``fluidsynth``) is the oracle it is measured against
(``bench/bench_soundfont.py``). SF3 files (Ogg Vorbis samples) load through
``sf3.py``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from bisect import bisect_right
from collections.abc import Callable, Mapping

import numpy as np

from mos_lab.audio import kernels as K
from mos_lab.audio.cache import SampleCache
from mos_lab.audio.envelope import ADSR
from mos_lab.audio.instruments.base import Instrument, NoteSpec
from mos_lab.audio.instruments.sf2 import Region, SF2File
from mos_lab.audio.instruments.sf2voice import (
    AT_REST,
    GM_DEFAULTS,
    HEADROOM,
    LIVE_COLS,
    WHEEL,
    LivePlan,
    LiveSpec,
    SF2Source,
    Wheel,
    controllers,
    note_gain,
    reads_velocity,
    voice_row,
)

SF2_HEADROOM = HEADROOM
NOISE_FLOOR = 1e-6  # a voice this far under full scale at its own gain has ended (-120 dB)
_DB_PER_DECAY = 0.6  # SF2 times are for 100 dB; our envelope times are for 60 dB
_NO_CC: dict[int, int] = {7: 100, 10: 64, 11: 127}
_Layer = tuple[Region, np.ndarray, float, float, float, ADSR, "tuple[int, int] | None",
               "LiveSpec | None"]


class SoundFontInstrument:
    """One preset: picks the regions matching key and velocity and plays their samples."""

    def __init__(self, name: str, regions: list[Region], data: np.ndarray) -> None:
        self.name = name
        self.regions = regions
        self.data = data
        self._keys = [frozenset(controllers(r)) for r in regions]
        self._plans: dict[int, LivePlan] = {}  # by region index, built at first use
        self._ccs = sorted(set().union(*self._keys))
        # A note's rows depend on its velocity only through the velocity ranges and the
        # default velocity-to-attenuation modulator, unless a modulator reads it: then the
        # memo is keyed by the velocity layer and the attenuation is added per note.
        self._velmods = any(reads_velocity(r) for r in regions)
        self._vsplits = sorted({r.vel_lo for r in regions} | {r.vel_hi + 1 for r in regions})
        # (key, velocity or its layer, controllers read) -> each layer's row, pitch, ...
        self._memo: dict[tuple[int, int, tuple[float, ...]], list[_Layer]] = {}
        self._rate = 0.0
        self._dry = False

    @property
    def dry(self) -> bool:
        """True: no reverb or chorus sends."""
        return self._dry

    @dry.setter
    def dry(self, on: bool) -> None:
        if bool(on) != self._dry:
            self._dry = bool(on)
            self._memo.clear()

    def start(self, pitch: int, velocity: int, sample_rate: float) -> list[NoteSpec]:
        """The note's layers with the channel's controllers at their defaults."""
        return self.start_cc(pitch, velocity, sample_rate, _NO_CC)

    def start_cc(self, pitch: int, velocity: int, sample_rate: float,
                 controls: Mapping[int, int], wheel: Wheel = AT_REST) -> list[NoteSpec]:
        """The note's layers, modulators evaluated with the channel's ``controls`` and
        ``wheel`` (pitch wheel 0..1, sensitivity in semitones); each layer whose
        modulators read a controller can evaluate them again (``SF2Source.spec``)."""
        if sample_rate != self._rate:
            self._memo.clear()
            self._rate = sample_rate
        vk = velocity if self._velmods else -1 - bisect_right(self._vsplits, velocity)
        key = (pitch, vk, tuple(controls.get(c, GM_DEFAULTS.get(c, 0)) if c < 128
                                else wheel[0] if c == WHEEL else wheel[1]
                                for c in self._ccs))
        layers = self._memo.get(key)
        if layers is None:
            layers = self._layers(pitch, velocity, sample_rate, controls, wheel)
            if len(self._memo) >= 4096:
                self._memo.clear()
            self._memo[key] = layers
        velmods = self._velmods
        out = []
        for r, row, ratio, att, pan, env, loop, spec in layers:
            src = SF2Source(self.data, ratio, row, start=r.start, end=r.end, loop=loop,
                            loop_mode=r.loop_mode)
            if spec is not None:
                src.keys = spec.keys
                src.spec = spec
            out.append(NoteSpec(src, env, note_gain(att, velocity, velmods), pan,
                                exclusive=r.exclusive))
        return out

    def _layers(self, pitch: int, velocity: int, sample_rate: float,
                controls: Mapping[int, int], wheel: Wheel) -> list[_Layer]:
        out: list[_Layer] = []
        for i, (r, keys) in enumerate(zip(self.regions, self._keys, strict=True)):
            if not (r.key_lo <= pitch <= r.key_hi and r.vel_lo <= velocity <= r.vel_hi):
                continue
            row, ratio, att, pan, release = voice_row(r, pitch, velocity, sample_rate,
                                                      controls, velocity_gain=self._velmods,
                                                      wheel=wheel)
            # The end of a voice: -100 dB under the note, or -120 dB of full scale (at
            # its loudest velocity layer's gain, so one row serves the layer).
            loud = SF2_HEADROOM * 10.0 ** (-max(0.0, att) / 200.0)
            row[K.S_FLOOR] = min(0.1, max(K.SF2_FLOOR, NOISE_FLOOR / max(loud, 1e-9)))
            if self._dry:
                row[K.S_SEND_REV] = row[K.S_SEND_CHO] = 0.0
            row.flags.writeable = False
            loop = (r.loop_start, r.loop_end) if r.loops else None
            # The allocator's own bookkeeping (stealing order, release length in frames).
            env = ADSR(attack=max(0.001, r.attack), hold=r.hold,
                       decay=max(0.001, r.decay * _DB_PER_DECAY), sustain=r.sustain,
                       release=max(0.001, release))
            spec = None
            if keys:
                plan = self._plans.get(i)
                if plan is None:
                    plan = self._plans[i] = LivePlan(r, self._velmods)
                spec = LiveSpec(r, plan, sample_rate, self._velmods, self._dry, keys,
                                tuple(float(row[c]) for c in LIVE_COLS))
            out.append((r, row, ratio, att, pan, env, loop, spec))
        return out


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
        self._dry = False

    @property
    def dry(self) -> bool:
        """True: voices send nothing to the master reverb and chorus (``render --dry``)."""
        return self._dry

    @dry.setter
    def dry(self, on: bool) -> None:
        self._dry = bool(on)
        with self._lock:
            for inst in self._cache.values():
                if isinstance(inst, SoundFontInstrument):
                    inst.dry = self._dry

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
            if sf2.compressed:  # SF3: decoded once, then read back (samples and spans)
                def spans() -> np.ndarray:
                    sf2.decode_samples()
                    return np.array([(k, a, n) for k, (a, n) in sf2.sample_spans.items()],
                                    np.int64).reshape(-1, 3)
                table = cache.get_or_build(key + ":spans", spans)
                sf2.sample_spans = {int(k): (int(a), int(n)) for k, a, n in table}
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

    def release_pages(self) -> bool:
        """Let the played sample pages of a disk-cached set go (an idle engine calls it);
        True if the samples are such a map. They come back from the page cache on use."""
        from mos_lab.audio.cache import release_mapped

        return release_mapped(self.data)

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
        inst.dry = self._dry
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
