"""A SoundFont 2.04 voice: the generators and modulators of a region, at a key and
velocity, turned into the kernel's K_SF2 row (``kernels._sf2`` plays it).

Modulators are evaluated at note start (SoundFont 2.04 section 8.2: source mapping,
amount source, transform) from the velocity, the key, the channel's controllers, its
pitch wheel and wheel sensitivity (RPN 0,0). The channel's volume (CC7), expression
(CC11), pan (CC10), pitch wheel and mod wheel (CC1 to vibrato depth) act while the note
sounds through the channel state the kernel reads; their default modulators are left
out of the sum. Every other modulator whose source is a controller, the wheel or its
sensitivity (the file's own, the default CC91/CC93 sends) is evaluated again when that
source changes during the note, as FluidSynth does: :func:`live_values` gives the row
columns it moves (filter, pitch, LFO and envelope depths, LFO rates, attenuation, pan,
sends), which the voice allocator queues at the change's frame. Envelope times and
delays stay as the note started (the kernel's envelopes are functions of time).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from mos_lab.audio import kernels as K
from mos_lab.audio.instruments.sf2 import DEFAULT_MODS, Modulator, Region
from mos_lab.audio.instruments.sources import SampleSource

# Default modulators played live by the channel (not summed at note start).
_LIVE = {DEFAULT_MODS[i] for i in (3, 4, 5, 6, 9)}  # CC1, CC7, CC10, CC11, pitch wheel
ALT_ATTENUATION = 0.4  # EMU/FluidSynth: initialAttenuation counts 0.4 cB per unit
# The default velocity-to-cutoff modulator (-2400 cents, switched on at velocity 64):
# FluidSynth 2.3 (the oracle) gives it no effect (measured: a note's spectrum is the same
# at velocity 40, 100 and 127), so by default neither do we; True plays it as the spec.
VELOCITY_TO_CUTOFF = False
# GM2: a channel's reverb send (CC91) starts at 40, chorus at 0; the sound controllers
# CC70-79 at 64 ("no change"), as FluidSynth's channel starts them.
GM_DEFAULTS = {91: 40, **{c: 64 for c in range(70, 80)}}
WHEEL, SENSITIVITY = 128 + 14, 128 + 16  # source keys of the pitch wheel, its sensitivity
Wheel = tuple[float, float]  # (pitch wheel 0..1 with 0.5 at rest, sensitivity semitones)
AT_REST: Wheel = (0.5, 2.0)
# Row columns a live modulator may move while the note sounds (besides gain, pan, pitch).
LIVE_COLS = (K.S_P_ME, K.S_P_ML, K.S_P_VL, K.S_FC, K.S_FC_ME, K.S_FC_ML, K.S_QLIN,
             K.S_FGAIN, K.S_VOL_ML, K.S_SEND_REV, K.S_SEND_CHO, K.S_MLINC, K.S_VLINC)


class SF2Source(SampleSource):
    """Sample playback plus the K_SF2 row (envelopes, LFOs, filter, modulation)."""

    def __init__(self, data: np.ndarray, ratio: float, row: np.ndarray, *, start: int,
                 end: int, loop: tuple[int, int] | None, loop_mode: int) -> None:
        # (not SampleSource.__init__: ``data`` is the bank's float32 array already, and a
        # note start is hot)
        self.data = data
        self.ratio = ratio
        self.pos = float(start)
        self.end = min(int(end), len(data))
        self.loop = loop if loop is not None and loop[1] - loop[0] >= 2 else None
        self.finished = self.end - 1 <= self.pos
        self.row = row  # shared between notes of the same key and velocity: read only
        self.loop_mode = loop_mode if self.loop is not None else 0
        self.loop_start, self.loop_end = self.loop if self.loop is not None else (0, 0)
        # Sources (controller numbers, WHEEL, SENSITIVITY) its live modulators read, what
        # its layer needs to evaluate them (set by the instrument when there are any; no
        # allocation per note) and, once a source has changed, its live state.
        self.keys: frozenset[int] = frozenset()
        self.spec: LiveSpec | None = None
        self.live: LiveVoice | None = None


class LivePlan:
    """Which generators each live source of a region moves, and the modulators summed
    into each (built once per region): a controller change re-sums only those."""

    __slots__ = ("by_dest", "dests", "full")

    def __init__(self, r: Region, velmods: bool) -> None:
        by_dest: dict[int, list[Modulator]] = {}
        dests: dict[int, set[int]] = {}
        # Linked modulators feed each other: a region with any is evaluated whole.
        self.full = any(m[1] & 0x8000 for m in r.mods)
        for m in r.mods:
            if m in _LIVE or _wheel_shaped(m) or m[1] & 0x8000 or (
                    m == DEFAULT_MODS[1] and not VELOCITY_TO_CUTOFF) or (
                    not velmods and m == DEFAULT_MODS[0]):
                continue
            by_dest.setdefault(m[1], []).append(m)
            for src in (m[0], m[3]):
                if src & 0x80:
                    dests.setdefault(src & 0x7F, set()).add(m[1])
                elif src & 0x7F in (14, 16):
                    dests.setdefault(128 + (src & 0x7F), set()).add(m[1])
        self.by_dest = {d: tuple(ms) for d, ms in by_dest.items()}
        self.dests = {k: tuple(sorted(d)) for k, d in dests.items()}


_TUNING = (51, 52, 56)  # coarseTune, fineTune, scaleTuning: the pitch ratio
_DIRECT = {5: K.S_P_ML, 6: K.S_P_VL, 7: K.S_P_ME, 8: K.S_FC, 10: K.S_FC_ML,
           11: K.S_FC_ME, 13: K.S_VOL_ML}


class LiveSpec:
    """A memoised layer's part of a live voice: region, plan, rate, whether the row
    holds the velocity's attenuation, dry, the sources read and the ``LIVE_COLS`` values
    the layer starts with (shared by every note of the layer)."""

    __slots__ = ("base", "dry", "keys", "plan", "rate", "region", "velmods")

    def __init__(self, region: Region, plan: LivePlan, rate: float, velmods: bool, dry: bool,
                 keys: frozenset[int], base: tuple[float, ...]) -> None:
        self.region, self.plan, self.rate, self.velmods = region, plan, rate, velmods
        self.dry, self.keys, self.base = dry, keys, base

    def voice(self, key: int, vel: int, gain: float, pan: float, ratio: float) -> LiveVoice:
        """The live state of a note of this layer that starts with these values."""
        return LiveVoice(self.region, key, vel, self.rate, self.velmods, self.dry,
                         (gain, pan, ratio, *self.base), self.plan)


class LiveVoice:
    """What a sounding voice needs to evaluate its modulators again: the region, key,
    velocity and the values (gain, pan, pitch ratio, ``LIVE_COLS``) it plays now."""

    __slots__ = ("dry", "key", "now", "plan", "rate", "region", "vel", "velmods")

    def __init__(self, region: Region, key: int, vel: int, rate: float, velmods: bool,
                 dry: bool, now: tuple[float, ...], plan: LivePlan) -> None:
        self.region, self.key, self.vel, self.rate = region, key, vel, rate
        self.velmods, self.dry, self.now, self.plan = velmods, dry, now, plan

    def update(self, cc: Mapping[int, int], wheel: Wheel, source: int | None = None
               ) -> list[tuple[int, float]]:
        """(row column, new value) for what the controllers ``cc`` and ``wheel`` changed
        (F_GAIN, F_PAN, F_INC and ``LIVE_COLS``), re-summing only the generators that
        ``source`` moves (None: all); remembers them as the values now."""
        plan = self.plan
        if source is None or plan.full:
            got = live_values(self.region, self.key, self.vel, self.rate, cc, wheel,
                              self.velmods, self.dry)
            out = [(col, val) for col, val, was in zip(_COLS, got, self.now, strict=True)
                   if val != was]
            self.now = tuple(got)
            return out
        dests = plan.dests.get(source)
        if not dests:
            return []
        r, key, vel = self.region, self.key, self.vel
        gens = r.gens

        def total(d: int) -> float:
            return gens[d] + sum(_value(m, key, vel, cc, 0.0, wheel)
                                 for m in plan.by_dest.get(d, ()))
        new: list[tuple[int, float]] = []
        tune = False
        for d in dests:
            col = _DIRECT.get(d)
            if col is not None:
                new.append((col, total(d)))
            elif d in _TUNING:
                tune = True
            elif d == 9:
                q = 10.0 ** ((min(96.0, max(0.0, total(9) / 10.0)) - 3.01) / 20.0)
                new += [(K.S_QLIN, q), (K.S_FGAIN, 1.0 / math.sqrt(q))]
            elif d in (15, 16):
                v = 0.0 if self.dry else min(1.0, max(0.0, total(d) / 1000.0))
                new.append((K.S_SEND_CHO if d == 15 else K.S_SEND_REV, v))
            elif d in (22, 24):
                hz = 8.175798915643707 * 2.0 ** (total(d) / 1200.0)
                new.append((K.S_MLINC if d == 22 else K.S_VLINC, hz / self.rate))
            elif d == 17:
                new.append((K.F_PAN, min(500.0, max(-500.0, total(17))) / 500.0))
            elif d == 48:
                att = ALT_ATTENUATION * gens[48] + (total(48) - gens[48])
                new.append((K.F_GAIN, note_gain(att, vel, self.velmods)))
        if tune:
            k = int(gens[46]) if gens.get(46, -1) >= 0 else key
            cents = (k - r.root_key) * total(56) + 100.0 * total(51) + total(52) + (
                r.tune_cents - 100.0 * gens[51] - gens[52])
            new.append((K.F_INC, 2.0 ** (cents / 1200.0) * r.sample_rate / self.rate))
        now = list(self.now)
        out = []
        for col, val in new:
            i = _INDEX[col]
            if now[i] != val:
                now[i] = val
                out.append((col, val))
        self.now = tuple(now)
        return out


_COLS = (K.F_GAIN, K.F_PAN, K.F_INC, *LIVE_COLS)
_INDEX = {c: i for i, c in enumerate(_COLS)}


def note_gain(att: float, vel: int, velmods: bool) -> float:
    """A layer's linear gain from its attenuation (cB; plus the velocity's unless the
    row already has it), under the SoundFont headroom."""
    vcb = 0.0 if velmods else velocity_cb(vel)
    return HEADROOM * 10.0 ** (-min(1440.0, max(0.0, att + vcb)) / 200.0)


HEADROOM = 0.5


def live_values(r: Region, key: int, vel: int, rate: float, cc: Mapping[int, int],
                wheel: Wheel, velmods: bool, dry: bool) -> list[float]:
    """Gain, pan, pitch ratio and ``LIVE_COLS`` of region ``r``'s voice at ``key``/``vel``
    with the channel's controllers ``cc`` and ``wheel`` now (``_COLS`` order)."""
    row, ratio, att, pan, _ = voice_row(r, key, vel, rate, cc, velocity_gain=velmods,
                                        wheel=wheel)
    if dry:
        row[K.S_SEND_REV] = row[K.S_SEND_CHO] = 0.0
    return [note_gain(att, vel, velmods), pan, ratio, *(float(row[c]) for c in LIVE_COLS)]


def _map(src: int, value: float) -> float:
    """A modulator source (SoundFont 2.04 section 8.2.1) applied to ``value`` in 0..1."""
    if src & 0x100:  # direction: max to min
        value = 1.0 - value
    kind = src >> 10
    bipolar = bool(src & 0x200)
    if bipolar:  # -1..1, the curve shape mirrored about the centre
        x = 2.0 * value - 1.0
        mag = abs(x)
        if kind == 1:
            mag = _concave(mag)
        elif kind == 2:
            mag = 1.0 - _concave(1.0 - mag)
        elif kind == 3:
            return 1.0 if x >= 0.0 else -1.0
        return math.copysign(mag, x)
    if kind == 1:
        return _concave(value)
    if kind == 2:
        return 1.0 - _concave(1.0 - value)
    if kind == 3:
        return 1.0 if value >= 0.5 else 0.0
    return value


def _wheel_shaped(m: Modulator) -> bool:
    """A pitch-wheel-to-fineTune modulator scaled by the sensitivity: played live by the
    kernel through the channel's bend (``S_PWOFF``), whatever its amount."""
    pw = DEFAULT_MODS[9]
    return (m[0], m[1], m[3], m[4]) == (pw[0], pw[1], pw[3], pw[4])


def controllers(r: Region) -> set[int]:
    """Sources that the region's modulators read and the channel may change during a
    note: MIDI controller numbers, ``WHEEL`` and ``SENSITIVITY``."""
    out = set()
    for m in r.mods:
        if m in _LIVE or _wheel_shaped(m):
            continue
        for src in (m[0], m[3]):
            if src & 0x80:
                out.add(src & 0x7F)
            elif src & 0x7F in (14, 16):
                out.add(128 + (src & 0x7F))
    return out


def _concave(x: float) -> float:
    """The spec's concave curve: -20/96 * log10((1 - x)^2), 0 at 0 and 1 at 1."""
    if x >= 1.0:
        return 1.0
    return min(1.0, max(0.0, -(40.0 / 96.0) * math.log10(1.0 - x)))


def _source(src: int, key: int, vel: int, cc: Mapping[int, int],
            wheel: Wheel = AT_REST) -> float | None:
    """The raw 0..1 value of a modulator source now (None: not defined)."""
    index = src & 0x7F
    if src & 0x80:  # a MIDI controller
        if index in (0, 6, 32, 38, 98, 99, 100, 101) or index >= 120:
            return None  # the spec forbids these as sources
        return cc.get(index, GM_DEFAULTS.get(index, 0)) / 128.0
    if index == 0:
        return 1.0  # "no controller": a constant 1
    if index == 2:
        return vel / 128.0
    if index == 3:
        return key / 128.0
    if index in (10, 13):  # poly / channel pressure: not played (no such events)
        return 0.0
    if index == 14:
        return wheel[0]  # the pitch wheel, 0..16383 / 16384
    if index == 16:
        return wheel[1] / 128.0  # its sensitivity in semitones, as a 7-bit value
    return None


def modulated(mods: tuple[Modulator, ...], key: int, vel: int, cc: Mapping[int, int],
              skip: tuple[Modulator, ...] = (), wheel: Wheel = AT_REST) -> dict[int, float]:
    """Sum of the modulator outputs per destination generator (but ``skip`` and those the
    kernel plays from the channel state)."""
    out: dict[int, float] = {}
    linked: dict[int, float] = {}
    for m in mods:  # linked ones first: they feed other modulators
        if m[1] & 0x8000 and m not in _LIVE:
            val = _value(m, key, vel, cc, 0.0, wheel)
            linked[m[1] & 0x7FFF] = linked.get(m[1] & 0x7FFF, 0.0) + val
    for i, m in enumerate(mods):
        if m[1] & 0x8000 or m in _LIVE or (m == DEFAULT_MODS[1] and not VELOCITY_TO_CUTOFF) \
                or m in skip or _wheel_shaped(m):
            continue
        val = _value(m, key, vel, cc, linked.get(i, 0.0), wheel)
        out[m[1]] = out.get(m[1], 0.0) + val
    return out


def _value(m: Modulator, key: int, vel: int, cc: Mapping[int, int], link: float,
           wheel: Wheel = AT_REST) -> float:
    src, _, amount, amt_src, trans = m
    if src & 0x7F == 127 and not src & 0x80:  # linked source: the linking modulators' sum
        a = link
    else:
        x = _source(src, key, vel, cc, wheel)
        if x is None:
            return 0.0
        a = _map(src, x)
    y = _source(amt_src, key, vel, cc, wheel)
    b = _map(amt_src, y) if y is not None else 0.0
    v = a * b * amount
    return abs(v) if trans == 2 else v


def wheel_cents(mods: tuple[Modulator, ...]) -> float:
    """Summed amounts (cents at full bend and full sensitivity) of the zone's
    pitch-wheel-to-fineTune modulators scaled by the wheel sensitivity: the default's
    12700 (spec 8.4.10), or the zone's own (e.g. 0 to ignore the wheel)."""
    pw = DEFAULT_MODS[9]
    return float(sum(m[2] for m in mods if (m[0], m[1], m[3], m[4]) ==
                     (pw[0], pw[1], pw[3], pw[4])))


def velocity_cb(vel: int) -> float:
    """Attenuation (cB) of the default velocity modulator: 960 x concave(1 - vel/128)."""
    return 960.0 * _map(DEFAULT_MODS[0][0], vel / 128.0)


def reads_velocity(r: Region) -> bool:
    """Some modulator of ``r`` other than the default velocity-to-attenuation reads the
    velocity (so a note's row depends on it)."""
    for m in r.mods:
        if m == DEFAULT_MODS[0] or (m == DEFAULT_MODS[1] and not VELOCITY_TO_CUTOFF):
            continue
        if m in _LIVE:
            continue
        for src in (m[0], m[3]):
            if not src & 0x80 and src & 0x7F == 2:
                return True
    return False


def voice_row(r: Region, key: int, vel: int, sample_rate: float, cc: Mapping[int, int],
              *, velocity_gain: bool = True, wheel: Wheel = AT_REST
              ) -> tuple[np.ndarray, float, float, float, float]:
    """The K_SF2 row of region ``r`` at ``key``/``vel``: (row, pitch ratio, attenuation
    in cB, pan, release seconds). ``velocity_gain=False`` leaves the default velocity
    modulator out of the attenuation (the caller adds :func:`velocity_cb`)."""
    g = dict(r.gens)
    skip = () if velocity_gain else (DEFAULT_MODS[0],)
    for dest, v in modulated(r.mods, key, vel, cc, skip, wheel).items():
        g[dest] = g.get(dest, 0) + v  # type: ignore[assignment]
    if g.get(46, -1) >= 0:
        key = int(g[46])  # keynum override
    sr = float(sample_rate)
    row = np.zeros(K.NF)

    def secs(tc: float) -> float:
        return 0.0 if tc <= -12000 else 2.0 ** (min(tc, 8000) / 1200.0)

    def frames(tc: float) -> float:
        return secs(tc) * sr

    C = K.SF2_CHUNK

    # Envelope stages last whole 64-frame chunks, counted as FluidSynth counts them
    # (delay truncated, attack one more than rounded, hold/decay/release rounded), so
    # layers that a pitch envelope moves apart keep FluidSynth's phase relation.
    def delay(tc: float) -> float:
        return math.floor(secs(tc) * sr / C) * C

    def attack(tc: float) -> float:
        return (1 + math.floor(secs(tc) * sr / C + 0.5)) * C if tc > -12000 else 0.0

    def stage(tc: float) -> float:
        return math.floor(secs(tc) * sr / C + 0.5) * C

    def hold(tc: float) -> float:  # FluidSynth's shortest hold: -12000 tc, 1 ms (a chunk)
        s = 0.0 if tc <= -32768 else 2.0 ** (min(max(tc, -12000), 5000) / 1200.0)
        return math.floor(s * sr / C + 0.5) * C

    kd = 60 - key
    row[K.S_VDEL] = delay(g[33])
    row[K.S_VATT] = attack(g[34])
    row[K.S_VHOLD] = hold(g[35] + g[39] * kd)
    row[K.S_VDEC] = stage(g[36] + g[40] * kd)
    row[K.S_VSUS] = min(1.0, max(0.0, 1.0 - 0.001 * g[37]))
    release = secs(g[38])
    row[K.S_VREL] = max(1.0, release * sr)
    row[K.S_MDEL] = delay(g[25])
    row[K.S_MATT] = attack(g[26])
    row[K.S_MHOLD] = hold(g[27] + g[31] * kd)
    row[K.S_MDEC] = stage(g[28] + g[32] * kd)
    row[K.S_MSUS] = min(1.0, max(0.0, 1.0 - 0.001 * g[29]))
    row[K.S_MREL] = max(1.0, (1 + math.floor(secs(g[30]) * sr / C + 0.5)) * C)
    row[K.S_MLDEL] = frames(g[21])
    row[K.S_MLINC] = 8.175798915643707 * 2.0 ** (g[22] / 1200.0) / sr
    row[K.S_VLDEL] = frames(g[23])
    row[K.S_VLINC] = 8.175798915643707 * 2.0 ** (g[24] / 1200.0) / sr
    row[K.S_P_ME], row[K.S_P_ML], row[K.S_P_VL] = g[7], g[5], g[6]
    row[K.S_FC], row[K.S_FC_ME], row[K.S_FC_ML] = g[8], g[11], g[10]
    q_db = min(96.0, max(0.0, g[9] / 10.0)) - 3.01
    q = 10.0 ** (q_db / 20.0)
    row[K.S_QLIN], row[K.S_FGAIN] = q, 1.0 / math.sqrt(q)
    row[K.S_VOL_ML] = g[13]
    row[K.S_VIB_CC1] = 50.0  # default CC1 -> vibrato depth (the channel's mod wheel 0..1)
    row[K.S_SEND_REV] = min(1.0, max(0.0, g[16] / 1000.0))
    row[K.S_SEND_CHO] = min(1.0, max(0.0, g[15] / 1000.0))
    row[K.S_SR] = sr
    # The pitch wheel acts live: the channel's bend ratio (100 cents per semitone of
    # its RPN 0,0 sensitivity) to the power of the wheel modulators' amount / 12800, as
    # the spec maps the sensitivity (a 7-bit source: value / 128) and FluidSynth plays
    # it: the default 12700 bends 99.2 cents per semitone of sensitivity.
    row[K.S_PWOFF] = 1.0 - wheel_cents(r.mods) / 12800.0
    # Attenuation: the file's value at 0.4 per unit, the modulators' (velocity) in cB.
    att = ALT_ATTENUATION * r.gens.get(48, 0) + (g[48] - r.gens.get(48, 0))
    cents = (key - r.root_key) * g[56] + 100.0 * g[51] + g[52] + (
        r.tune_cents - 100.0 * r.gens.get(51, 0) - r.gens.get(52, 0))
    ratio = 2.0 ** (cents / 1200.0) * r.sample_rate / sr
    pan = min(500.0, max(-500.0, g[17])) / 500.0
    return row, ratio, att, pan, release
