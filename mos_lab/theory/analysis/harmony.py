"""Keys and chords decoded together: one Viterbi pass over the score's slices.

A slice is a stretch where no note starts or ends. Every (key, numeral) pair is a state;
a slice scores each state by how well its sounding pitch classes fit the numeral's chord
(tones inside, tones outside, members missing, the bass) and the key's profile, weighted
by the slice's length. Changing chord costs a penalty that is lower on strong beats;
changing key costs more, and more again for distant keys; entering a numeral adds its
prior. So the harmony changes where the music says so, not at every onset, and keys
change only when a passage stays in the new key long enough to pay for the move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mos_lab.theory.analysis.vocabulary import Vocabulary
from mos_lab.theory.keyfinding import key_distance, log_profiles


@dataclass(frozen=True)
class Params:
    """Weights of the decoder (tuned on the chorales' training use; see bench_theory)."""

    inside: float = 1.0
    outside: float = 1.6
    missing: float = 0.55
    bass_root: float = 0.45
    bass_member: float = 0.15
    bass_outside: float = 0.6
    key_weight: float = 5.0
    change: float = 0.2
    change_beat: float = 0.8
    no_onset: float = 1.0
    modulation: float = 3.0
    modulation_step: float = 0.8
    prior_weight: float = 0.4
    miss_fifth: float = 0.3  # a missing fifth costs this share of a missing root or third
    miss_seventh: float = 0.6
    key_window: float = 0.0  # quarter notes either side that a slice's key evidence covers


@dataclass(frozen=True)
class Slices:
    """The score cut where any note starts or ends: times, pitch-class counts and bass."""

    start: np.ndarray  # ticks
    end: np.ndarray
    counts: np.ndarray  # (n, 12) sounding notes per pitch class
    bass: np.ndarray  # lowest sounding MIDI pitch, -1 when silent
    onset: np.ndarray  # bool: some note starts here


def slice_notes(starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray) -> Slices:
    """Cut notes (ticks, MIDI pitches) into slices; vectorised, no loop over notes."""
    bounds = np.unique(np.concatenate([starts, ends]))
    if len(bounds) < 2:
        z = np.zeros(0, dtype=np.int64)
        return Slices(z, z, np.zeros((0, 12)), z, np.zeros(0, bool))
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
    onset = np.zeros(n, bool)
    onset[np.unique(si)] = True
    return Slices(bounds[:-1], bounds[1:], counts, bass, onset)


def _tables(vocab: Vocabulary, p: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                   np.ndarray]:
    """Per mode: chord membership (12, J), missing-member weight (12, J), root (J), bass
    member flag (12, J)."""
    j = vocab.size
    member = np.zeros((2, 12, j))
    miss = np.zeros((2, 12, j))
    root = np.full((2, j), -1)
    for m, entries in enumerate(vocab.entries):
        for i, e in enumerate(entries):
            weights = (1.0, 1.0, p.miss_fifth, p.miss_seventh, p.miss_fifth)
            for k, f in enumerate(e.members):
                pc = (7 * f) % 12
                member[m, pc, i] = 1.0
                miss[m, pc, i] = max(miss[m, pc, i], weights[min(k, 4)])
            root[m, i] = e.root_pc
    return member, miss, root, member


def key_context(sl: Slices, tpq: int, window: float) -> np.ndarray:
    """(n, 12) pitch-class distribution of the music within ``window`` quarters of each slice."""
    n = len(sl.start)
    dur = (sl.end - sl.start).astype(np.float64)
    cum = np.zeros((n + 1, 12))
    np.cumsum(sl.counts * dur[:, None], axis=0, out=cum[1:])
    w = int(window * tpq)
    lo = np.searchsorted(sl.end, sl.start - w, side="right")
    hi = np.searchsorted(sl.start, sl.end + w, side="left")
    ctx = cum[hi] - cum[lo]
    tot = ctx.sum(axis=1, keepdims=True)
    return np.divide(ctx, tot, out=np.zeros_like(ctx), where=tot > 0)


def emissions(sl: Slices, weights: np.ndarray, tpq: int, vocab: Vocabulary, p: Params,
              tables: tuple[np.ndarray, ...], context: np.ndarray) -> np.ndarray:
    """(n, 24, J) score of every (key, numeral) state for slices ``sl`` (a chunk)."""
    member, miss, root, _ = tables
    n = len(sl.start)
    j = vocab.size
    total = sl.counts.sum(axis=1)
    frac = np.divide(sl.counts, total[:, None], out=np.zeros_like(sl.counts),
                     where=total[:, None] > 0)
    present = (sl.counts > 0).astype(np.float64)
    dur = weights
    logk = log_profiles()
    out = np.empty((n, 24, j))
    silent = total == 0
    bass_pc = np.where(sl.bass >= 0, sl.bass % 12, 0)
    for k in range(24):
        m, tonic = divmod(k, 12)
        idx = (np.arange(12) + tonic) % 12
        fr = frac[:, idx]
        inside = fr @ member[m]
        score = p.inside * inside - p.outside * (1.0 - inside)
        score -= p.missing * ((1.0 - present[:, idx]) @ miss[m])
        brel = (bass_pc - tonic) % 12
        is_member = member[m][brel]  # (n, J)
        is_root = (root[m][None, :] == brel[:, None]).astype(np.float64)
        score += p.bass_root * is_root + p.bass_member * (is_member - is_root)
        score -= p.bass_outside * (1.0 - is_member)
        score += p.key_weight * (context @ logk[k] + 2.5)[:, None]
        score[silent] = 0.0
        out[:, k, :] = score * dur[:, None]
    return out


def decode(sl: Slices, strength: np.ndarray, tpq: int, vocab: Vocabulary,
           p: Params = Params(), chunk: int = 2048) -> tuple[np.ndarray, np.ndarray, float]:
    """Best (key, numeral) per slice: key indices, numeral indices and the path's score."""
    n = len(sl.start)
    j = vocab.size
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, 0.0
    tables = _tables(vocab, p)
    prior = np.concatenate([np.repeat(vocab.prior[m][None, :], 12, axis=0) for m in (0, 1)])
    prior = p.prior_weight * prior  # (24, J), -inf on padding
    dist = key_distance().astype(np.float64)
    kcost = p.modulation + p.modulation_step * dist
    np.fill_diagonal(kcost, np.inf)
    change = p.change - p.change_beat * strength + p.no_onset * (~sl.onset)
    dur = (sl.end - sl.start) / tpq
    context = key_context(sl, tpq, p.key_window)
    choice = np.zeros((n, 24, j), dtype=np.int8)
    arg_in_key = np.zeros((n, 24), dtype=np.int64)
    from_key = np.zeros((n, 24), dtype=np.int64)
    delta = np.empty((24, j))
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        part = Slices(sl.start[c0:c1], sl.end[c0:c1], sl.counts[c0:c1], sl.bass[c0:c1],
                      sl.onset[c0:c1])
        em = emissions(part, dur[c0:c1], tpq, vocab, p, tables, context[c0:c1])
        for t in range(c0, c1):
            e = em[t - c0]
            if t == 0:
                delta = prior + e
                continue
            best_j = delta.argmax(axis=1)
            best_k = delta[np.arange(24), best_j]
            cand = best_k[:, None] - kcost  # (from, to)
            fk = cand.argmax(axis=0)
            via_key = cand[fk, np.arange(24)]
            same = best_k - change[t]
            other = via_key - change[t]
            enter = np.maximum(same, other)[:, None] + prior
            ch = np.where(enter > delta, np.where(same >= other, 1, 2)[:, None], 0)
            delta = np.maximum(delta, enter) + e
            choice[t] = ch
            arg_in_key[t] = best_j
            from_key[t] = fk
    keys = np.empty(n, dtype=np.int64)
    nums = np.empty(n, dtype=np.int64)
    flat = int(delta.argmax())
    k, i = divmod(flat, j)
    score = float(delta[k, i])
    for t in range(n - 1, -1, -1):
        keys[t], nums[t] = k, i
        if t == 0:
            break
        c = choice[t, k, i]
        if c == 1:
            i = int(arg_in_key[t, k])
        elif c == 2:
            k = int(from_key[t, k])
            i = int(arg_in_key[t, k])
    return keys, nums, score
