"""Keys and chords decoded together: one Viterbi pass over the score's slices.

A slice is a stretch where no note starts or ends. Every (key, numeral) pair is a state;
a slice scores each state by how well its sounding pitch classes fit the numeral's chord
(tones inside, tones outside, members missing, the bass) and the key's profile, weighted
by the slice's length. Changing chord costs a penalty that is lower on strong beats;
changing key costs more, and more again for distant keys; entering a numeral adds its
prior. So the harmony changes where the music says so, not at every onset, and keys
change only when a passage stays in the new key long enough to pay for the move.
That length is counted in harmonies, not ticks: the unit of time is the harmonic rhythm
(the bass's attacks), and a second pass caps the key evidence of each chord the first
pass found, so one triad held for a bar cannot pay for a move to its own key.

Only the keys that some 8-beat window favours are decoded (a chorale needs 5-9 of 24),
emissions are computed per chord shape and root (every V7/x is one shape), and the
forward and backward passes are compiled with numba (``mos_lab._jit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from mos_lab.theory.analysis.vocabulary import Vocabulary
from mos_lab.theory.keyfinding import key_distance, key_scores, log_profiles


@dataclass(frozen=True)
class Params:
    """Weights of the decoder, in log-score units per beat of music.

    Chosen by a coordinate search on every third of the 371 Bach chorales (the rest kept
    to check them); ``home`` and ``key_window`` are off because they did not help there.
    ``bass_rhythm`` (the unit of time is the harmonic rhythm, read from the bass) is what
    keeps a song with a chord a bar from hearing every triad as its own tonic, and
    ``chord_key_span`` (a second pass in which a chord of the first pass held longer than
    1.5 units weighs no more on the key than one that long) keeps it so when the bass walks
    (on every third chorale chosen among 0.75, 1, 1.5 and 2: key 85.0 -> 86.1 %).
    """

    inside: float = 1.53
    outside: float = 2.45
    missing: float = 0.84
    bass_root: float = 0.5
    bass_member: float = 0.11
    bass_outside: float = 0.6
    key_weight: float = 4.0
    profile: str = "mixed"  # key profile (keyfinding.profiles)
    change: float = 0.19
    change_beat: float = 0.72
    no_onset: float = 1.18
    modulation: float = 2.3
    modulation_step: float = 1.04
    prior_weight: float = 0.31
    miss_fifth: float = 0.46  # a missing fifth costs this share of a missing root or third
    miss_seventh: float = 0.92
    home: float = 0.0  # bonus per unit of time for the piece's overall key
    window: float = 8.0  # beats per window when choosing the keys worth decoding
    keys_per_window: int = 3
    key_window: float = 0.0  # beats either side that a slice's key evidence covers
    chord_key_span: float = 1.5  # most units of key evidence one held chord gives (0: no cap)
    bass_rhythm: bool = True  # time unit from the bass's attacks (harmonic rhythm), not all


@dataclass(frozen=True)
class Slices:
    """The score cut where any note starts or ends: times, pitch-class counts and bass."""

    start: np.ndarray  # ticks
    end: np.ndarray
    counts: np.ndarray  # (n, 12) sounding notes per pitch class
    bass: np.ndarray  # lowest sounding MIDI pitch, -1 when silent
    onset: np.ndarray  # bool: some note starts here
    top: np.ndarray | None = None  # highest sounding MIDI pitch, -1 when silent
    bass_onset: np.ndarray | None = None  # bool: the lowest sounding note starts here


def slice_notes(starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray) -> Slices:
    """Cut notes (ticks, MIDI pitches) into slices; vectorised, no loop over notes."""
    bounds = np.unique(np.concatenate([starts, ends]))
    if len(bounds) < 2:
        z = np.zeros(0, dtype=np.int64)
        return Slices(z, z, np.zeros((0, 12)), z, np.zeros(0, bool), z, np.zeros(0, bool))
    n = len(bounds) - 1
    si = np.searchsorted(bounds, starts)
    ei = np.searchsorted(bounds, ends)
    keep = ei > si
    si, ei, p = si[keep], ei[keep], pitches[keep].astype(np.int64)
    diff = np.zeros((n + 1, 128), dtype=np.int32)
    np.add.at(diff, (si, p), 1)
    np.add.at(diff, (ei, p), -1)
    sounding = np.cumsum(diff[:-1], axis=0) > 0
    counts = sounding.reshape(n, 128)[:, :120].reshape(n, 10, 12).sum(axis=1).astype(np.float64)
    counts += sounding[:, 120:128].astype(np.float64) @ np.eye(12)[np.arange(120, 128) % 12]
    any_on = sounding.any(axis=1)
    bass = np.where(any_on, np.argmax(sounding, axis=1), -1)
    top = np.where(any_on, 127 - np.argmax(sounding[:, ::-1], axis=1), -1)
    onset = np.zeros(n, bool)
    onset[np.unique(si)] = True
    struck = np.zeros((n + 1, 128), dtype=bool)
    struck[si, p] = True
    bass_onset = (bass >= 0) & struck[np.arange(n), np.maximum(bass, 0)]
    return Slices(bounds[:-1], bounds[1:], counts, bass, onset, top, bass_onset)


@dataclass(frozen=True, eq=False)
class Types:
    """The distinct chord shapes of a vocabulary: membership and missing-member weights
    above the root (T shapes), and each (mode, numeral)'s shape and root above the tonic."""

    member: np.ndarray  # (12, T) 1 where the pitch class above the root is in the shape
    miss: np.ndarray  # (12, T) what a missing member costs
    shape: np.ndarray  # (2, J) shape index of each numeral
    root: np.ndarray  # (2, J) root pitch class above the tonic


@lru_cache(maxsize=16)
def chord_types(vocab: Vocabulary, p: Params) -> Types:
    """The shapes that the numerals of ``vocab`` make (a dozen or so: every V7/x is one)."""
    weights = (1.0, 1.0, p.miss_fifth, p.miss_seventh, p.miss_fifth)
    found: dict[tuple[float, ...], int] = {}
    cols: list[np.ndarray] = []
    shape = np.zeros((2, vocab.size), dtype=np.int64)
    root = np.zeros((2, vocab.size), dtype=np.int64)
    for m, entries in enumerate(vocab.entries):
        for i, e in enumerate(entries):
            col = np.zeros(24)  # membership, then missing weight, above the root
            for k, f in enumerate(e.members):
                pc = ((7 * f) - e.root_pc) % 12
                col[pc] = 1.0
                col[12 + pc] = max(col[12 + pc], weights[min(k, 4)])
            key = tuple(col.tolist())
            if key not in found:
                found[key] = len(cols)
                cols.append(col)
            shape[m, i], root[m, i] = found[key], e.root_pc
    table = np.array(cols).T
    return Types(table[:12], table[12:], shape, root)


def time_unit(sl: Slices, beat: int, bass: bool = True) -> float:
    """Ticks that weigh 1 in the decoder: the beat, or the harmonic rhythm when that is
    slower (up to four beats), so that every score term and penalty counts harmonic
    events, not ticks, and a piece scores alike whether its chords move in quarters, halves
    or whole bars. The harmonic rhythm is read from the bass (``bass``): the gap between
    attacks of the lowest sounding note that covers the median moment of the piece. A
    tune in quarter notes over a chord a bar would otherwise make every bar four units of
    evidence, enough for one triad to pass for its own key."""
    on = sl.onset if not bass or sl.bass_onset is None else sl.bass_onset
    starts = sl.start[on]
    if len(starts) < 3:
        return float(beat)
    gaps = np.sort(np.diff(starts).astype(np.float64))
    cum = np.cumsum(gaps)
    mid = gaps[int(np.searchsorted(cum, cum[-1] / 2))]
    return float(np.clip(mid, beat, 4 * beat))


def key_context(sl: Slices, beat: int, window: float) -> np.ndarray:
    """(n, 12) pitch-class distribution of the music within ``window`` beats of each slice."""
    n = len(sl.start)
    dur = (sl.end - sl.start).astype(np.float64)
    cum = np.zeros((n + 1, 12))
    np.cumsum(sl.counts * dur[:, None], axis=0, out=cum[1:])
    w = int(window * beat)
    lo = np.searchsorted(sl.end, sl.start - w, side="right")
    hi = np.searchsorted(sl.start, sl.end + w, side="left")
    ctx = cum[hi] - cum[lo]
    tot = ctx.sum(axis=1, keepdims=True)
    return np.divide(ctx, tot, out=np.zeros_like(ctx), where=tot > 0)


def candidate_keys(sl: Slices, dur: np.ndarray, beat: int, p: Params) -> np.ndarray:
    """Keys worth decoding: the best few of every window of ``p.window`` beats (by key
    profile), and of the whole piece. A chorale needs 5-9 of the 24, which makes the
    decoder three to four times faster and never loses a key the music dwells in."""
    weight = sl.counts * dur[:, None]
    win = (sl.start // max(1, int(p.window * beat))).astype(np.int64)
    hist = np.zeros((int(win.max()) + 1, 12))
    np.add.at(hist, win, weight)
    hist = np.vstack([hist[hist.sum(axis=1) > 0], weight.sum(axis=0)])
    scores = key_scores(hist)
    top = np.argsort(-scores, axis=1)[:, : p.keys_per_window]
    return np.unique(top)


def emissions(sl: Slices, weights: np.ndarray, p: Params, types: Types) -> np.ndarray:
    """(n, 12 * T) score of every chord (root, shape) for the slices ``sl``, weighted by
    ``weights`` (their lengths): tones inside and outside, members missing, the bass."""
    n = len(sl.start)
    nt = types.member.shape[1]
    total = sl.counts.sum(axis=1)
    frac = np.divide(sl.counts, total[:, None], out=np.zeros_like(sl.counts),
                     where=total[:, None] > 0)
    absent = (sl.counts == 0).astype(np.float64)
    bass_pc = np.where(sl.bass >= 0, sl.bass % 12, 0)
    rot = (np.arange(12)[:, None] + np.arange(12)[None, :]) % 12  # [root, pc above it]
    out = (p.inside + p.outside) * (frac[:, rot] @ types.member) - p.outside
    out -= p.missing * (absent[:, rot] @ types.miss)
    brel = (bass_pc[:, None] - np.arange(12)[None, :]) % 12  # (n, root)
    out += (p.bass_member + p.bass_outside) * types.member[brel] - p.bass_outside
    out += (p.bass_root - p.bass_member) * ((brel == 0)[:, :, None] * types.member[0])
    out[total == 0] = 0.0
    out *= weights[:, None, None]
    return out.reshape(n, 12 * nt)


def decode(sl: Slices, strength: np.ndarray, beat: int, vocab: Vocabulary,
           p: Params = Params(), chunk: int = 2048) -> tuple[np.ndarray, np.ndarray, float]:
    """Best (key, numeral) per slice: key indices, numeral indices and the path's score."""
    n = len(sl.start)
    j = vocab.size
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, 0.0
    types = chord_types(vocab, p)
    dur = (sl.end - sl.start) / time_unit(sl, beat, p.bass_rhythm)
    keys = candidate_keys(sl, dur, beat, p)
    nk = len(keys)
    prior = p.prior_weight * vocab.prior[keys // 12]  # (K, J), -inf on padding
    # the chord column of every (key, numeral) state
    nt = types.member.shape[1]
    column = ((types.root[keys // 12] + (keys % 12)[:, None]) % 12) * nt + \
        types.shape[keys // 12]
    dist = key_distance()[np.ix_(keys, keys)].astype(np.float64)
    kcost = p.modulation + p.modulation_step * dist
    np.fill_diagonal(kcost, np.inf)
    change = p.change - p.change_beat * strength + p.no_onset * (~sl.onset)
    context = key_context(sl, beat, p.key_window)
    hist = (sl.counts * dur[:, None]).sum(axis=0)
    home = np.where(keys == int(np.argmax(key_scores(hist))), p.home, 0.0)
    silent = sl.counts.sum(axis=1) == 0
    keyterm = (p.key_weight * (context @ log_profiles(p.profile)[keys].T + 2.5) + home[None, :])
    keyterm[silent] = 0.0
    keyterm *= dur[:, None]
    em_all = [emissions(Slices(sl.start[c0:c1], sl.end[c0:c1], sl.counts[c0:c1],
                               sl.bass[c0:c1], sl.onset[c0:c1]), dur[c0:c1], p, types)
              for c0, c1 in ((c, min(n, c + chunk)) for c in range(0, n, chunk))]
    args = (em_all, column, prior, kcost, change, n, nk, j, chunk)
    states_k, nums, score = _viterbi(keyterm, *args)
    if p.chord_key_span > 0:
        # key evidence counts per harmony, not per tick: a chord held longer than
        # ``chord_key_span`` units says no more about the key than one that long
        col = column[states_k, nums]
        cut = np.flatnonzero(np.diff(col) != 0) + 1
        run = np.repeat(np.arange(len(cut) + 1), np.diff(np.concatenate([[0], cut, [n]])))
        span = np.bincount(run, weights=dur)[run]
        scale = np.minimum(1.0, p.chord_key_span / np.maximum(span, 1e-9))
        states_k, nums, score = _viterbi(keyterm * scale[:, None], *args)
    return keys[states_k], nums, float(score)


def _viterbi(keyterm: np.ndarray, em_all: list[np.ndarray], column: np.ndarray,
             prior: np.ndarray, kcost: np.ndarray, change: np.ndarray, n: int, nk: int,
             j: int, chunk: int) -> tuple[np.ndarray, np.ndarray, float]:
    """One forward and backward pass over all slices, chunk by chunk."""
    choice = np.zeros((n, nk, j), dtype=np.int8)
    arg_in_key = np.zeros((n, nk), dtype=np.int64)
    from_key = np.zeros((n, nk), dtype=np.int64)
    delta = np.zeros((nk, j))
    forward, backward = _kernels()
    for c0, em in zip(range(0, n, chunk), em_all, strict=True):
        c1 = min(n, c0 + chunk)
        forward(em, keyterm[c0:c1], column, delta, prior, kcost, change[c0:c1], choice[c0:c1],
                arg_in_key[c0:c1], from_key[c0:c1], c0 == 0)
    states_k, nums, score = backward(delta, choice, arg_in_key, from_key)
    return states_k, nums, float(score)


def _forward(em: np.ndarray, keyterm: np.ndarray, column: np.ndarray, delta: np.ndarray,
             prior: np.ndarray, kcost: np.ndarray, change: np.ndarray, choice: np.ndarray,
             arg_in_key: np.ndarray, from_key: np.ndarray, first: bool) -> None:
    """Viterbi forward pass over one chunk of slices; ``delta`` (K, J) carries over. A
    state's emission is its chord's column of ``em`` plus its key's ``keyterm``."""
    n = em.shape[0]
    nk, nj = delta.shape
    best_j = np.zeros(nk, dtype=np.int64)
    best_k = np.zeros(nk)
    for t in range(n):
        if t == 0 and first:
            for k in range(nk):
                for j in range(nj):
                    delta[k, j] = prior[k, j] + em[0, column[k, j]] + keyterm[0, k]
            continue
        for k in range(nk):
            bj = 0
            for j in range(1, nj):
                if delta[k, j] > delta[k, bj]:
                    bj = j
            best_j[k] = bj
            best_k[k] = delta[k, bj]
            arg_in_key[t, k] = bj
        for k in range(nk):
            fk = 0
            bv = best_k[0] - kcost[0, k]
            for k1 in range(1, nk):
                v = best_k[k1] - kcost[k1, k]
                if v > bv:
                    bv, fk = v, k1
            from_key[t, k] = fk
            same = best_k[k] - change[t]
            other = bv - change[t]
            base = same if same >= other else other
            how = 1 if same >= other else 2
            for j in range(nj):
                enter = base + prior[k, j]
                if enter > delta[k, j]:
                    delta[k, j] = enter
                    choice[t, k, j] = how
                delta[k, j] += em[t, column[k, j]] + keyterm[t, k]


def _backward(delta: np.ndarray, choice: np.ndarray, arg_in_key: np.ndarray,
              from_key: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Viterbi backtrace: the best state's key and numeral per slice, and its score."""
    n = choice.shape[0]
    nk, nj = delta.shape
    k, i = 0, 0
    for kk in range(nk):
        for jj in range(nj):
            if delta[kk, jj] > delta[k, i]:
                k, i = kk, jj
    score = delta[k, i]
    ks = np.empty(n, dtype=np.int64)
    js = np.empty(n, dtype=np.int64)
    for t in range(n - 1, -1, -1):
        ks[t], js[t] = k, i
        if t == 0:
            break
        c = choice[t, k, i]
        if c == 1:
            i = arg_in_key[t, k]
        elif c == 2:
            k = from_key[t, k]
            i = arg_in_key[t, k]
    return ks, js, score


_COMPILED: tuple[Any, Any] | None = None


def _kernels() -> tuple[Any, Any]:
    """The forward and backward passes compiled with numba (cached on disk), or as plain
    Python where numba cannot compile (the same code, slower)."""
    global _COMPILED
    if _COMPILED is None:
        try:
            from mos_lab._jit import jit

            _COMPILED = (jit()(_forward), jit()(_backward))
        except ImportError:
            _COMPILED = (_forward, _backward)
    return _COMPILED
