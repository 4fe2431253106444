"""Built-in synthesised General MIDI instruments: one patch per GM family, no files.

Each of the 16 GM families (programs 8k..8k+7) gets a recognisable recipe: additive
wavetables with a bright-to-mellow decay for struck/plucked sounds, drawbar spectra for
organ, detuned saws for strings and pads, two-operator FM for bells, brass and effects.
Wavetables are band-limited per octave (mipmaps) so high notes do not alias.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_right
from dataclasses import dataclass, replace

import numpy as np

from mos_lab.audio.envelope import ADSR
from mos_lab.audio.instruments.base import Instrument, NoteSpec, Source, velocity_gain
from mos_lab.audio.instruments.drums import DrumKit
from mos_lab.audio.instruments.sources import TABLE_SIZE, TABLES, FMSource, WavetableSource

VOICE_HEADROOM = 0.3  # per-voice level: ~10 loud voices before the limiter works
# Velocity sets the level exactly, and the timbre (brightness, FM index) by layer: one
# rendering per (program, pitch, layer) can then be cached and reused (``notecache``).
# Two layers, as many GM SoundFonts have: soft (1-63, made at p = 40) and loud (64-127,
# made at f = 100).
LAYER_VELOCITIES = (40, 100)
VELOCITY_LAYERS = len(LAYER_VELOCITIES)


def timbre_velocity(velocity: int) -> int:
    """The velocity a note's timbre is made with: its layer's (soft p, loud f)."""
    return LAYER_VELOCITIES[0] if velocity < 64 else LAYER_VELOCITIES[1]


def saw(n: int, tilt: float = 1.0) -> tuple[float, ...]:
    """Harmonic amplitudes 1/k**tilt (tilt 1 = sawtooth)."""
    return tuple(1.0 / k**tilt for k in range(1, n + 1))


def odd(n: int, tilt: float = 1.0) -> tuple[float, ...]:
    """Odd harmonics only (square-like, clarinet)."""
    return tuple((1.0 / k**tilt) if k % 2 else 0.0 for k in range(1, n + 1))


@dataclass(frozen=True)
class Patch:
    """A synth recipe: spectra or FM settings, envelope, modulation and level."""

    name: str
    env: ADSR
    bright: tuple[float, ...] = (1.0,)
    mellow: tuple[float, ...] | None = None
    bright_time: float = 0.0
    fm: tuple[float, float, float, float] | None = None  # ratio, index, end index, time
    detune: tuple[float, ...] = (0.0,)
    vibrato: tuple[float, float] = (0.0, 0.0)  # rate Hz, depth semitones
    noise: float = 0.0
    gain: float = 1.0
    keyscale: bool = False  # lower notes decay more slowly (pianos, strings plucked)


_PERC = ADSR(attack=0.002, decay=3.0, sustain=0.0, release=0.25)
FAMILIES: tuple[Patch, ...] = (
    Patch("piano", _PERC, saw(24, 1.3), saw(6, 2.5), 0.35, keyscale=True),
    Patch("chromatic percussion", ADSR(0.001, 0, 2.0, 0.0, 0.4),
          fm=(3.5, 2.5, 0.2, 0.4), keyscale=True),
    Patch("organ", ADSR(0.006, 0, 1.0, 1.0, 0.08),
          (1.0, 0.8, 0.6, 0.5, 0.0, 0.4, 0.0, 0.35), gain=0.7),
    Patch("guitar", ADSR(0.002, 0, 2.2, 0.0, 0.15), saw(20, 1.1), saw(5, 2.8), 0.12,
          keyscale=True),
    Patch("bass", ADSR(0.003, 0, 2.5, 0.0, 0.1), saw(12, 1.4), (1.0, 0.3), 0.2,
          keyscale=True, gain=1.3),
    Patch("strings", ADSR(0.09, 0, 1.0, 0.9, 0.35), saw(32, 1.0), saw(16, 1.6), 0.4,
          detune=(-5.0, 5.0), vibrato=(5.5, 0.12), gain=0.8),
    Patch("ensemble", ADSR(0.15, 0, 1.0, 1.0, 0.5), saw(24, 1.3), detune=(-8.0, 0.0, 8.0),
          vibrato=(5.0, 0.08), gain=0.8),
    Patch("brass", ADSR(0.04, 0, 0.8, 0.8, 0.15), fm=(1.0, 3.5, 1.6, 0.25), gain=0.7),
    Patch("reed", ADSR(0.03, 0, 1.0, 0.9, 0.12), odd(15, 1.1), vibrato=(5.0, 0.1),
          noise=0.01, gain=0.8),
    Patch("pipe", ADSR(0.06, 0, 1.0, 1.0, 0.15), (1.0, 0.15, 0.08, 0.03),
          vibrato=(4.5, 0.08), noise=0.03),
    Patch("synth lead", ADSR(0.005, 0, 1.0, 0.85, 0.1), saw(48, 1.0), detune=(-3.0, 3.0),
          gain=0.6),
    Patch("synth pad", ADSR(0.4, 0, 1.0, 1.0, 1.0), saw(16, 1.8), detune=(-7.0, 7.0),
          vibrato=(0.3, 0.05), gain=0.8),
    Patch("synth effects", ADSR(0.2, 0, 1.5, 0.6, 1.2), fm=(1.414, 4.0, 0.5, 1.5),
          gain=0.6),
    Patch("ethnic", ADSR(0.002, 0, 1.8, 0.0, 0.2), fm=(2.0, 3.0, 0.3, 0.3), keyscale=True),
    Patch("percussive", ADSR(0.001, 0, 0.7, 0.0, 0.1), fm=(1.6, 4.0, 0.0, 0.08)),
    Patch("sound effects", ADSR(0.01, 0, 1.0, 0.7, 0.5), (1.0, 0.5), noise=0.4, gain=0.5),
)
FAMILY_NAMES = tuple(p.name for p in FAMILIES)


def family_of(program: int) -> str:
    """GM family name of a program 0..127."""
    return FAMILY_NAMES[int(program) // 8]


_MIP_LIMITS = (1, 2, 4, 8, 16, 32, 64)
_table_lock = threading.Lock()
_table_cache: dict[tuple[tuple[float, ...], tuple[float, ...] | None], np.ndarray] = {}


_basis: list[np.ndarray] = []
_patch_ids: dict[Patch, int] = {}  # patch -> small id, for note-cache keys


def _table(amps: tuple[float, ...]) -> np.ndarray:
    """One cycle of the given harmonic amplitudes (TABLE_SIZE + 1 points).

    A matrix-vector product with a cached sine basis: a few numpy calls per table
    instead of one per harmonic (tables are made on the render thread on first use,
    where each numpy call may give the GIL away).
    """
    with _table_lock:
        if not _basis or _basis[0].shape[0] < len(amps):
            ph = np.arange(TABLE_SIZE + 1, dtype=np.float64) / TABLE_SIZE
            k = np.arange(1, max(len(amps), _MIP_LIMITS[-1]) + 1, dtype=np.float64)
            _basis[:] = [np.sin(2.0 * math.pi * np.multiply.outer(k, ph))]
        basis = _basis[0]
    return np.asarray(amps, np.float64) @ basis[:len(amps)]


def mip_tables(bright: tuple[float, ...], mellow: tuple[float, ...] | None) -> np.ndarray:
    """Tables (levels, 2, N+1): bright/mellow, band-limited to 1, 2, 4, ... 64 harmonics."""
    key = (bright, mellow)
    with _table_lock:
        got = _table_cache.get(key)
        if got is not None:
            return got
    mel = mellow if mellow is not None else bright
    levels = []
    norm = 1.0
    for i, lim in enumerate(reversed(_MIP_LIMITS)):
        b, m = _table(bright[:lim]), _table(mel[:lim])
        if i == 0:
            norm = 1.0 / max(np.abs(b).max(), np.abs(m).max(), 1e-9)
        levels.append(np.stack([b * norm, m * norm]))
    out = np.stack(levels[::-1])
    with _table_lock:
        _table_cache[key] = out
    return out


class SynthInstrument:
    """A melodic instrument made from a :class:`Patch`."""

    def __init__(self, patch: Patch, program: int = 0) -> None:
        self.patch = patch
        self.program = program
        self.name = patch.name
        self._tables = None if patch.fm else mip_tables(patch.bright, patch.mellow)
        # The mip levels as fixed objects (TABLES finds them by identity, fast) and the
        # key-scaled envelopes per pitch: a note start is on the render thread.
        self._levels = [] if self._tables is None else list(self._tables)
        self._envs: dict[int, ADSR] = {}
        for level in self._levels:  # register now, not on the render thread
            TABLES.offset(level)
        with _table_lock:
            self._pid = _patch_ids.setdefault(patch, len(_patch_ids))
        # Noise is seeded per pitch and program; otherwise a family's notes are alike.
        self._key_prog = program if patch.noise > 0 else -1
        self._protos: dict[tuple[int, int, int, int, float], Source] = {}  # fresh sources
        # (pitch, velocity, rate) -> the note's specs, returned as they are: their
        # sources are shared (a spec with a cache key; the synth copies one before it
        # renders it itself), so a repeated note allocates nothing here.
        self._notes: dict[tuple[int, int, float], list[NoteSpec]] = {}

    def start(self, pitch: int, velocity: int, sample_rate: float) -> list[NoteSpec]:
        hit = self._notes.get((pitch, velocity, sample_rate))
        if hit is not None:  # this key and velocity before: the same specs
            return hit
        p = self.patch
        env = p.env
        if p.keyscale:
            got = self._envs.get(pitch)
            if got is None:
                got = replace(env, decay=env.decay * 2.0 ** ((60 - pitch) / 24.0))
                self._envs[pitch] = got
            env = got
        tv = timbre_velocity(velocity)
        gain = p.gain * VOICE_HEADROOM * velocity_gain(velocity)
        key = (self._pid, pitch, tv, self._key_prog, sample_rate)
        proto: Source | None = self._protos.get(key)
        if proto is None:
            freq = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
            vel = 0.5 + tv / 254.0
            if p.fm is not None:
                ratio, index, end, t = p.fm
                proto = FMSource(freq, sample_rate, ratio=ratio, index=index * vel,
                                 index_end=end * vel, index_time=t)
            else:
                assert self._levels
                harmonics = max(1, int(0.45 * sample_rate / freq))
                level = max(0, bisect_right(_MIP_LIMITS, harmonics) - 1)  # most that fit
                proto = WavetableSource(
                    self._levels[level], freq, sample_rate,
                    bright_time=p.bright_time * vel,
                    detune_cents=p.detune, vibrato_hz=p.vibrato[0],
                    vibrato_semis=p.vibrato[1], noise=p.noise, seed=pitch * 131 + self.program,
                )
            if len(self._protos) < 1024:
                self._protos[key] = proto
        specs = [NoteSpec(proto, env, gain, cache_key=_note_key(key))]
        if len(self._notes) < 4096:
            self._notes[(pitch, velocity, sample_rate)] = specs
        return specs


class BuiltinBank:
    """The default bank: 128 GM programs from 16 family patches plus the GM drum kit."""

    name = "builtin"

    def __init__(self, *, standin: bool = False) -> None:
        # The programs' instruments are shared by every bank in the process: they hold
        # no per-synth state, only what they have built (sources, specs), so a new
        # synth (each offline render makes one) starts notes as fast as an old one.
        # ``prepare`` makes all 16 families (~30 ms, ~12 MB of tables) and the drum
        # samples (~6 MB), so no table is built on the render thread during playback.
        # A stand-in (the set an engine plays only while its SoundFont loads, or for
        # programs the SoundFont lacks) skips that: what it plays is built on first use.
        self.standin = bool(standin)
        self._cache = _programs
        self._drums = DrumKit()

    def prepare(self, sample_rate: float) -> None:
        """Make the families and the drum samples for ``sample_rate`` now (not during
        playback); a stand-in makes nothing (see ``standin``)."""
        if self.standin:
            return
        _shared_programs()
        self._drums.prepare(sample_rate)

    def instrument(self, program: int, drums: bool) -> Instrument:
        if drums:
            return self._drums
        program = int(program) & 127
        inst = self._cache.get(program)  # entries are never replaced: read without the lock
        if inst is not None:
            return inst
        made = SynthInstrument(FAMILIES[program // 8], program)  # (takes _table_lock)
        with _programs_lock:
            return self._cache.setdefault(program, made)


_note_keys: dict[tuple[int, int, int, int, float], int] = {}


def _note_key(key: tuple[int, int, int, int, float]) -> int:
    """A small int standing for a note's sound (patch, pitch, layer, noise seed, rate).

    Why: the note cache and the voice rows look notes up by this key at every note
    start; an int hashes at once, a 5-tuple is hashed anew each time.
    """
    got = _note_keys.get(key)
    if got is None:
        with _programs_lock:
            got = _note_keys.setdefault(key, len(_note_keys))
    return got


_programs: dict[int, Instrument] = {}  # program -> instrument, for every bank
_programs_lock = threading.Lock()


def _shared_programs() -> dict[int, Instrument]:
    """The process-wide program table, with the 16 family instruments made."""
    made = {8 * i: SynthInstrument(p, 8 * i) for i, p in enumerate(FAMILIES)
            if 8 * i not in _programs}
    if made:
        with _programs_lock:
            for prog, inst in made.items():
                _programs.setdefault(prog, inst)
    return _programs
