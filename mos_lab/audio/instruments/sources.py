"""Sound sources: wavetable, FM and sample playback parameters, with numpy references.

The synth never calls these ``render`` methods for its own sources: the voice allocator
copies a source's parameters into a voice row and ``kernels.render_block`` renders it
(see ``kernels.py``). Each ``render`` here is the one-voice numpy reference with the
same formulas (tests compare the two), and the fallback for a source the kernel cannot
take (a wavetable that did not fit the table store). Phases are float64 cycles, so
pitch is exact over long notes.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from mos_lab.audio.dsp import frames_ramp
from mos_lab.audio.kernels import MAX_OSC, noise_fill, noise_seed, sine_cycles, vibrato_mod

TABLE_SIZE = 2048
TWO_PI = 2.0 * math.pi


def _ramp(phase: float, inc: float, n: int) -> np.ndarray:
    return phase + inc * frames_ramp(n)


def lookup(table: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Linear-interpolated lookup of a 1-D ``table`` (N+1 points) at ``phase`` cycles."""
    size = table.shape[0] - 1
    x = (phase % 1.0) * size
    i = np.minimum(x.astype(np.intp), size - 1)
    x -= i
    lo = table.take(i)
    hi = table.take(i + 1)
    hi -= lo
    hi *= x
    hi += lo
    return hi


class TableStore:
    """Every wavetable pair copied once into one array of (value, slope) rows.

    Why: the kernel reads all voices' tables from this one array, each voice at its own
    offset. Tables are keyed by their memory (the built-in bank reuses a few cached
    arrays); the store is capped, and a source whose table does not fit gets offset -1
    and renders on its own. Rows are appended in place into spare capacity (doubling
    when full), so registering a table costs its own size, not the store's.
    """

    def __init__(self, max_values: int = 1 << 22) -> None:
        self._lock = threading.Lock()
        self._offsets: dict[tuple[int, tuple[int, ...], tuple[int, ...]], int] = {}
        # Registered arrays by identity (the value keeps the array alive, so its id is
        # not reused): the per-note lookup without building ``__array_interface__``.
        self._by_id: dict[int, tuple[np.ndarray, int]] = {}
        self._keep: list[np.ndarray] = []  # the registered arrays, so keys stay unique
        self.max_values = max_values
        self.size = 0  # rows in use
        self._rows = np.zeros((1 << 14, 2))
        # Rows (t[i], t[i+1] - t[i]) of the used part: a lookup is lo + slope * frac with
        # both values in one cache line (what the kernel reads).
        self.pairs = self._rows[:0]

    @property
    def flat(self) -> np.ndarray:
        """The table values alone (a view)."""
        return self.pairs[:, 0]

    def offset(self, tables: np.ndarray) -> int:
        """Offset of ``tables`` (2, N+1) in the store (registering it), or -1 if full."""
        hit = self._by_id.get(id(tables))
        if hit is not None and hit[0] is tables:
            return hit[1]
        key = (tables.__array_interface__["data"][0], tables.shape, tables.strides)
        with self._lock:
            got = self._offsets.get(key)
            if got is not None:
                if len(self._by_id) < 4096:  # another view of registered memory (bounded)
                    self._by_id[id(tables)] = (tables, got)
                return got
            if tables.ndim != 2 or self.size + tables.size > self.max_values:
                return -1
            ofs = self.size
            rows = np.asarray(tables, np.float64)
            delta = np.zeros_like(rows)
            delta[:, :-1] = rows[:, 1:] - rows[:, :-1]
            end = ofs + rows.size
            if end > len(self._rows):  # a new array: readers holding the old one stay valid
                grown = np.zeros((max(end, 2 * len(self._rows)), 2))
                grown[:ofs] = self._rows[:ofs]
                self._rows = grown
            self._rows[ofs:end, 0] = rows.ravel()
            self._rows[ofs:end, 1] = delta.ravel()
            self.size = end
            self.pairs = self._rows[:end]
            self._keep.append(tables)
            self._offsets[key] = ofs
            self._by_id[id(tables)] = (tables, ofs)
            return ofs


TABLES = TableStore()


def clone_source(proto: object) -> Any:
    """A fresh copy of a shared source: its attributes, and its own in-place noise state.

    Why: a :class:`NoteSpec` with a cache key may share its source between notes; a
    voice that renders its source itself (in Python) renders a copy.
    """
    src = object.__new__(type(proto))
    src.__dict__.update(proto.__dict__)
    if type(src) is WavetableSource and src.noise > 0:
        src.noise_state = src.noise_state.copy()  # the one state changed in place
    return src


class WavetableSource:
    """Two wavetables (bright -> mellow crossfade over time), detune, vibrato, noise."""

    def __init__(
        self, tables: np.ndarray, freq: float, sample_rate: float, *,
        bright_time: float = 0.0, detune_cents: tuple[float, ...] = (0.0,),
        vibrato_hz: float = 0.0, vibrato_semis: float = 0.0, noise: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.tables = tables
        self.table_ofs = TABLES.offset(tables)
        self.sr = float(sample_rate)
        self.incs = np.array([freq * 2.0 ** (c / 1200.0) / self.sr for c in detune_cents])
        self.phases = 0.25 + 0.13 * np.arange(len(self.incs), dtype=np.float64)
        self.norm = 1.0 / len(self.incs)
        self.bright_k = 1.0 / (bright_time * self.sr) if bright_time > 0 else 0.0
        self.vib_inc = vibrato_hz / self.sr
        self.vib_depth = 2.0 ** (vibrato_semis / 12.0) - 1.0
        self.vib_phase = 0.0
        self.noise = noise
        self.noise_state = np.array([noise_seed(seed)], dtype=np.uint64)
        self.t = 0
        self.finished = False
        if len(self.incs) > MAX_OSC:  # the kernel takes up to MAX_OSC oscillators
            self.table_ofs = -1

    def render(self, n: int, bend: float) -> np.ndarray:
        """Numpy reference of the kernel's wavetable voice (``n`` float64 samples)."""
        ramp = frames_ramp(n)
        incs = self.incs * bend
        if self.vib_depth > 0:
            # Vibrato fades in over 0.3 s so attacks stay in tune.
            mod = vibrato_mod(self.t, n, self.vib_phase, self.vib_inc, self.vib_depth,
                              1.0 / (0.3 * self.sr))
            self.vib_phase = (self.vib_phase + self.vib_inc * n) % 1.0
            steps = np.multiply.outer(incs, mod)
            ph = np.cumsum(steps, axis=1)
            ph -= steps
            ph += self.phases[:, None]
            self.phases = (ph[:, -1] + steps[:, -1]) % 1.0
        else:
            ph = self.phases[:, None] + np.multiply.outer(incs, ramp)
            self.phases = (self.phases + incs * n) % 1.0
        if self.bright_k > 0 and self.t * self.bright_k < 7.0:  # bright part still audible
            w = np.exp(-self.bright_k * (self.t + ramp))
            mel = lookup(self.tables[1], ph)
            both = mel + w * (lookup(self.tables[0], ph) - mel)
        else:
            both = lookup(self.tables[1 if self.bright_k > 0 else 0], ph)
        out = both[0] if len(both) == 1 else both.sum(axis=0)
        if self.norm != 1.0:
            out *= self.norm
        if self.noise > 0:
            noise_fill(self.noise_state, out, self.noise)
        self.t += n
        return out


class FMSource:
    """Two-operator FM: carrier at ``freq``, modulator at ``ratio*freq``, decaying index."""

    def __init__(
        self, freq: float, sample_rate: float, *, ratio: float, index: float,
        index_end: float = 0.0, index_time: float = 0.5,
    ) -> None:
        self.inc = freq / sample_rate
        self.ratio = ratio
        self.phase = 0.25
        self.mphase = 0.0
        self.i0, self.i1 = index, index_end
        self.ik = 1.0 / max(1.0, index_time * sample_rate)
        self.t = 0
        self.finished = False

    def render(self, n: int, bend: float) -> np.ndarray:
        """Numpy reference of the kernel's FM voice (sines from the same table)."""
        inc = self.inc * bend
        ph = _ramp(self.phase, inc, n)
        mph = _ramp(self.mphase, inc * self.ratio, n)
        self.phase = (self.phase + inc * n) % 1.0
        self.mphase = (self.mphase + inc * self.ratio * n) % 1.0
        idx = self.i1 + (self.i0 - self.i1) * np.exp(
            -self.ik * (self.t + frames_ramp(n)))
        self.t += n
        mod = np.empty(n)
        sine_cycles(mph, mod)
        car = ph + idx * mod / TWO_PI
        out = np.empty(n)
        sine_cycles(car, out)
        return out


class SampleSource:
    """Plays a mono float32 sample at a pitch ratio, with an optional sustain loop."""

    def __init__(
        self, data: np.ndarray, ratio: float, *, start: int = 0, end: int | None = None,
        loop: tuple[int, int] | None = None,
    ) -> None:
        self.data = np.ascontiguousarray(data, dtype=np.float32)
        self.ratio = float(ratio)
        self.pos = float(start)
        self.end = len(data) if end is None else min(int(end), len(data))
        self.loop = loop if loop is not None and loop[1] - loop[0] >= 2 else None
        self.finished = self.end - 1 <= self.pos

    def render(self, n: int, bend: float) -> np.ndarray:
        """Numpy reference of the kernel's sample voice."""
        if self.finished:
            return np.zeros(n)
        r = self.ratio * bend
        pos = _ramp(self.pos, r, n)
        data = self.data
        if self.loop is not None:
            ls, le = self.loop
            span = le - ls
            pos = np.where(pos >= le, ls + (pos - ls) % span, pos)
            i0 = pos.astype(np.intp)
            i1 = i0 + 1
            i1 = np.where(i1 >= le, i1 - span, i1)
            nxt = self.pos + r * n
            self.pos = ls + (nxt - ls) % span if nxt >= le else nxt
            f = pos - i0
            return data[i0] * (1.0 - f) + data[i1] * f
        last = self.end - 1
        valid = pos < last
        pos = np.where(valid, pos, last)
        i0 = pos.astype(np.intp)
        f = pos - i0
        out = data[i0] * (1.0 - f) + data[np.minimum(i0 + 1, last)] * f
        out = np.where(valid, out, 0.0)
        self.pos += r * n
        if self.pos >= last:
            self.finished = True
        return out
