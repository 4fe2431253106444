"""Render all sources of one kind together, as rows of one 2-D array.

Why: the synth renders in a Python thread next to user code. Under a busy Python
thread every numpy call that releases the GIL (any ufunc on more than 500 elements)
can cost milliseconds, so the cost of a block must not grow with the voice count.
Each function here renders every source of its kind for ``n`` frames into the rows of
``out`` with a fixed number of numpy calls, using the formulas of the sources' own
``render`` in the same order, so a voice sounds the same alone or batched.

Per-voice state (phases, positions, times) stays on the source objects: it is gathered
into small vectors before a batch and written back after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mos_lab.audio.dsp import frames_ramp
from mos_lab.audio.instruments.sources import (
    TABLES,
    TWO_PI,
    FMSource,
    SampleSource,
    WavetableSource,
)

BatchRender = Callable[[Sequence[Any], int, np.ndarray, np.ndarray], None]


def _col(values: list[float]) -> np.ndarray:
    return np.array(values, dtype=np.float64)[:, None]


def _runs(keys: Sequence[object]) -> list[tuple[int, int]]:
    """``(start, end)`` of each run of equal consecutive keys."""
    out = []
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            out.append((start, i))
            start = i
    return out


def _vibrato(srcs: list[WavetableSource], n: int) -> np.ndarray:
    """Frequency multipliers (len(srcs), n): vibrato faded in over 0.3 s."""
    ramp = frames_ramp(n)
    fade = np.add.outer(np.array([float(s.t) for s in srcs]), ramp)
    fade *= _col([1.0 / (0.3 * s.sr) for s in srcs])
    np.minimum(fade, 1.0, out=fade)
    mod = np.multiply.outer(np.array([s.vib_inc for s in srcs]), ramp)
    mod += _col([s.vib_phase for s in srcs])
    mod *= TWO_PI
    np.sin(mod, out=mod)
    mod *= fade
    mod *= _col([s.vib_depth for s in srcs])
    mod += 1.0
    for s in srcs:
        s.vib_phase = (s.vib_phase + s.vib_inc * n) % 1.0
    return mod


def _table_index(ph: np.ndarray, size: int, nonneg: bool) -> np.ndarray:
    """Table point below each phase (cycles), leaving the fraction in ``ph``.

    Same result as ``lookup``: for phases >= 0 and a power-of-two ``size``,
    ``(ph % 1) * size`` and ``ph * size`` differ by a multiple of ``size`` exactly, so
    a mask replaces the slow floating-point remainder.
    """
    if nonneg and size & (size - 1) == 0 and size > 1:
        ph *= size
        idx = ph.astype(np.intp)
        ph -= idx
        idx &= size - 1
        return idx
    np.remainder(ph, 1.0, out=ph)
    ph *= size
    idx = ph.astype(np.intp)
    np.minimum(idx, size - 1, out=idx)
    ph -= idx
    return idx


def render_wavetables(srcs: Sequence[WavetableSource], n: int, bends: np.ndarray,
                      out: np.ndarray) -> None:
    """Fill ``out[j]`` with ``srcs[j].render(n, bends[j])`` for every j, in one batch."""
    ramp = frames_ramp(n)
    counts = [len(s.incs) for s in srcs]
    incs = np.concatenate([s.incs for s in srcs]) * np.repeat(bends, counts)
    phases = np.concatenate([s.phases for s in srcs])
    ph = np.multiply.outer(incs, ramp)
    ph += phases[:, None]
    new_phases = (phases + incs * n) % 1.0
    vib = [j for j, s in enumerate(srcs) if s.vib_depth > 0]
    if vib:  # integrate the modulated increments, like the single-voice render
        firsts = np.cumsum([0, *counts])
        rows = np.concatenate([np.arange(firsts[j], firsts[j + 1]) for j in vib])
        which = np.repeat(np.arange(len(vib)), [counts[j] for j in vib])
        steps = _vibrato([srcs[j] for j in vib], n)[which]
        steps *= incs[rows, None]
        vph = np.cumsum(steps, axis=1)
        vph -= steps
        vph += phases[rows, None]
        new_phases[rows] = (vph[:, -1] + steps[:, -1]) % 1.0
        ph[rows] = vph
    # Which table each row reads: tables[1] (mellow) once a bright part exists, and a
    # crossfade from tables[0] while the bright part is still audible.
    size = srcs[0].tables.shape[1] - 1
    prim, fade_k, fade_t = [], [], []
    for s, c in zip(srcs, counts, strict=True):
        bright = s.bright_k > 0
        xf = bright and s.t * s.bright_k < 7.0
        prim += [s.table_ofs + (size + 1 if bright else 0)] * c
        fade_k += [-s.bright_k if xf else 0.0] * c
        fade_t += [float(s.t) if xf else -1.0] * c
    flat, delta = TABLES.arrays
    nonneg = bool(incs.min() >= 0.0) and bool(phases.min() >= 0.0)
    idx = _table_index(ph, size, nonneg)  # ph becomes the fraction between table points
    idx += np.array(prim, dtype=np.intp)[:, None]
    sig = flat.take(idx)
    hi = delta.take(idx)
    hi *= ph
    sig += hi
    if any(t >= 0 for t in fade_t):
        idx -= size + 1  # the bright table sits just before the mellow one
        br = delta.take(idx)
        br *= ph
        br += flat.take(idx)
        w = np.add.outer(np.array(fade_t), ramp)
        w *= _col(fade_k)
        np.exp(w, out=w)
        w *= _col([1.0 if t >= 0 else 0.0 for t in fade_t])
        br -= sig
        br *= w
        sig += br
    row = 0
    for a, b in _runs(counts):
        c = counts[a]
        if c == 1:
            out[a:b] = sig[row:row + b - a]
        else:
            np.sum(sig[row:row + (b - a) * c].reshape(b - a, c, n), axis=1, out=out[a:b])
            out[a:b] *= 1.0 / c
        row += (b - a) * c
    noisy = [j for j, s in enumerate(srcs) if s.rng is not None]
    if noisy:
        z = np.empty((len(noisy), n))
        for k, j in enumerate(noisy):
            rng = srcs[j].rng
            assert rng is not None
            rng.standard_normal(out=z[k])
        z *= _col([srcs[j].noise for j in noisy])
        out[noisy] += z
    pos = 0
    for s, c in zip(srcs, counts, strict=True):
        s.phases = new_phases[pos:pos + c]
        s.t += n
        pos += c


def render_fm(srcs: Sequence[FMSource], n: int, bends: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out[j]`` with ``srcs[j].render(n, bends[j])`` for every j, in one batch."""
    ramp = frames_ramp(n)
    inc = [s.inc * float(b) for s, b in zip(srcs, bends, strict=True)]
    minc = [i * s.ratio for s, i in zip(srcs, inc, strict=True)]
    mod = np.multiply.outer(np.array(minc), ramp)
    mod += _col([s.mphase for s in srcs])
    mod *= TWO_PI
    np.sin(mod, out=mod)
    idx = np.add.outer(np.array([float(s.t) for s in srcs]), ramp)
    idx *= _col([-s.ik for s in srcs])
    np.exp(idx, out=idx)
    idx *= _col([s.i0 - s.i1 for s in srcs])
    idx += _col([s.i1 for s in srcs])
    mod *= idx
    car = out[: len(srcs)]
    np.multiply(np.array(inc)[:, None], ramp, out=car)
    car += _col([s.phase for s in srcs])
    car *= TWO_PI
    car += mod
    np.sin(car, out=car)
    for s, i, m in zip(srcs, inc, minc, strict=True):
        s.phase = (s.phase + i * n) % 1.0
        s.mphase = (s.mphase + m * n) % 1.0
        s.t += n


def _render_samples(srcs: Sequence[SampleSource], n: int, bends: np.ndarray,
                    out: np.ndarray) -> None:
    """Sample players that share one ``data`` array (one sf2, or the drum kit)."""
    ramp = frames_ramp(n)
    data = srcs[0].data
    rates = [s.ratio * float(b) for s, b in zip(srcs, bends, strict=True)]
    pos = np.multiply.outer(np.array(rates), ramp)
    pos += _col([s.pos for s in srcs])
    looped = any(s.loop is not None for s in srcs)
    plain = not all(s.loop is not None for s in srcs)
    big = float(1 << 62)  # "never": a loop end for one-shots, an end for loops
    if looped:
        ls = _col([float(s.loop[0]) if s.loop else 0.0 for s in srcs])
        le = _col([float(s.loop[1]) if s.loop else big for s in srcs])
        span = le - ls
        np.copyto(pos, ls + (pos - ls) % span, where=pos >= le)
    if plain:
        last = _col([big if s.loop else float(s.end - 1) for s in srcs])
        valid = pos < last
        np.minimum(pos, last, out=pos)
    i0 = pos.astype(np.intp)
    pos -= i0  # now the fraction between samples
    i1 = i0 + 1
    if looped:
        np.subtract(i1, span.astype(np.intp), out=i1, where=i1 >= le)
    if plain:
        np.minimum(i1, last.astype(np.intp), out=i1)
    sig = out[: len(srcs)]
    lo = data.take(i0) * (1.0 - pos)
    hi = data.take(i1)
    np.multiply(hi, pos, out=sig)
    sig += lo
    if plain:
        sig *= valid
    for s, r in zip(srcs, rates, strict=True):
        nxt = s.pos + r * n
        if s.loop is not None:
            a, b = s.loop
            s.pos = a + (nxt - a) % (b - a) if nxt >= b else nxt
        else:
            s.pos = nxt
            if s.pos >= s.end - 1:
                s.finished = True


def render_samples(srcs: Sequence[SampleSource], n: int, bends: np.ndarray,
                   out: np.ndarray) -> None:
    """Fill ``out[j]`` with ``srcs[j].render(n, bends[j])``: one batch per data array."""
    for a, b in _runs([id(s.data) for s in srcs]):
        _render_samples(srcs[a:b], n, bends[a:b], out[a:b])


KINDS: tuple[tuple[type, BatchRender], ...] = (
    (WavetableSource, render_wavetables), (FMSource, render_fm),
    (SampleSource, render_samples))


def batch_key(src: object) -> tuple[int, int, int]:
    """Sort key ``(kind, group, order)``: a batch is a run of equal ``(kind, group)``.

    ``kind`` indexes ``KINDS`` (``len(KINDS)`` for a source rendered on its own).
    Wavetables group by table size and order by oscillator count (so the oscillator
    sums are a few reshapes); sample players order by their data array.
    """
    if type(src) is WavetableSource:
        if src.table_ofs < 0:
            return len(KINDS), 0, 0
        return 0, src.tables.shape[1], len(src.incs)
    if type(src) is FMSource:
        return 1, 0, 0
    if type(src) is SampleSource:
        return 2, 0, id(src.data)
    return len(KINDS), 0, 0
