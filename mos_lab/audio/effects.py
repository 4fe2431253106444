"""Master reverb (Freeverb) and chorus, fed by the voices' sends, inside the block kernel.

SoundFont voices add their output times their reverb and chorus sends (the zone's
``reverbEffectsSend``/``chorusEffectsSend`` plus the channel's CC91/CC93 through the
default modulators, CC91 at the GM default 40) into two send rows of the mix; at the
end of the block, before the limiter, :func:`process` runs the Freeverb network (8
damped combs and 4 allpasses per side, Jezar's tunings scaled to the rate) on the
reverb row and a three-tap modulated delay on the chorus row and adds both to the
stereo mix. All state lives in one float64 array and is advanced sample by sample, so
the result does not depend on the block size (real time equals offline). Built-in
instruments send nothing (their sound is made dry, and stays sample-identical).
"""

from __future__ import annotations

import math

import numpy as np

from mos_lab._jit import jit

COMBS = (1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617)  # Freeverb, at 44.1 kHz
ALLPASSES = (556, 441, 341, 225)
SPREAD = 23
HEAD = 128  # header slots before the delay lines
# header: 0 on, 1 comb feedback, 2 damping, 3 wet1, 4 wet2, 5 chorus level, 6 chorus phase
# step (cycles/frame), 7 chorus depth (frames), 8 chorus base delay (frames), 9 chorus
# phase, 10 chorus write index, 11 chorus length, 12 chorus offset, 13 input gain, 14
# frames since input, 15 frames a tail lasts, 110 frames since chorus input;
# 16+i comb length, 32+i comb index, 48+i comb filter state, 64+i comb offset (16 combs:
# 8 left, 8 right); 80+j allpass length, 88+j allpass index, 96+j allpass offset (8).
CHORUS_MAX_S = 0.05


def make_state(sample_rate: float, *, room: float = 0.5, damp: float = 0.4,
               width: float = 1.0, wet: float = 1.0, chorus_level: float = 1.2,
               chorus_hz: float = 0.3, chorus_depth_ms: float = 4.0,
               chorus_delay_ms: float = 12.0) -> np.ndarray:
    """A fresh effects state for ``sample_rate`` (Freeverb's room size, damping, width)."""
    k = sample_rate / 44100.0
    combs = [max(8, round(c * k)) for c in COMBS] + [max(8, round((c + SPREAD) * k))
                                                      for c in COMBS]
    aps = [max(4, round(a * k)) for a in ALLPASSES] + [max(4, round((a + SPREAD) * k))
                                                       for a in ALLPASSES]
    cho = int(CHORUS_MAX_S * sample_rate) + 4
    size = HEAD + sum(combs) + sum(aps) + cho
    st = np.zeros(size)
    st[0] = 1.0
    st[1] = room * 0.28 + 0.7
    st[2] = damp * 0.4
    w = wet * 3.0
    st[3], st[4] = w * (width / 2 + 0.5), w * ((1 - width) / 2)
    st[5] = chorus_level / 3.0
    st[6] = chorus_hz / sample_rate
    st[7] = chorus_depth_ms * 1e-3 * sample_rate
    st[8] = chorus_delay_ms * 1e-3 * sample_rate
    st[11] = cho
    st[13] = 0.015  # Freeverb's fixed input gain
    st[14] = 1e18  # frames since the last input (none yet)
    st[15] = 10.0 * sample_rate  # the tail is gone after this many
    st[110] = 1e18  # frames since the last chorus input
    ofs = HEAD
    for i, n in enumerate(combs):
        st[16 + i], st[64 + i] = n, ofs
        ofs += n
    for j, n in enumerate(aps):
        st[80 + j], st[96 + j] = n, ofs
        ofs += n
    st[12] = ofs
    return st


@jit(fastmath={"nsz", "arcp", "contract", "afn", "reassoc"})
def process(mix: np.ndarray, n: int, st: np.ndarray) -> None:
    """Reverb of ``mix[2]`` and chorus of ``mix[3]`` added into ``mix[0:2]``, ``n`` frames."""
    if st.shape[0] < HEAD or st[0] == 0.0 or mix.shape[0] < 4:
        return
    fb = st[1]
    d1 = st[2]
    d2 = 1.0 - d1
    wet1 = st[3]
    wet2 = st[4]
    gin = st[13]
    rev = mix[2]
    cho = mix[3]
    # Frames since the last input (st[14]): past ``st[15]`` (the tail is gone, < -200 dB)
    # a silent block is skipped, so a render without sends costs nothing here.
    heard = False
    for i in range(n):
        if rev[i] != 0.0:
            heard = True
            break
    if heard:
        st[14] = 0.0
    else:
        st[14] += n
    quiet = not heard and st[14] > st[15] + n
    if not quiet:
        for i in range(n):
            x = rev[i] * gin
            acc_l = 0.0
            acc_r = 0.0
            for c in range(16):
                ln = int(st[16 + c])
                ix = int(st[32 + c])
                q = int(st[64 + c]) + ix
                y = st[q]
                fs = y * d2 + st[48 + c] * d1
                if abs(fs) < 1e-25:
                    fs = 0.0
                st[48 + c] = fs
                st[q] = x + fs * fb
                ix += 1
                st[32 + c] = 0.0 if ix >= ln else ix
                if c < 8:
                    acc_l += y
                else:
                    acc_r += y
            for j in range(8):
                ln = int(st[80 + j])
                ix = int(st[88 + j])
                q = int(st[96 + j]) + ix
                b = st[q]
                if j < 4:
                    o = b - acc_l
                    st[q] = acc_l + b * 0.5
                    acc_l = o
                else:
                    o = b - acc_r
                    st[q] = acc_r + b * 0.5
                    acc_r = o
                ix += 1
                st[88 + j] = 0.0 if ix >= ln else ix
            mix[0, i] += acc_l * wet1 + acc_r * wet2
            mix[1, i] += acc_r * wet1 + acc_l * wet2
    # chorus: three taps of one delay line, sine-modulated a third of a cycle apart
    lvl = st[5]
    if lvl == 0.0:
        return
    heard = False
    for i in range(n):
        if cho[i] != 0.0:
            heard = True
            break
    if heard:
        st[110] = 0.0
    else:
        st[110] += n
    if not heard and st[110] > st[11] + n:  # the delay line holds only zeros: skip
        return
    base = int(st[12])
    ln = int(st[11])
    w = int(st[10])
    ph = st[9]
    step = st[6]
    depth = st[7]
    dly = st[8]
    for i in range(n):
        st[base + w] = cho[i]
        taps = 0.0
        left = 0.0
        right = 0.0
        for k in range(3):
            d = dly + depth * math.sin(2.0 * math.pi * (ph + k / 3.0))
            p = w - d
            if p < 0.0:
                p += ln
            ip = int(p)
            f = p - ip
            j2 = ip + 1 if ip + 1 < ln else 0
            s = st[base + ip] * (1.0 - f) + st[base + j2] * f
            taps += s
            if k == 0:
                left += s
            elif k == 1:
                right += s
            else:
                left += 0.5 * s
                right += 0.5 * s
        mix[0, i] += left * lvl
        mix[1, i] += right * lvl
        w += 1
        if w >= ln:
            w = 0
        ph += step
        if ph >= 1.0:
            ph -= 1.0
    st[10] = w
    st[9] = ph


def rt60(sample_rate: float, seconds: float = 4.0, state: np.ndarray | None = None) -> float:
    """Reverb decay time (s) measured from an impulse (Schroeder backward integration)."""
    st = make_state(sample_rate) if state is None else state.copy()
    st[5] = 0.0  # reverb alone
    n = int(seconds * sample_rate)
    mix = np.zeros((4, n))
    mix[2, 0] = 1.0
    process(mix, n, st)
    e = mix[0] ** 2 + mix[1] ** 2
    sch = np.cumsum(e[::-1])[::-1]
    db = 10 * np.log10(np.maximum(sch / sch[0], 1e-30))
    t = np.arange(n) / sample_rate
    sel = (db < -5) & (db > -35)
    slope = np.polyfit(t[sel], db[sel], 1)[0]
    return float(-60.0 / slope)
