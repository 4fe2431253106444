"""Apollo's numba kernels: one nogil call renders every voice of a block, then limits it.

Why numba: the synth renders in a Python thread next to user code. Each numpy call that
releases the GIL costs up to a switch interval (5 ms) to get it back when a busy Python
thread runs, so a block must be as few GIL-releasing steps as possible; and per-sample
loops (table lookups, envelopes, sample playback) are far cheaper compiled than as
dozens of array passes. :func:`render_block` is that one step: all voices of all kinds
(wavetable, FM, sample, and externally rendered custom sources), their envelopes and
in-block events (releases, kills, channel changes at exact frames), the stereo mix and
the limiter, in one call that holds no GIL.

Voice state lives in two preallocated matrices (``F`` float64, ``Iv`` int64), one row per
voice slot, with the column layout below; ``voices.py`` writes a row when a note starts
and queues in-block changes as event rows ``(frame, kind, target, a, b, c, d)``.
Offline renders may use :func:`render_block_par` instead (``Synth(render_threads=N)``):
the same per-voice code with voices split over threads, never on the real-time path.
Built-in wavetable/FM voices may also be played from the note cache (``notecache``):
the first voice of a note records its source into an arena, later ones copy it back
and only apply envelope, gain and pan (:func:`_cached`, the fast path in
:func:`_segment`), going live from their exact state on a bend (:func:`_goto`).
Kernels are compiled on first use and cached on disk (``cache=True``); where the package
directory is not writable the cache goes to ``$NUMBA_CACHE_DIR`` or a user cache dir
(``mos_lab._jit``, shared with the theater's compiled pixel loops).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from mos_lab._jit import jit
from mos_lab.audio.effects import process as fx_process

# fastmath without nnan/ninf: NaN from a custom source must survive to the limiter.
FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}
# A recurrence written in the order it should run (the SoundFont filter): no reassoc.
FILTER = {"nsz", "arcp", "contract", "afn"}


def _jit(fastmath: set[str] | bool, nogil: bool = True) -> Callable[[Callable[..., Any]], Any]:
    """``njit(nogil=..., cache=True)`` (``mos_lab._jit``), uncached where nothing is writable.

    No numba IR-level inlining (``inline="always"``): it made the first compile of the
    kernels take ~140 s instead of ~22 s (a new install's first playback and render wait
    for it), for no speed that stood out from the noise; LLVM still inlines small helpers.
    """
    return jit(fastmath=fastmath, nogil=nogil)


# -- the voice row layout ---------------------------------------------------------------
# F (float64) columns: envelope, level, source parameters and state.
F_A, F_H, F_DK, F_S = 0, 1, 2, 3  # attack frames, hold frames, decay rate, sustain level
F_RLEVEL, F_RLEN, F_RK, F_RSTART = 4, 5, 6, 7  # release: level, frames, rate, start t
F_GAIN, F_PAN = 8, 9
F_INC = 10  # 3 oscillator increments (cycles/frame); FM carrier; sample ratio
F_PH = 13  # 3 oscillator phases (cycles); FM carrier and modulator phases
F_NORM, F_BK, F_VINC, F_VDEPTH, F_VPH, F_NOISE, F_VFADE = 16, 17, 18, 19, 20, 21, 22
F_RATIO, F_I0, F_I1, F_IK = 23, 24, 25, 26  # FM
F_POS, F_END, F_LS, F_LE = 27, 28, 29, 30  # sample playback
F_PANOK, F_PANC, F_PANL, F_PANR = 31, 32, 33, 34  # last pan position and its cos/sin
# SoundFont 2.04 voices (K_SF2) only: envelopes in frames, LFOs, modulation amounts in
# cents/centibels, filter, release and per-chunk control state (see :func:`_sf2`).
S_VDEL, S_VATT, S_VHOLD, S_VDEC, S_VSUS, S_VREL = 36, 37, 38, 39, 40, 41  # volume env
S_MDEL, S_MATT, S_MHOLD, S_MDEC, S_MSUS, S_MREL = 42, 43, 44, 45, 46, 47  # modulation env
S_MLDEL, S_MLINC, S_VLDEL, S_VLINC = 48, 49, 50, 51  # LFO delays (frames), cycles/frame
S_P_ME, S_P_ML, S_P_VL = 52, 53, 54  # mod env, mod LFO, vibrato LFO to pitch (cents)
S_FC, S_FC_ME, S_FC_ML = 55, 56, 57  # filter cutoff (cents) and its modulation (cents)
S_QLIN, S_FGAIN, S_VOL_ML = 58, 59, 60  # filter Q (linear), its gain, mod LFO to volume cB
S_RT, S_RVOL, S_RMOD = 61, 62, 63  # release: voice frame, volume and mod env values then
S_X1, S_X2, S_Y1, S_Y2 = 64, 65, 66, 67  # filter memory
S_CA1, S_CA2, S_CB02, S_CB1 = 68, 69, 70, 71  # filter coefficients reached at chunk end
S_DA1, S_DA2, S_DB02, S_DB1 = 72, 73, 74, 75  # their per-frame ramp inside the chunk
S_LASTFC, S_CHUNK, S_AMP0, S_AMP1, S_RATE = 76, 77, 78, 79, 80  # chunk controls
S_VIB_CC1 = 81  # vibrato depth (cents) per unit of the channel's mod wheel (CC1 / 128)
S_SEND_REV, S_SEND_CHO, S_SR = 82, 83, 84  # reverb / chorus sends (0..1), sample rate
S_FLOOR = 85  # envelope level below which the voice has ended (SF2_FLOOR or quieter)
S_NEXT = 86  # voice frame at which S_AMP1 was evaluated (-1 after a release)
S_PWOFF = 87  # 1 - the pitch-wheel modulators' amount / 12800 (``sf2voice.voice_row``)
# Left/right output gains: the ones reached, the target, frames of ramp left (S_GON 0: the
# voice not yet mixed): a channel's volume or pan change glides over 64 frames.
S_GL, S_GR, S_GTL, S_GTR, S_GLEFT, S_GON = 88, 89, 90, 91, 92, 93
# Reverb / chorus send gains reached and their targets: a send change glides with them.
S_GRV, S_GCH, S_GTRV, S_GTCH = 94, 95, 96, 97
NF = 98
# Iv (int64) columns.
I_KIND, I_CH, I_T, I_START, I_REL, I_DONE, I_NOSC, I_TOFS, I_TSIZE = 0, 1, 2, 3, 4, 5, 6, 7, 8
I_DATA, I_LOOP, I_EXT, I_FIN, I_EXTFIN, I_ACTIVE = 9, 10, 11, 12, 13, 14
I_PMODE, I_ENT = 15, 16  # note-cache mode (PM_*) and entry of a cached built-in voice
I_FIX = 17  # K_SF2: sample position in 32.32 fixed point (F_POS follows it)
NI = 18
# Source kinds.
K_WAVE, K_FM, K_SAMPLE, K_EXT, K_SF2 = 0, 1, 2, 3, 4
SF2_CHUNK = 64  # SoundFont control rate: envelopes, LFOs, pitch and filter per 64 frames
SF2_FLOOR = 1e-5  # a SoundFont voice whose envelope is below -100 dB has ended
# Loop modes of a K_SF2 voice (``I_LOOP``, sampleModes): none, continuous, until release.
LOOP_NONE, LOOP_ON, LOOP_RELEASE = 0, 1, 3
# Event kinds: (frame, kind, target, a, b, c, d).
EV_REL, EV_KILL, EV_CHAN = 0, 1, 2
# (frame, EV_SET, voice, column, value): a live modulator's new value for a row column.
EV_SET = 3
EV_COLS = 7
# Note-cache modes (``I_PMODE``) of a wavetable/FM voice whose note has a cache entry:
# the entry holds the source's output (no envelope, no gain) at native pitch, frame t of
# the note at entry frame t, in chunks of ``CHUNK`` frames of one int16 arena (a source
# sample x is stored as round(x * CACHE_Q): 16 bits, like a SoundFont's samples, with
# room for sources up to +-2; reading moves half the bytes of float32, and a dense
# render streams the cache from memory).
PM_LIVE, PM_READ, PM_RECORD, PM_EXTEND = 0, 1, 2, 3  # EXTEND: read, then record onwards
CACHE_Q = 16384.0
CACHE_DQ = 1.0 / CACHE_Q
CHUNK_SHIFT = 12
CHUNK = 1 << CHUNK_SHIFT
# report: [finished voices, held past max_note, recorders near their entry's end, -,
#          finished slots (first NLIST), entries that want a chunk (first NLIST)]
NLIST = 128
R_DONE, R_WANT = 4, 4 + NLIST
NREPORT = 4 + 2 * NLIST
MAX_OSC = 3
LANES = 16  # envelope powers per vector step (_geom, _mixgeo)
VIB_CHUNK = 64  # vibrato is evaluated once per 128 frames of the voice's own clock
SILENT = 1e-4  # -80 dB: a percussive voice below this has finished
LN1000 = math.log(1000.0)  # decay/release times are "time to fall by 60 dB"
TWO_PI = 2.0 * math.pi
SQRT2 = math.sqrt(2.0)
SINE_SIZE = 4096
_SIN_PTS = np.sin(TWO_PI * np.arange(SINE_SIZE + 1) / SINE_SIZE)
SINE = np.ascontiguousarray(_SIN_PTS)
SINE_DELTA = np.zeros(SINE_SIZE + 1)
SINE_DELTA[:-1] = SINE[1:] - SINE[:-1]
SINE.flags.writeable = False
H32, C15, C2, C25 = np.float32(0.5), np.float32(1.5), np.float32(2.0), np.float32(2.5)
FIX32 = 4294967296.0  # 32.32 fixed-point sample positions (``_sf2_interp``)
MASK32 = 0xFFFFFFFF
INV32 = np.float32(2.0 ** -32)
U1, U2 = np.uint64(1), np.uint64(2)
LN10 = math.log(10.0)
CONVEX_K = 400.0 / 960.0  # the spec's convex curve: 1 + 20/96 * log10(x^2)
LN2_1200 = math.log(2.0) / 1200.0
NO_FX = np.zeros(1)  # no master effects (``effects.make_state`` makes a real state)
SINE_DELTA.flags.writeable = False


# -- shared helpers (also used by the numpy reference renders) ----------------------------
@_jit(FAST)
def noise_fill(state: np.ndarray, out: np.ndarray, scale: float) -> None:
    """Add ``scale`` x unit-variance white noise to ``out`` from the LCG ``state[0]``.

    Uniform, not Gaussian: one multiply-add per sample, and white noise sounds the same.
    """
    s = state[0]
    k = scale * 3.4641016151377544 / 9007199254740992.0  # sqrt(12) / 2**53
    for i in range(out.shape[0]):
        s = s * np.uint64(6364136223846793005) + np.uint64(1442695040888963407)
        out[i] += k * (float(s >> np.uint64(11)) - 4503599627370496.0)
    state[0] = s


def noise_seed(seed: int) -> int:
    """A well-mixed non-zero LCG state from a small integer seed (splitmix64)."""
    z = (int(seed) + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) or 1


@_jit(FAST)
def _sine(sine: np.ndarray, sdelta: np.ndarray, cycles: float) -> float:
    x = cycles * SINE_SIZE + 8.0 * SINE_SIZE  # >= 0 for |phase modulation| < 8 cycles
    k = np.int32(x)
    j = k & np.int32(SINE_SIZE - 1)
    return sine[j] + sdelta[j] * (x - k)


@_jit(FAST)
def sine_cycles(cycles: np.ndarray, out: np.ndarray) -> None:
    """``out = sin(2*pi*cycles)`` by the interpolated table the FM kernel uses."""
    for i in range(cycles.shape[0]):
        out[i] = _sine(SINE, SINE_DELTA, cycles[i])


def vibrato_mod(t0: int, n: int, vph: float, vinc: float, depth: float,
                fade_k: float) -> np.ndarray:
    """Frequency multipliers for frames ``t0..t0+n`` (numpy reference of the kernel).

    Constant over chunks of ``VIB_CHUNK`` frames of the voice clock (value at the chunk
    start), so a voice's pitch curve does not depend on how blocks are split.
    """
    t = t0 + np.arange(n)
    cs = t - t % VIB_CHUNK
    fade = np.minimum(1.0, cs * fade_k)
    return 1.0 + depth * fade * np.sin(TWO_PI * (vph + vinc * (cs - t0)))


# -- per-voice pieces ------------------------------------------------------------------
@_jit(FAST)
def _geom(out: np.ndarray, a: int, b: int, x: float, r: float) -> None:
    """``out[a+i] = x * r**i`` in ``LANES``-wide steps (no per-sample exp, no recurrence).

    ``r**i`` for one step's lanes is computed once (into the step's first lanes), then
    each step is its scale ``x * r**(LANES*q)`` times those powers: the loop vectorises.
    :func:`_mixgeo` takes the same powers in the same order (a fused envelope follows
    this one to rounding).
    """
    o = out[a:b]
    n = b - a
    k = min(n, LANES)
    pw = 1.0
    for i in range(k):
        o[i] = pw
        pw *= r
    if n > LANES:
        p = o[:LANES]
        xq = x
        for q in range(1, n // LANES):
            xq *= pw
            d = o[q * LANES:(q + 1) * LANES]
            for i in range(LANES):
                d[i] = xq * p[i]
        j = n - n % LANES
        if j >= LANES and j < n:
            xq *= pw
            d = o[j:n]
            for i in range(n - j):
                d[i] = xq * p[i]
    for i in range(k):
        o[i] = x * o[i]


@_jit(FAST)
def _env(F: np.ndarray, v: int, released: bool, t0: int, m: int, out: np.ndarray) -> float:
    """Envelope values for ``m`` frames from voice time ``t0`` into ``out[:m]``.

    Returns -1.0 when it filled ``out``, or the level when it is constant (hold, full
    sustain) and ``out`` was left alone.
    """
    if released:
        scale = F[v, F_RLEVEL] / 0.999
        k = F[v, F_RK]
        _geom(out, 0, m, math.exp(-k * (t0 - F[v, F_RSTART])), math.exp(-k))
        for i in range(m):
            g = (out[i] - 0.001) * scale
            out[i] = g if g > 0.0 else 0.0
        return -1.0
    att = F[v, F_A]
    off = att + F[v, F_H]
    s = F[v, F_S]
    if t0 >= att and (t0 + m <= off or (s == 1.0 and t0 >= off)):
        return 1.0
    i = 0
    while i < m and t0 + i < att:
        g = (t0 + i + 1.0) / att
        out[i] = g if g < 1.0 else 1.0
        i += 1
    while i < m and t0 + i < off:
        out[i] = 1.0
        i += 1
    if i >= m:
        return -1.0
    rest = out[i:m]
    if s == 1.0:
        for j in range(m - i):
            rest[j] = 1.0
        return -1.0
    dk = F[v, F_DK]
    _geom(out, i, m, math.exp(-dk * (t0 + i - off)), math.exp(-dk))
    for j in range(m - i):
        rest[j] = s + (1.0 - s) * rest[j]
    return -1.0


@_jit(FAST)
def _finished(F: np.ndarray, Iv: np.ndarray, v: int) -> bool:
    """The envelope has reached silence (released, or a percussive decay)."""
    if Iv[v, I_KIND] == K_SF2:
        return _sf2_done(F, Iv, v)
    t = Iv[v, I_T]
    if Iv[v, I_REL] != 0:
        return t - F[v, F_RSTART] >= F[v, F_RLEN]
    off = F[v, F_A] + F[v, F_H]
    if F[v, F_S] == 0.0 and t > off:
        return math.exp(-F[v, F_DK] * (t - off)) < SILENT
    return False


@_jit(FAST)
def _osc(tab: np.ndarray, base: int, size: int, ph: np.ndarray,
         inc: np.ndarray, nosc: int, a: int, b: int, out: np.ndarray) -> None:
    """Write the sum of ``nosc`` interpolated table oscillators into ``out[a:b]``.

    One pass for all oscillators (no read-modify-write of ``out`` per oscillator).
    Loops run on slices from 0 and table rows are unsigned, so numba adds no
    negative-index fix-up per access and the loops vectorise (gathers).
    """
    fsize = float(size)
    mask = np.int32(size - 1)
    ib = np.uint32(base)
    o = out[a:b]
    n = b - a
    p0 = ph[0]
    i0 = inc[0]
    if nosc == 1:
        for i in range(n):
            x = (p0 + i0 * i) * fsize
            k = np.int32(x)
            j = ib + np.uint32(k & mask)
            o[i] = tab[j, 0] + tab[j, 1] * (x - k)
        return
    p1 = ph[1]
    i1 = inc[1]
    if nosc == 2:
        for i in range(n):
            x = (p0 + i0 * i) * fsize
            y = (p1 + i1 * i) * fsize
            k = np.int32(x)
            q = np.int32(y)
            j = ib + np.uint32(k & mask)
            h = ib + np.uint32(q & mask)
            o[i] = tab[j, 0] + tab[j, 1] * (x - k) + tab[h, 0] + tab[h, 1] * (y - q)
        return
    p2 = ph[2]
    i2 = inc[2]
    for i in range(n):
        x = (p0 + i0 * i) * fsize
        y = (p1 + i1 * i) * fsize
        z = (p2 + i2 * i) * fsize
        k = np.int32(x)
        q = np.int32(y)
        r = np.int32(z)
        j = ib + np.uint32(k & mask)
        h = ib + np.uint32(q & mask)
        g = ib + np.uint32(r & mask)
        o[i] = (tab[j, 0] + tab[j, 1] * (x - k) + tab[h, 0] + tab[h, 1] * (y - q)
                + tab[g, 0] + tab[g, 1] * (z - r))


@_jit(FAST)
def _oscx(tab: np.ndarray, base: int, size: int, ph: np.ndarray, inc: np.ndarray,
          nosc: int, a: int, b: int, w: np.ndarray, norm: float, out: np.ndarray) -> None:
    """``out[a:b] = norm * (mellow + w * (bright - mellow))``, both sums in one pass.

    ``base`` is the mellow table; the bright one sits ``size + 1`` rows before it. One
    index/fraction per oscillator serves both tables (the crossfade used to be two
    :func:`_osc` passes and a third mixing pass). Slices and unsigned rows as in
    :func:`_osc`.
    """
    fsize = float(size)
    mask = np.int32(size - 1)
    ib = np.uint32(base)
    hb = np.uint32(base - size - 1)
    o = out[a:b]
    ww = w[a:b]
    n = b - a
    p0 = ph[0]
    i0 = inc[0]
    if nosc == 1:
        for i in range(n):
            x = (p0 + i0 * i) * fsize
            k = np.int32(x)
            f = x - k
            u = np.uint32(k & mask)
            j = ib + u
            jb = hb + u
            lo = tab[j, 0] + tab[j, 1] * f
            hi = tab[jb, 0] + tab[jb, 1] * f
            o[i] = (lo + ww[i] * (hi - lo)) * norm
        return
    p1 = ph[1]
    i1 = inc[1]
    if nosc == 2:
        for i in range(n):
            x = (p0 + i0 * i) * fsize
            y = (p1 + i1 * i) * fsize
            k = np.int32(x)
            q = np.int32(y)
            f = x - k
            e = y - q
            u = np.uint32(k & mask)
            uq = np.uint32(q & mask)
            j = ib + u
            h = ib + uq
            jb = hb + u
            hh = hb + uq
            lo = tab[j, 0] + tab[j, 1] * f + tab[h, 0] + tab[h, 1] * e
            hi = tab[jb, 0] + tab[jb, 1] * f + tab[hh, 0] + tab[hh, 1] * e
            o[i] = (lo + ww[i] * (hi - lo)) * norm
        return
    p2 = ph[2]
    i2 = inc[2]
    for i in range(n):
        x = (p0 + i0 * i) * fsize
        y = (p1 + i1 * i) * fsize
        z = (p2 + i2 * i) * fsize
        k = np.int32(x)
        q = np.int32(y)
        r = np.int32(z)
        f = x - k
        e = y - q
        d = z - r
        u = np.uint32(k & mask)
        uq = np.uint32(q & mask)
        ur = np.uint32(r & mask)
        j = ib + u
        h = ib + uq
        g = ib + ur
        jb = hb + u
        hh = hb + uq
        gb = hb + ur
        lo = (tab[j, 0] + tab[j, 1] * f + tab[h, 0] + tab[h, 1] * e
              + tab[g, 0] + tab[g, 1] * d)
        hi = (tab[jb, 0] + tab[jb, 1] * f + tab[hh, 0] + tab[hh, 1] * e
              + tab[gb, 0] + tab[gb, 1] * d)
        o[i] = (lo + ww[i] * (hi - lo)) * norm


@_jit(FAST)
def _wave(F: np.ndarray, Iv: np.ndarray, rng: np.ndarray, v: int, tab: np.ndarray, m: int,
          bend: float, t0: int, buf: np.ndarray, buf2: np.ndarray, ph: np.ndarray,
          inc: np.ndarray) -> None:
    """Wavetable voice: detuned oscillators, vibrato, bright->mellow crossfade, noise.

    ``ph``/``inc`` are 3-element scratch for the oscillators' phases and steps; while
    the crossfade runs, ``buf2`` holds its weights ``exp(-bk * t)``.
    """
    size = Iv[v, I_TSIZE]
    bk = F[v, F_BK]
    prim = Iv[v, I_TOFS] + (size + 1 if bk > 0.0 else 0)
    xf = bk > 0.0 and t0 * bk < 7.0
    norm = F[v, F_NORM]
    if xf:  # buf = (mellow + w * (bright - mellow)) * norm, w = exp(-bk * t)
        _geom(buf2, 0, m, math.exp(-bk * t0), math.exp(-bk))
    nosc = Iv[v, I_NOSC]
    for o in range(nosc):
        ph[o] = F[v, F_PH + o]
    depth = F[v, F_VDEPTH]
    if depth > 0.0:
        vinc = F[v, F_VINC]
        vph = F[v, F_VPH]
        fade_k = F[v, F_VFADE]
        i = 0
        while i < m:
            t = t0 + i
            cs = t - t % VIB_CHUNK
            end = min(m, i + VIB_CHUNK - (t - cs))
            fade = min(1.0, cs * fade_k)
            mod = bend * (1.0 + depth * fade * math.sin(TWO_PI * (vph + vinc * (cs - t0))))
            for o in range(nosc):
                inc[o] = F[v, F_INC + o] * mod
            if xf:
                _oscx(tab, prim, size, ph, inc, nosc, i, end, buf2, norm, buf)
            else:
                _osc(tab, prim, size, ph, inc, nosc, i, end, buf)
            for o in range(nosc):
                ph[o] += inc[o] * (end - i)
            i = end
        for o in range(nosc):
            F[v, F_PH + o] = ph[o] % 1.0
        F[v, F_VPH] = (vph + vinc * m) % 1.0
    else:
        for o in range(nosc):
            inc[o] = F[v, F_INC + o] * bend
        if xf:
            _oscx(tab, prim, size, ph, inc, nosc, 0, m, buf2, norm, buf)
        else:
            _osc(tab, prim, size, ph, inc, nosc, 0, m, buf)
        for o in range(nosc):
            F[v, F_PH + o] = (ph[o] + inc[o] * m) % 1.0
    if not xf and norm != 1.0:
        for i in range(m):
            buf[i] *= norm
    if F[v, F_NOISE] > 0.0:
        noise_fill(rng[v:v + 1], buf[:m], F[v, F_NOISE])


@_jit(FAST)
def _fm(F: np.ndarray, v: int, sine: np.ndarray, sdelta: np.ndarray, m: int, bend: float,
        t0: int, buf: np.ndarray, env: np.ndarray) -> None:
    """Two-operator FM with a decaying index (``env`` is scratch for the index)."""
    inc = F[v, F_INC] * bend
    minc = inc * F[v, F_RATIO]
    ph = F[v, F_PH]
    mph = F[v, F_PH + 1]
    i1 = F[v, F_I1]
    span = (F[v, F_I0] - i1) / TWO_PI
    ik = F[v, F_IK]
    _geom(env, 0, m, math.exp(-ik * t0), math.exp(-ik))
    for i in range(m):
        mod = _sine(sine, sdelta, mph + minc * i)
        idx = i1 / TWO_PI + span * env[i]
        buf[i] = _sine(sine, sdelta, ph + inc * i + idx * mod)
    F[v, F_PH] = (ph + inc * m) % 1.0
    F[v, F_PH + 1] = (mph + minc * m) % 1.0


@_jit(FAST)
def _sample(F: np.ndarray, Iv: np.ndarray, v: int, data: np.ndarray, m: int, bend: float,
            buf: np.ndarray) -> None:
    """Sample playback at a pitch ratio, with an optional sustain loop (a one-shot at
    native pitch never comes here: :func:`_segment` mixes it straight from ``data``)."""
    r = F[v, F_INC] * bend
    pos = F[v, F_POS]
    if Iv[v, I_LOOP] != 0:
        ls = F[v, F_LS]
        le = F[v, F_LE]
        span = le - ls
        ispan = int(span)
        ile = int(le)
        for i in range(m):
            p = pos + r * i
            if p >= le:
                p = ls + (p - ls) % span
            i0 = np.int32(p)
            i1 = i0 + 1
            if i1 >= ile:
                i1 -= ispan
            f = p - i0
            buf[i] = data[i0] * (1.0 - f) + data[i1] * f
        nxt = pos + r * m
        F[v, F_POS] = ls + (nxt - ls) % span if nxt >= le else nxt
        return
    last = F[v, F_END] - 1.0
    ilast = np.int32(last)
    for i in range(m):
        p = pos + r * i
        if p < last:
            i0 = np.int32(p)
            i1 = min(i0 + 1, ilast)
            f = p - i0
            buf[i] = data[i0] * (1.0 - f) + data[i1] * f
        else:
            buf[i] = 0.0
    F[v, F_POS] = pos + r * m
    if pos + r * m >= last:
        Iv[v, I_FIN] = 1


@_jit(FAST)
def _tri(t: float, delay: float, inc: float) -> float:
    """Triangle LFO at voice frame ``t``: 0 until ``delay``, then up from 0, +-1 peaks."""
    if t < delay:
        return 0.0
    ph = ((t - delay) * inc) % 1.0
    if ph < 0.25:
        return 4.0 * ph
    if ph < 0.75:
        return 2.0 - 4.0 * ph
    return 4.0 * ph - 4.0


@_jit(FAST)
def _modenv(F: np.ndarray, Iv: np.ndarray, v: int, t: float) -> float:
    """SoundFont modulation envelope (0..1) at voice frame ``t``: a convex attack (spec
    8.1.2 #26: linear in Hz or amplitude when applied to cents or cB; FluidSynth's
    128-step table), then linear hold, decay and release. :func:`_sf2_chunk` reads it
    at each chunk's end, as FluidSynth uses a block's envelope value after advancing."""
    if Iv[v, I_REL] != 0 and t >= F[v, S_RT]:
        rel = F[v, S_MREL]
        x = F[v, S_RMOD] - (t - F[v, S_RT]) / rel if rel > 0.0 else 0.0
        return x if x > 0.0 else 0.0
    t -= F[v, S_MDEL]
    if t < 0.0:
        return 0.0
    att = F[v, S_MATT]
    if t < att or (t == att and att > 0.0):  # convex, on FluidSynth's 128-step table
        i = int(127.0 * t / att)
        return 0.0 if i <= 0 else (1.0 if i >= 127 else 1.0 + CONVEX_K * math.log10(i / 127.0))
    t -= att + F[v, S_MHOLD]
    if t <= 0.0:  # (the hold's last frame still holds: FluidSynth's block after it decays)
        return 1.0
    sus = F[v, S_MSUS]
    dec = F[v, S_MDEC]
    x = 1.0 - t / dec if dec > 0.0 else sus
    return x if x > sus else sus


@_jit(FAST)
def _volval(F: np.ndarray, v: int, t: float) -> tuple[float, bool]:
    """Held volume envelope at frame ``t``: (value, in attack) as FluidSynth keeps it:
    the attack is linear in amplitude, later stages linear in the 0..1 value of 96 dB."""
    t -= F[v, S_VDEL]
    if t < 0.0:
        return 0.0, True
    att = F[v, S_VATT]
    if t < att:
        return t / att, True
    t -= att + F[v, S_VHOLD]
    if t <= 0.0:  # (as in :func:`_modenv`)
        return 1.0, False
    sus = F[v, S_VSUS]
    dec = F[v, S_VDEC]
    x = 1.0 - t / dec if dec > 0.0 else sus
    return (x if x > sus else sus), False


@_jit(FAST)
def _volamp(F: np.ndarray, Iv: np.ndarray, v: int, t: float) -> float:
    """Volume envelope amplitude (0..1) at voice frame ``t``, release included."""
    if Iv[v, I_REL] != 0 and t >= F[v, S_RT]:
        rel = F[v, S_VREL]
        x = F[v, S_RVOL] - (t - F[v, S_RT]) / rel if rel > 0.0 else 0.0
        if x <= 0.0:
            return 0.0
        return math.exp(-4.8 * LN10 * (1.0 - x))
    x, attack = _volval(F, v, t)
    if attack:
        return x
    return math.exp(-4.8 * LN10 * (1.0 - x))


@_jit(FAST)
def sf2_release(F: np.ndarray, Iv: np.ndarray, v: int, frames: float) -> None:
    """Start a SoundFont voice's release now (its frame ``Iv[v, I_T]``) over ``frames``
    for the full 96 dB: from the envelope's value (an attack level converted to it)."""
    t = float(Iv[v, I_T])
    if Iv[v, I_REL] != 0 and t >= F[v, S_RT]:  # released again (a steal): from here
        rel = F[v, S_VREL]
        x = F[v, S_RVOL] - (t - F[v, S_RT]) / rel if rel > 0.0 else 0.0
    else:
        x, attack = _volval(F, v, t)
        if attack:
            x = 1.0 + 200.0 * math.log10(x) / 960.0 if x > 1e-9 else 0.0
    m = _modenv(F, Iv, v, t)
    F[v, S_RVOL] = min(1.0, max(0.0, x))
    F[v, S_RMOD] = m
    F[v, S_RT] = t
    F[v, S_VREL] = frames
    F[v, S_NEXT] = -1.0
    Iv[v, I_REL] = 1


@_jit(FAST)
def _sf2_done(F: np.ndarray, Iv: np.ndarray, v: int) -> bool:
    """A SoundFont voice has faded below its floor (released or decayed): ``S_FLOOR``,
    the higher of -100 dB under the note and FluidSynth's noise floor (-90 dB of full
    scale for the voice's own gain), so a note ends when FluidSynth's would."""
    t = float(Iv[v, I_T])
    floor = F[v, S_FLOOR]
    if Iv[v, I_REL] != 0:
        return _volamp(F, Iv, v, t) < floor
    x, attack = _volval(F, v, t)
    return not attack and x <= F[v, S_VSUS] and math.exp(-4.8 * LN10 * (1.0 - x)) < floor


@_jit(FAST)
def _sf2_chunk(F: np.ndarray, Iv: np.ndarray, v: int, tc: int, sr: float, bend: float,
               modw: float) -> None:
    """Controls of the 64-frame chunk starting at voice frame ``tc``: pitch step,
    amplitude at both ends (with the mod LFO on volume), filter coefficients ramped from
    the previous chunk's (FluidSynth's RBJ low-pass with its Q and gain rules)."""
    ft = float(tc)
    me = 0.0
    if F[v, S_P_ME] != 0.0 or F[v, S_FC_ME] != 0.0:
        me = _modenv(F, Iv, v, ft + SF2_CHUNK)
    ml = ml1 = 0.0
    if F[v, S_P_ML] != 0.0 or F[v, S_FC_ML] != 0.0 or F[v, S_VOL_ML] != 0.0:
        ml = _tri(ft, F[v, S_MLDEL], F[v, S_MLINC])
        ml1 = _tri(ft + SF2_CHUNK, F[v, S_MLDEL], F[v, S_MLINC])
    depth = F[v, S_P_VL] + modw * F[v, S_VIB_CC1]
    cents = me * F[v, S_P_ME] + ml * F[v, S_P_ML]
    if depth != 0.0:
        cents += depth * _tri(ft, F[v, S_VLDEL], F[v, S_VLINC])
    pw = F[v, S_PWOFF]
    if pw != 0.0 and bend != 1.0:  # the wheel modulators' amount A: bend ** (A / 12800)
        bend = math.exp((1.0 - pw) * math.log(bend))
    F[v, S_RATE] = F[v, F_INC] * bend * (math.exp(cents * LN2_1200) if cents != 0.0 else 1.0)
    vml = F[v, S_VOL_ML]
    lv = math.exp(-ml * vml * (LN10 / 200.0)) if vml != 0.0 else 1.0
    lv1 = math.exp(-ml1 * vml * (LN10 / 200.0)) if vml != 0.0 else 1.0
    # The amplitude at this chunk's start is the last chunk's end value when nothing
    # changed in between (a release resets S_NEXT): one envelope evaluation per chunk.
    if F[v, S_NEXT] == ft and vml == 0.0:
        F[v, S_AMP0] = F[v, S_AMP1]
    else:
        F[v, S_AMP0] = _volamp(F, Iv, v, ft) * lv
    F[v, S_AMP1] = _volamp(F, Iv, v, ft + SF2_CHUNK) * lv1
    F[v, S_NEXT] = ft + SF2_CHUNK
    fc = F[v, S_FC] + me * F[v, S_FC_ME] + ml * F[v, S_FC_ML]
    first = F[v, S_CHUNK] < 0.0
    if first or fc != F[v, S_LASTFC]:
        hz = 8.175798915643707 * math.exp(fc * LN2_1200)
        hz = min(0.45 * sr, max(5.0, hz))
        th = math.tan(math.pi * hz / sr)  # sin and cos of w from tan(w / 2): one call
        t2 = th * th
        d = 1.0 / (1.0 + t2)
        sn = 2.0 * th * d
        cs = (1.0 - t2) * d
        alpha = sn / (2.0 * F[v, S_QLIN])
        a0 = 1.0 / (1.0 + alpha)
        a1 = -2.0 * cs * a0
        a2 = (1.0 - alpha) * a0
        b1 = (1.0 - cs) * a0 * F[v, S_FGAIN]
        b02 = 0.5 * b1
        if first:
            F[v, S_DA1] = F[v, S_DA2] = F[v, S_DB02] = F[v, S_DB1] = 0.0
        else:
            k = 1.0 / SF2_CHUNK
            F[v, S_DA1] = (a1 - F[v, S_CA1]) * k
            F[v, S_DA2] = (a2 - F[v, S_CA2]) * k
            F[v, S_DB02] = (b02 - F[v, S_CB02]) * k
            F[v, S_DB1] = (b1 - F[v, S_CB1]) * k
        F[v, S_CA1] = a1
        F[v, S_CA2] = a2
        F[v, S_CB02] = b02
        F[v, S_CB1] = b1
        F[v, S_LASTFC] = fc
    else:
        F[v, S_DA1] = F[v, S_DA2] = F[v, S_DB02] = F[v, S_DB1] = 0.0
    F[v, S_CHUNK] = tc


@_jit(FAST)
def _sf2_interp(data: np.ndarray, o: np.ndarray, x: int, inc: int, n: int) -> None:
    """``o[:n]``: ``data`` read from fixed-point position ``x`` (32.32) in steps of
    ``inc`` by 4-point cubic interpolation (FluidSynth's default), where all four points
    of every frame lie inside the data (the caller checks). Integer positions are exact
    however a chunk is cut into segments; the interpolation runs in float32 (the 16-bit
    samples' own precision): few int/float conversions, which bound this loop."""
    for k in range(n):
        u = np.uint64(x >> 32)  # (unsigned: no negative-index wraparound)
        f = np.float32(x & MASK32) * INV32
        x += inc
        s0 = data[u - U1]
        s1 = data[u]
        s2 = data[u + U1]
        s3 = data[u + U2]
        o[k] = np.float64(s1 + f * (H32 * (s2 - s0) + f * (
            s0 - C25 * s1 + C2 * s2 - H32 * s3 + f * (C15 * (s1 - s2) + H32 * (s3 - s0)))))


@_jit(FILTER)
def _sf2_filter(o: np.ndarray, n: int, x1: float, x2: float, y1: float, y2: float,
                a1: float, a2: float, b02: float, b1: float, da1: float, da2: float,
                db02: float, db1: float, g: float, dg: float
                ) -> tuple[float, float, float, float]:
    """``o[:n]`` through the 2-pole low-pass (coefficients ramped by ``d*`` per frame),
    times the amplitude ``g`` ramped by ``dg``, in place; returns the filter memory.
    Compiled without reassociation so the recurrence stays one multiply-add long."""
    for k in range(n):
        x = o[k]
        w = (b02 * (x + x2) + b1 * x1) - a2 * y2
        y = w - a1 * y1
        x2 = x1
        x1 = x
        y2 = y1
        y1 = y
        a1 += da1
        a2 += da2
        b02 += db02
        b1 += db1
        o[k] = g * y
        g += dg
    return x1, x2, y1, y2


@_jit(FAST)
def _sf2(F: np.ndarray, Iv: np.ndarray, v: int, data: np.ndarray, a: int, b: int,
         level: float, cpan: float, bend: float, modw: float, mix: np.ndarray,
         out: np.ndarray) -> None:
    """A SoundFont 2.04 voice, frames ``a:b`` of the block, mixed into ``mix``.

    Per 64-frame chunk of the voice's own clock (so block size never changes the
    result): envelopes, LFOs, pitch and filter cutoff as :func:`_sf2_chunk` computes
    them; per frame: 4-point cubic interpolation of the sample (as FluidSynth's
    default), the loop, the 2-pole resonant low-pass with its coefficients ramped over
    the chunk, and the amplitude ramped linearly across the chunk. The voice's mono
    output goes to ``out`` (scratch), then one vectorised pass adds it to the stereo
    and send rows. Frames whose four points lie inside the sample (or loop) take the
    fast interpolation; only those next to an edge or a loop wrap go one by one.
    """
    t = Iv[v, I_T]
    if F[v, S_CHUNK] < 0.0:  # the voice's first frames: its start in fixed point
        Iv[v, I_FIX] = int(F[v, F_POS] * FIX32 + 0.5)
    x = Iv[v, I_FIX]
    end = F[v, F_END]
    iend = int(end)
    ls = F[v, F_LS]
    le = F[v, F_LE]
    span = le - ls
    ispan = int(span)
    lex = int(le) << 32
    spanx = ispan << 32
    mode = Iv[v, I_LOOP]
    looping = mode == LOOP_ON or (mode == LOOP_RELEASE and Iv[v, I_REL] == 0)
    top = int(le) if looping else iend
    lim = ((top - 2) << 32) - 1  # the last position whose 4 points lie below ``top``
    first = int(F[v, F_RLEN])  # first frame of the sample (F_RLEN is unused by K_SF2)
    x1 = F[v, S_X1]
    x2 = F[v, S_X2]
    y1 = F[v, S_Y1]
    y2 = F[v, S_Y2]
    i = a
    fin = False
    while i < b:
        tc = t - t % SF2_CHUNK
        if F[v, S_CHUNK] != tc:
            _sf2_chunk(F, Iv, v, tc, F[v, S_SR], bend, modw)
        e = min(b, i + (tc + SF2_CHUNK - t))
        inc = int(F[v, S_RATE] * FIX32 + 0.5)
        amp0 = F[v, S_AMP0]
        damp = (F[v, S_AMP1] - amp0) / SF2_CHUNK
        onset = tc == F[v, S_VDEL] and Iv[v, I_REL] == 0
        da1 = F[v, S_DA1]
        da2 = F[v, S_DA2]
        db02 = F[v, S_DB02]
        db1 = F[v, S_DB1]
        j0 = t - tc  # frames into the chunk
        back = SF2_CHUNK - 1 - j0
        n = e - i
        o = out[i - a:e - a]
        if tc < F[v, S_VDEL] and Iv[v, I_REL] == 0:
            # In the volume envelope's delay the voice is silent and its sample waits
            # (FluidSynth renders nothing then): it starts from its first frame after.
            for q in range(n):
                o[q] = 0.0
            t += n
            i = e
            continue
        k = 0
        while k < n:
            # Frames from k whose 4 points lie in [first, top): the fast interpolation.
            cnt = 0
            if (x >> 32) - 1 >= first and x <= lim:
                cnt = n - k if inc * (n - k - 1) <= lim - x else (lim - x) // inc + 1
            if cnt > 0:
                _sf2_interp(data, o[k:], x, inc, cnt)
                x += inc * cnt
                k += cnt
                while looping and x >= lex:
                    x -= spanx
                continue
            ip = x >> 32  # one frame next to an edge or a loop wrap
            f = (x & MASK32) * (1.0 / FIX32)
            if not looping and ip >= iend - 1:
                fin = True
                for q in range(k, n):
                    o[q] = 0.0
                break
            q = ip - 1
            s0 = data[q if q >= first else first]
            s1 = data[ip]
            q = ip + 1
            if looping and q >= le:
                q -= ispan
            s2 = data[q] if q < iend else 0.0
            q = ip + 2
            if looping and q >= le:
                q -= ispan
            s3 = data[q] if q < iend else 0.0
            o[k] = s1 + f * (0.5 * (s2 - s0) + f * (s0 - 2.5 * s1 + 2.0 * s2 - 0.5 * s3
                                                    + f * (1.5 * (s1 - s2) + 0.5 * (s3 - s0))))
            x += inc
            while looping and x >= lex:
                x -= spanx
            k += 1
        g0 = amp0 + damp * j0
        if onset:
            # The voice's first sounding chunk as FluidSynth plays it: its amplitude
            # rises from 0 to the envelope's value at the chunk's end (before the
            # filter), and its output gain from 0 to the channel's (after it), both
            # linearly over the 64 frames: (j / 64)^2 of the envelope's value.
            for q in range(n):
                o[q] *= (j0 + q) * (1.0 / SF2_CHUNK)
            damp = F[v, S_AMP1] / SF2_CHUNK
            g0 = damp * j0
        x1, x2, y1, y2 = _sf2_filter(
            o, n, x1, x2, y1, y2, F[v, S_CA1] - da1 * back, F[v, S_CA2] - da2 * back,
            F[v, S_CB02] - db02 * back, F[v, S_CB1] - db1 * back, da1, da2, db02, db1,
            g0, damp)
        t += n
        i = e
        if fin:
            break
    Iv[v, I_FIX] = x
    F[v, F_POS] = x * (1.0 / FIX32)
    F[v, S_X1] = x1
    F[v, S_X2] = x2
    F[v, S_Y1] = y1
    F[v, S_Y2] = y2
    if fin:
        Iv[v, I_FIN] = 1
    _sf2_mix(F, v, mix, a, i, out, level, cpan)


@_jit(FAST)
def _sf2_mix(F: np.ndarray, v: int, mix: np.ndarray, a: int, b: int, src: np.ndarray,
             level: float, cpan: float) -> None:
    """``mix[:, a:b] += src * (gl, gr, reverb send, chorus send)`` of voice ``v``: one
    vectorised pass (the sends only where the mix has their rows and they are on).

    A change of any of these gains (the channel's volume, expression or pan, a live
    modulator's attenuation, pan or send on a sounding voice) glides to them linearly
    over 64 frames, as FluidSynth ramps its voice and output amplitudes over a block:
    no step, no click."""
    gl, gr = _gains(F, v, level, cpan)
    m = b - a
    s = src[:m]
    ml = mix[0, a:b]
    mr = mix[1, a:b]
    sends = mix.shape[0] >= 4
    sv = level * F[v, F_GAIN]
    srev = sv * F[v, S_SEND_REV] if sends else 0.0
    scho = sv * F[v, S_SEND_CHO] if sends else 0.0
    r = 0
    if F[v, S_GON] == 0.0:
        F[v, S_GON] = 1.0
        F[v, S_GL] = F[v, S_GTL] = gl
        F[v, S_GR] = F[v, S_GTR] = gr
        F[v, S_GRV] = F[v, S_GTRV] = srev
        F[v, S_GCH] = F[v, S_GTCH] = scho
        F[v, S_GLEFT] = 0.0
    elif (gl != F[v, S_GTL] or gr != F[v, S_GTR] or srev != F[v, S_GTRV]
          or scho != F[v, S_GTCH]):
        F[v, S_GTL] = gl
        F[v, S_GTR] = gr
        F[v, S_GTRV] = srev
        F[v, S_GTCH] = scho
        F[v, S_GLEFT] = SF2_CHUNK
    left = int(F[v, S_GLEFT])
    if left > 0:
        cl = F[v, S_GL]
        cr = F[v, S_GR]
        cv = F[v, S_GRV]
        cc = F[v, S_GCH]
        dl = (gl - cl) / left
        dr = (gr - cr) / left
        dv = (srev - cv) / left
        dc = (scho - cc) / left
        r = min(left, m)
        for k in range(r):  # (the first frame still at the old gains, as FluidSynth)
            ml[k] += cl * s[k]
            mr[k] += cr * s[k]
            cl += dl
            cr += dr
        if sends and (cv != 0.0 or dv != 0.0):
            for k in range(r):
                mix[2, a + k] += cv * s[k]
                cv += dv
        if sends and (cc != 0.0 or dc != 0.0):
            for k in range(r):
                mix[3, a + k] += cc * s[k]
                cc += dc
        F[v, S_GLEFT] = left - r
        F[v, S_GL] = cl if left > r else gl
        F[v, S_GR] = cr if left > r else gr
        F[v, S_GRV] = (F[v, S_GRV] + dv * r) if left > r else srev
        F[v, S_GCH] = (F[v, S_GCH] + dc * r) if left > r else scho
        if r == m:
            return
        s = s[r:]
        ml = ml[r:]
        mr = mr[r:]
        a += r
        m -= r
    if srev != 0.0 and scho != 0.0:
        mrev = mix[2, a:b]
        mcho = mix[3, a:b]
        for k in range(m):
            y = s[k]
            ml[k] += gl * y
            mr[k] += gr * y
            mrev[k] += srev * y
            mcho[k] += scho * y
        return
    for k in range(m):
        y = s[k]
        ml[k] += gl * y
        mr[k] += gr * y
    if srev != 0.0:
        mrev = mix[2, a:b]
        for k in range(m):
            mrev[k] += srev * s[k]
    if scho != 0.0:
        mcho = mix[3, a:b]
        for k in range(m):
            mcho[k] += scho * s[k]


@_jit(FAST)
def lcg_jump(s: np.uint64, n: int) -> np.uint64:
    """The noise LCG state after ``n`` steps from ``s`` (O(log n) compositions)."""
    a = np.uint64(6364136223846793005)
    c = np.uint64(1442695040888963407)
    ra = np.uint64(1)
    rc = np.uint64(0)
    while n > 0:
        if n & 1:
            ra = ra * a
            rc = rc * a + c
        c = (a + np.uint64(1)) * c
        a = a * a
        n >>= 1
    return s * ra + rc


@_jit(FAST)
def _goto(F: np.ndarray, Iv: np.ndarray, rng: np.ndarray, v: int, t: int) -> None:
    """Move a voice's source state (phases, vibrato, noise) from note start to frame ``t``.

    Why: a voice played from the note cache never ran its oscillators; when it must go
    live (a pitch bend, or past the cached part) its state at ``t`` is computed here, at
    native pitch, without rendering (vibrato integrated per ``VIB_CHUNK``, as rendered).
    """
    if Iv[v, I_KIND] == K_FM:
        inc = F[v, F_INC]
        F[v, F_PH] = (F[v, F_PH] + inc * t) % 1.0
        F[v, F_PH + 1] = (F[v, F_PH + 1] + inc * F[v, F_RATIO] * t) % 1.0
        return
    nosc = Iv[v, I_NOSC]
    depth = F[v, F_VDEPTH]
    steps = float(t)
    if depth > 0.0:
        vinc = F[v, F_VINC]
        vph = F[v, F_VPH]
        fade_k = F[v, F_VFADE]
        steps = 0.0
        c = 0
        while c < t:
            end = min(t, c + VIB_CHUNK)
            fade = min(1.0, c * fade_k)
            steps += (1.0 + depth * fade * math.sin(TWO_PI * (vph + vinc * c))) * (end - c)
            c = end
        F[v, F_VPH] = (vph + vinc * t) % 1.0
    for o in range(nosc):
        F[v, F_PH + o] = (F[v, F_PH + o] + F[v, F_INC + o] * steps) % 1.0
    if F[v, F_NOISE] > 0.0:
        rng[v] = lcg_jump(rng[v], t)


@_jit(FAST)
def _span(etab: np.ndarray, e: int, t: int, left: int) -> tuple[int, int]:
    """Where frame ``t`` of cache entry ``e`` is in the arena, and how many of the
    ``left`` frames from there lie in the same chunk."""
    o = t & (CHUNK - 1)
    return int(etab[e, t >> CHUNK_SHIFT]) * CHUNK + o, min(left, CHUNK - o)


@_jit(FAST)
def _read(arena: np.ndarray, etab: np.ndarray, e: int, t0: int, m: int,
          buf: np.ndarray) -> None:
    """``buf[:m]`` = cache entry ``e`` frames ``t0..t0+m`` (across its chunks)."""
    i = 0
    while i < m:
        base, k = _span(etab, e, t0 + i, m - i)
        src = arena[base:base + k]
        dst = buf[i:i + k]
        for j in range(k):
            dst[j] = src[j] * CACHE_DQ
        i += k


@_jit(FAST)
def _write(arena: np.ndarray, etab: np.ndarray, e: int, t0: int, m: int,
           buf: np.ndarray) -> None:
    """Cache entry ``e`` frames ``t0..t0+m`` = ``buf[:m]`` (rounded to 16 bits)."""
    i = 0
    while i < m:
        base, k = _span(etab, e, t0 + i, m - i)
        dst = arena[base:base + k]
        src = buf[i:i + k]
        for j in range(k):
            x = min(32767.0, max(-32767.0, src[j] * CACHE_Q))
            dst[j] = np.int16(x + 0.5 if x >= 0.0 else x - 0.5)
        i += k


@_jit(FAST)
def _live(F: np.ndarray, Iv: np.ndarray, rng: np.ndarray, v: int, m: int, bend: float,
          t0: int, tab: np.ndarray, sine: np.ndarray, sdelta: np.ndarray, buf: np.ndarray,
          buf2: np.ndarray, env: np.ndarray, sc: np.ndarray) -> None:
    """Render ``m`` frames of a wavetable or FM voice's source into ``buf``."""
    if Iv[v, I_KIND] == K_WAVE:
        _wave(F, Iv, rng, v, tab, m, bend, t0, buf, buf2, sc[:MAX_OSC],
              sc[MAX_OSC:2 * MAX_OSC])
    else:
        _fm(F, v, sine, sdelta, m, bend, t0, buf, env)


@_jit(FAST)
def _cached(F: np.ndarray, Iv: np.ndarray, rng: np.ndarray, v: int, m: int, bend: float,
            t0: int, tab: np.ndarray, sine: np.ndarray, sdelta: np.ndarray,
            buf: np.ndarray, buf2: np.ndarray, env: np.ndarray, sc: np.ndarray,
            arena: np.ndarray, etab: np.ndarray, E: np.ndarray, report: np.ndarray) -> None:
    """Source of a voice with a note-cache entry: read what is cached, else render live.

    Readers copy frames ``t0..`` of the entry (native pitch only). Past its recorded
    length, or on a pitch bend, the voice goes live from its state at that frame; a
    recorder (the one voice per entry that may write) appends what it renders, at
    native pitch, while the entry has room. ``E[e] = (recorded frames, capacity,
    asked for a chunk)``.
    """
    e = Iv[v, I_ENT]
    mode = Iv[v, I_PMODE]
    k = 0
    if mode in (PM_READ, PM_EXTEND):
        if bend == 1.0:
            k = min(m, max(0, E[e, 0] - t0))
            if k > 0:
                _read(arena, etab, e, t0, k, buf)
        if k == m:
            return
        ts = t0 + k
        _goto(F, Iv, rng, v, ts)
        mode = PM_RECORD if mode == PM_EXTEND and bend == 1.0 and E[e, 0] == ts else PM_LIVE
        Iv[v, I_PMODE] = mode
    ts = t0 + k
    _live(F, Iv, rng, v, m - k, bend, ts, tab, sine, sdelta, buf[k:], buf2, env, sc)
    if mode == PM_RECORD:
        w = 0
        if bend == 1.0 and E[e, 0] == ts:
            w = max(0, min(m - k, E[e, 1] - ts))
            if w > 0:
                _write(arena, etab, e, ts, w, buf[k:])
                E[e, 0] = ts + w
        if w < m - k:
            Iv[v, I_PMODE] = PM_LIVE  # bent, or the entry is full: the entry ends here
        elif E[e, 1] - E[e, 0] < CHUNK and E[e, 2] == 0:
            E[e, 2] = 1  # ask for another chunk before this recorder runs out
            if report[2] < NLIST:
                report[R_WANT + report[2]] = e
            report[2] += 1


@_jit(FAST)
def _gains(F: np.ndarray, v: int, level: float, cpan: float) -> tuple[float, float]:
    """Left/right gains of voice ``v``: level, gain and equal-power pan (cos/sin kept)."""
    p = cpan + F[v, F_PAN]
    p = min(1.0, max(-1.0, p))
    if F[v, F_PANOK] == 0.0 or F[v, F_PANC] != p:  # pan moved: new cos/sin
        angle = (p + 1.0) * math.pi / 4.0
        F[v, F_PANOK] = 1.0
        F[v, F_PANC] = p
        F[v, F_PANL] = math.cos(angle)
        F[v, F_PANR] = math.sin(angle)
    g = level * F[v, F_GAIN] * SQRT2
    return F[v, F_PANL] * g, F[v, F_PANR] * g


@_jit(FAST)
def _mixin(mix: np.ndarray, a: int, b: int, src: np.ndarray, env: np.ndarray,
           const: float, gl: float, gr: float) -> None:
    """``mix[:, a:b] += src * envelope * (gl, gr)``; ``const >= 0``: a constant envelope.

    Slices indexed from 0: ``x[a + i]`` would need a negative-index check per sample
    (numba wraps negative indices), which stops the loop from vectorising. ``src`` is
    float64 scratch or float32 note-cache samples.
    """
    m = b - a
    ml = mix[0, a:b]
    mr = mix[1, a:b]
    if const >= 0.0:
        gl *= const
        gr *= const
        for i in range(m):
            x = np.float64(src[i])
            ml[i] += x * gl
            mr[i] += x * gr
    else:
        ev = env[:m]
        for i in range(m):
            x = src[i] * ev[i]
            ml[i] += x * gl
            mr[i] += x * gr


@_jit(FAST)
def _mixgeo(mix: np.ndarray, a: int, b: int, src: np.ndarray, x: float, r: float,
            add: float, mul: float, clamp: bool, gl: float, gr: float,
            pw: np.ndarray) -> None:
    """``mix[:, a:b] += src * (add + mul * x * r**i) * (gl, gr)``, one pass.

    The envelope's decay or release (as :func:`_env` computes it, with
    :func:`_geom`'s powers) fused with the mix: no envelope buffer written and read
    back. ``clamp`` keeps the envelope from going below 0 (releases).
    ``pw`` is scratch for the ``LANES`` powers of ``r``; the inner loop vectorises.
    """
    m = b - a
    ml = mix[0, a:b]
    mr = mix[1, a:b]
    lo = 0.0 if clamp else -1e300  # the envelope's floor
    p = pw[:LANES]
    step = 1.0
    for i in range(LANES):
        p[i] = step
        step *= r
    xq = x
    nq = m // LANES
    for q in range(nq):
        j = q * LANES
        s = src[j:j + LANES]
        lft = ml[j:j + LANES]
        rgt = mr[j:j + LANES]
        for i in range(LANES):
            y = s[i] * max(add + mul * (xq * p[i]), lo)
            lft[i] += y * gl
            rgt[i] += y * gr
        xq *= step
    j = nq * LANES
    for i in range(m - j):
        y = src[j + i] * max(add + mul * (xq * p[i]), lo)
        ml[j + i] += y * gl
        mr[j + i] += y * gr


@_jit(FAST)
def _mix_env(F: np.ndarray, Iv: np.ndarray, v: int, a: int, b: int, t0: int,
             src: np.ndarray, off: float, sus: float, gl: float, gr: float,
             mix: np.ndarray, scratch: np.ndarray) -> None:
    """``mix[:, a:b] += src * envelope(t0..) * (gl, gr)`` for voice ``v`` (cached source)."""
    if Iv[v, I_REL] != 0:  # release: (exp - 0.001) * level / 0.999, not below 0
        k = F[v, F_RK]
        scale = F[v, F_RLEVEL] / 0.999
        _mixgeo(mix, a, b, src, math.exp(-k * (t0 - F[v, F_RSTART])), math.exp(-k),
                -0.001 * scale, scale, True, gl, gr, scratch[3])
    elif t0 >= off and sus < 1.0:  # decay towards the sustain level
        dk = F[v, F_DK]
        _mixgeo(mix, a, b, src, math.exp(-dk * (t0 - off)), math.exp(-dk), sus,
                1.0 - sus, False, gl, gr, scratch[3])
    else:
        env = scratch[2]
        _mixin(mix, a, b, src, env, _env(F, v, False, t0, b - a, env), gl, gr)


@_jit(FAST)
def _segment(F: np.ndarray, Iv: np.ndarray, rng: np.ndarray, v: int, a: int, b: int,
             level: float, cpan: float, bend: float, mix: np.ndarray, tab: np.ndarray,
             sine: np.ndarray, sdelta: np.ndarray, d0: np.ndarray,
             d1: np.ndarray, d2: np.ndarray, d3: np.ndarray, ext: np.ndarray,
             scratch: np.ndarray, arena: np.ndarray, etab: np.ndarray, E: np.ndarray,
             report: np.ndarray, modw: float) -> None:
    """Render frames ``a:b`` of voice ``v`` and add them into ``mix``; advance its time."""
    m = b - a
    t0 = Iv[v, I_T]
    kind = Iv[v, I_KIND]
    if kind == K_SF2:
        d = Iv[v, I_DATA]
        data = d0 if d == 0 else (d1 if d == 1 else (d2 if d == 2 else d3))
        _sf2(F, Iv, v, data, a, b, level, cpan, bend, modw, mix, scratch[0])
        Iv[v, I_T] = t0 + m
        return
    mode = Iv[v, I_PMODE]
    if (mode in (PM_READ, PM_EXTEND)) and bend == 1.0 and E[Iv[v, I_ENT], 0] >= t0 + m:
        # All cached: mix straight from the arena (no copy into ``buf``), one piece per
        # arena chunk the segment crosses.
        e = Iv[v, I_ENT]
        gl, gr = _gains(F, v, level, cpan)
        gl *= CACHE_DQ  # (the arena holds round(x * CACHE_Q))
        gr *= CACHE_DQ
        off = F[v, F_A] + F[v, F_H]
        sus = F[v, F_S]
        while a < b:
            base, k = _span(etab, e, t0, b - a)
            _mix_env(F, Iv, v, a, a + k, t0, arena[base:base + k], off, sus, gl, gr, mix,
                     scratch)
            a += k
            t0 += k
        Iv[v, I_T] = t0
        return
    if kind == K_SAMPLE and Iv[v, I_LOOP] == 0 and F[v, F_INC] * bend == 1.0 \
            and F[v, F_POS] == math.floor(F[v, F_POS]):
        # A sample at native pitch (drums): mixed straight from it, as :func:`_sample`
        # would copy it (silence past its end).
        d = Iv[v, I_DATA]
        data = d0 if d == 0 else (d1 if d == 1 else (d2 if d == 2 else d3))
        pos = F[v, F_POS]
        last = F[v, F_END] - 1.0
        ip = int(pos)
        k = max(0, min(m, math.ceil(last) - ip))
        if k > 0:
            gl, gr = _gains(F, v, level, cpan)
            _mix_env(F, Iv, v, a, a + k, t0, data[ip:ip + k], F[v, F_A] + F[v, F_H],
                     F[v, F_S], gl, gr, mix, scratch)
        F[v, F_POS] = pos + m
        if pos + m >= last:
            Iv[v, I_FIN] = 1
        Iv[v, I_T] = t0 + m
        return
    buf = scratch[0]  # (views made here, past the fast path: each costs refcount atomics)
    buf2 = scratch[1]
    env = scratch[2]
    if mode != PM_LIVE:
        _cached(F, Iv, rng, v, m, bend, t0, tab, sine, sdelta, buf, buf2, env, scratch[3],
                arena, etab, E, report)
    elif kind == K_WAVE:
        _wave(F, Iv, rng, v, tab, m, bend, t0, buf, buf2, scratch[3, :MAX_OSC],
              scratch[3, MAX_OSC:2 * MAX_OSC])
    elif kind == K_FM:
        _fm(F, v, sine, sdelta, m, bend, t0, buf, env)
    elif kind == K_SAMPLE:
        d = Iv[v, I_DATA]
        data = d0 if d == 0 else (d1 if d == 1 else (d2 if d == 2 else d3))
        _sample(F, Iv, v, data, m, bend, buf)
    else:
        row = Iv[v, I_EXT]
        for i in range(m):
            buf[i] = ext[row, a + i]
    const = _env(F, v, Iv[v, I_REL] != 0, t0, m, env)
    gl, gr = _gains(F, v, level, cpan)
    _mixin(mix, a, b, buf[:m], env, const, gl, gr)
    Iv[v, I_T] = t0 + m


@_jit(False)
def limit(mix: np.ndarray, out: np.ndarray, n: int, st: np.ndarray) -> None:
    """Limiter on planar ``mix[0:2, :n]``: NaN scrub, per-sample gain, tanh knee, float32 out.

    ``st`` is ``[gain, threshold, knee, release frames, enabled, attack frames]``;
    ``st[0]`` is updated and ``out`` (frames, 2) receives the interleaved result.

    The gain is decided sample by sample from that sample and the gain before it
    (towards ``threshold / peak`` in ~``attack`` frames when a sample is too loud, back
    towards 1 in ~``release`` frames): what comes out depends only on the samples, not on
    how they were cut into blocks, so an offline render in big blocks equals the
    real-time one. A block that is neither too loud nor after one is copied (through the
    knee) in one vectorised pass.
    """
    if n == 0:
        return
    peak = 0.0
    finite = True
    for c in range(2):
        row = mix[c]
        for i in range(n):
            x = row[i]
            if not math.isfinite(x):
                finite = False
            else:
                a = abs(x)
                if a > peak:
                    peak = a
    if not finite:
        for c in range(2):
            for i in range(n):
                if not math.isfinite(mix[c, i]):
                    mix[c, i] = 0.0
    g = st[0]
    thr = st[1]
    knee = st[2]
    if g != 1.0 or peak > thr:
        cr = 1.0 - math.exp(-1.0 / st[3])
        ca = 1.0 - math.exp(-1.0 / st[5])
        for i in range(n):
            a = max(abs(mix[0, i]), abs(mix[1, i]))
            t = thr / a if a > thr else 1.0
            g += (t - g) * (ca if t < g else cr)
            if g > 1.0 - 1e-9:  # (the release would creep below 1 forever)
                g = 1.0
            mix[0, i] *= g
            mix[1, i] *= g
        st[0] = g
        peak = 0.0
        for c in range(2):
            for i in range(n):
                a = abs(mix[c, i])
                if a > peak:
                    peak = a
    if peak > knee:
        w = 1.0 - knee
        for i in range(n):
            for c in range(2):
                x = mix[c, i]
                a = abs(x)
                if a > knee:
                    y = knee + w * math.tanh((a - knee) / w)
                    x = y if x > 0 else -y
                out[i, c] = np.float32(min(1.0, max(-1.0, x)))
    else:
        for i in range(n):
            out[i, 0] = np.float32(mix[0, i])
            out[i, 1] = np.float32(mix[1, i])


@_jit(FAST)
def _voice(n: int, v: int, mix: np.ndarray, F: np.ndarray, Iv: np.ndarray, rng: np.ndarray,
           ev: np.ndarray, nev: int, chan: np.ndarray, tab: np.ndarray, sine: np.ndarray,
           sdelta: np.ndarray, d0: np.ndarray, d1: np.ndarray, d2: np.ndarray,
           d3: np.ndarray, ext: np.ndarray, scratch: np.ndarray, max_note: int,
           report: np.ndarray, arena: np.ndarray, etab: np.ndarray, E: np.ndarray) -> None:
    """Render active voice ``v`` for the block, applying its in-block events in order."""
    c = Iv[v, I_CH]
    level = chan[c, 0]
    cpan = chan[c, 1]
    bend = chan[c, 2]
    modw = chan[c, 3]
    cur = Iv[v, I_START]
    done = False
    touched = False  # state changed since last block's end check (which found it alive)
    for e in range(nev):
        kind = int(ev[e, 1])
        tgt = int(ev[e, 2])
        if kind == EV_CHAN:
            if tgt != c:
                continue
        elif tgt != v:
            continue
        fr = int(ev[e, 0])
        if fr > cur:
            if Iv[v, I_FIN] != 0 or _finished(F, Iv, v):
                done = True
                break
            _segment(F, Iv, rng, v, cur, fr, level, cpan, bend, mix, tab, sine,
                     sdelta, d0, d1, d2, d3, ext, scratch, arena, etab, E, report, modw)
            cur = fr
        touched = True
        if kind == EV_CHAN:
            level = ev[e, 3]
            cpan = ev[e, 4]
            bend = ev[e, 5]
            modw = ev[e, 6]
        elif kind == EV_SET:
            col = int(ev[e, 3])
            F[v, col] = ev[e, 4]
            if col in (S_QLIN, S_FGAIN):
                F[v, S_LASTFC] = -1e30  # new filter coefficients at the next chunk
        elif kind == EV_REL and Iv[v, I_KIND] == K_SF2:
            sf2_release(F, Iv, v, ev[e, 4])
        elif kind == EV_REL:
            Iv[v, I_REL] = 1
            F[v, F_RLEVEL] = ev[e, 3]
            F[v, F_RLEN] = ev[e, 4]
            F[v, F_RK] = LN1000 / ev[e, 4]
            F[v, F_RSTART] = Iv[v, I_T]
        else:  # EV_KILL
            done = True
            break
    if not done and cur < n:
        if Iv[v, I_FIN] != 0 or (touched and _finished(F, Iv, v)):
            done = True
        else:
            _segment(F, Iv, rng, v, cur, n, level, cpan, bend, mix, tab, sine,
                     sdelta, d0, d1, d2, d3, ext, scratch, arena, etab, E, report, modw)
    Iv[v, I_START] = 0
    if done or Iv[v, I_FIN] != 0 or Iv[v, I_EXTFIN] != 0 or _finished(F, Iv, v):
        Iv[v, I_DONE] = 1
        if report[0] < NLIST:
            report[R_DONE + report[0]] = v
        report[0] += 1
    elif max_note > 0 and Iv[v, I_REL] == 0 and Iv[v, I_T] >= max_note:
        report[1] += 1


@_jit(FAST)
def _finish_block(n: int, mix: np.ndarray, out: np.ndarray, ev: np.ndarray, nev: int,
                  chan: np.ndarray, lim: np.ndarray, fx: np.ndarray) -> None:
    """Keep the block's last channel state for the next block, add the master effects
    (``effects.process``: reverb and chorus of the send rows), then limit ``mix``."""
    fx_process(mix, n, fx)
    for e in range(nev):
        if int(ev[e, 1]) == EV_CHAN:
            c = int(ev[e, 2])
            chan[c, 0] = ev[e, 3]
            chan[c, 1] = ev[e, 4]
            chan[c, 2] = ev[e, 5]
            chan[c, 3] = ev[e, 6]
    if lim[4] != 0.0:
        limit(mix, out, n, lim)


@_jit(FAST)
def render_block(n: int, mix: np.ndarray, out: np.ndarray, F: np.ndarray, Iv: np.ndarray,
                 rng: np.ndarray, nslots: int, ev: np.ndarray, nev: int, chan: np.ndarray,
                 tab: np.ndarray, sine: np.ndarray, sdelta: np.ndarray,
                 d0: np.ndarray, d1: np.ndarray, d2: np.ndarray, d3: np.ndarray,
                 ext: np.ndarray, scratch: np.ndarray, lim: np.ndarray, max_note: int,
                 report: np.ndarray, arena: np.ndarray, etab: np.ndarray,
                 E: np.ndarray, fx: np.ndarray) -> None:
    """Render one block: every active voice with its in-block events, then the limiter.

    ``mix`` is planar float64 ``(2, >= n)`` scratch; ``out`` gets ``(n, 2)`` float32.

    ``report`` gets ``[voices finished, held voices past max_note frames, recorders
    near the end of their note-cache entry]``; with ``lim[4] == 0`` the mix is left
    unlimited and ``out`` untouched (tests). ``arena``/``etab``/``E`` are the note
    cache (``notecache.NoteCache``): samples, chunk table, (length, capacity) per entry.
    """
    for c in range(min(mix.shape[0], 4)):  # stereo, and the reverb/chorus send rows
        for i in range(n):
            mix[c, i] = 0.0
    for i in range(4):
        report[i] = 0
    for v in range(nslots):
        if Iv[v, I_ACTIVE] == 0 or Iv[v, I_DONE] != 0:
            continue
        _voice(n, v, mix, F, Iv, rng, ev, nev, chan, tab, sine, sdelta, d0, d1, d2, d3,
               ext, scratch, max_note, report, arena, etab, E)
    _finish_block(n, mix, out, ev, nev, chan, lim, fx)


def _par_jit(fn: Callable[..., Any]) -> Any:
    """``njit(parallel=True, nogil=True)``, cached where possible (offline kernel only)."""
    return jit(fastmath=FAST, parallel=True)(fn)


@_par_jit
def render_block_par(n: int, mix: np.ndarray, out: np.ndarray, F: np.ndarray,
                     Iv: np.ndarray, rng: np.ndarray, nslots: int, ev: np.ndarray, nev: int,
                     chan: np.ndarray, tab: np.ndarray, sine: np.ndarray, sdelta: np.ndarray,
                     d0: np.ndarray, d1: np.ndarray, d2: np.ndarray, d3: np.ndarray,
                     ext: np.ndarray, tscratch: np.ndarray, lim: np.ndarray, max_note: int,
                     report: np.ndarray, arena: np.ndarray, etab: np.ndarray, E: np.ndarray,
                     tmix: np.ndarray, treport: np.ndarray, fx: np.ndarray) -> None:
    """:func:`render_block` with voices split over ``tmix.shape[0]`` threads (offline).

    Why: an offline render may use every core. Voices are dealt to the workers by a
    rough cost (cached and sampled voices cheap, live oscillators dear); worker ``w``
    renders its voices into its own ``tmix[w]`` with its own ``tscratch[w]``; the partial
    mixes are summed
    (so the result differs from the serial kernel only by summation rounding), then the
    limiter runs once. Never used on the real-time path.
    """
    T = tmix.shape[0]
    # Balance the threads by a rough cost per voice: a cached or sampled voice is a
    # copy, a live or recording oscillator voice costs several times more.
    order = np.empty((T, max(1, nslots)), np.int64)
    count = np.zeros(T, np.int64)
    load = np.zeros(T)
    for v in range(nslots):
        if Iv[v, I_ACTIVE] == 0 or Iv[v, I_DONE] != 0:
            continue
        mode = Iv[v, I_PMODE]
        kind = Iv[v, I_KIND]
        cost = 1.0 if kind == K_SAMPLE or mode in (PM_READ, PM_EXTEND) else 4.0
        w = 0
        for u in range(1, T):
            if load[u] < load[w]:
                w = u
        order[w, count[w]] = v
        count[w] += 1
        load[w] += cost
    for w in numba.prange(T):
        part = tmix[w]
        rep = treport[w]
        for c in range(min(part.shape[0], 4)):
            for i in range(n):
                part[c, i] = 0.0
        for i in range(4):
            rep[i] = 0
        for q in range(count[w]):
            v = order[w, q]
            _voice(n, v, part, F, Iv, rng, ev, nev, chan, tab, sine, sdelta, d0, d1, d2,
                   d3, ext, tscratch[w], max_note, rep, arena, etab, E)
    for i in range(4):
        report[i] = 0
    rows = min(mix.shape[0], tmix.shape[1], 4)
    for c in range(min(mix.shape[0], 4)):
        for i in range(n):
            mix[c, i] = 0.0
    for w in range(T):  # counts add up; the lists are concatenated (first NLIST kept)
        for c, base in ((0, R_DONE), (2, R_WANT)):
            for j in range(min(treport[w, c], NLIST)):
                if report[c] + j < NLIST:
                    report[base + report[c] + j] = treport[w, base + j]
        for i in range(4):
            report[i] += treport[w, i]
        for c in range(rows):
            for i in range(n):
                mix[c, i] += tmix[w, c, i]
    _finish_block(n, mix, out, ev, nev, chan, lim, fx)


@_jit(False, nogil=False)
def copy_frames(dst: np.ndarray, d0: int, src: np.ndarray, s0: int, n: int) -> None:
    """``dst[d0:d0+n] = src[s0:s0+n]`` for float32 frames, holding the GIL.

    Why: numpy releases the GIL for copies over 500 values, and with a busy Python
    thread getting it back costs up to a switch interval; a ring copy takes microseconds.
    """
    for i in range(n):
        for c in range(dst.shape[1]):
            dst[d0 + i, c] = src[s0 + i, c]


@_jit(False, nogil=False)
def zero_frames(dst: np.ndarray, d0: int, n: int) -> None:
    """``dst[d0:d0+n] = 0`` for float32 frames, holding the GIL (see :func:`copy_frames`)."""
    for i in range(n):
        for c in range(dst.shape[1]):
            dst[d0 + i, c] = 0.0


def empty_note_cache() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arena, chunk table and entry table of a note cache with no entries (no cache)."""
    return (np.zeros(1, np.int16), np.zeros((1, 1), np.int32), np.zeros((1, 3), np.int64))


# -- warm-up ---------------------------------------------------------------------------
_warm_lock = threading.Lock()
_warm = False


def _compile_all() -> None:
    n = 16
    mix = np.zeros((2, n))
    out = np.zeros((n, 2), np.float32)
    F = np.zeros((2, NF))
    Iv = np.zeros((2, NI), np.int64)
    rng = np.ones(2, np.uint64)
    ev = np.zeros((1, EV_COLS))
    chan = np.ones((16, 4))
    tab = np.zeros((8, 2))
    data = np.zeros(4, np.float32)
    ext = np.zeros((1, n))
    scratch = np.zeros((4, n))
    lim = np.array([1.0, 0.9, 0.8, 12000.0, 1.0, 24.0])
    report = np.zeros(NREPORT, np.int64)
    arena, etab, E = empty_note_cache()
    render_block(n, mix, out, F, Iv, rng, 0, ev, 0, chan, tab, SINE, SINE_DELTA,
                 data, data, data, data, ext, scratch, lim, 0, report, arena, etab, E, NO_FX)
    render_block(n, np.zeros((4, n)), out, F, Iv, rng, 0, ev, 0, chan, tab, SINE,
                 SINE_DELTA, data, data, data, data, ext, scratch, lim, 0, report, arena,
                 etab, E, NO_FX)
    limit(mix, out, n, lim)
    copy_frames(out, 0, out, 0, n)
    zero_frames(out, 0, n)


_par_lock = threading.Lock()
_par_warm = False


def render_parallel(*args: Any) -> None:
    """Call :func:`render_block_par`, one caller at a time.

    Why the lock: numba's fallback ``workqueue`` threading layer aborts the process on
    concurrent parallel launches from several threads (omp and tbb do not).
    """
    with _par_lock:
        render_block_par(*args)


def warm_up_parallel() -> None:
    """Compile (or load from the disk cache) the offline parallel kernel, once per process."""
    global _par_warm
    warm_up()
    if _par_warm:
        return
    n = 16
    with _warm_lock:
        if _par_warm:
            return
        data = np.zeros(4, np.float32)
        render_parallel(n, np.zeros((2, n)), np.zeros((n, 2), np.float32),
                        np.zeros((2, NF)), np.zeros((2, NI), np.int64), np.ones(2, np.uint64),
                        0, np.zeros((1, EV_COLS)), 0, np.ones((16, 4)), np.zeros((8, 2)),
                        SINE, SINE_DELTA, data, data, data, data, np.zeros((1, n)),
                        np.zeros((2, 4, n)), np.array([1.0, 0.9, 0.8, 12000.0, 1.0, 24.0]), 0,
                        np.zeros(NREPORT, np.int64), *empty_note_cache(), np.zeros((2, 4, n)),
                        np.zeros((2, NREPORT), np.int64), NO_FX)
        _par_warm = True


def warm_up() -> None:
    """Compile (or load from the disk cache) the block kernels, once per process.

    Takes ~0.5 s from the cache, a few seconds on a cold cache. The synth's first
    ``process`` does it; an output's prefill (on the engine's boot thread) is therefore
    where it happens before real-time playback, and ``Synth.warm_up`` does it on demand.
    """
    global _warm
    if _warm:
        return
    with _warm_lock:
        if not _warm:
            _compile_all()
            _warm = True


def ready() -> bool:
    """True once the kernels are compiled or loaded in this process."""
    return _warm
