"""``analyze(score)``: harmonic analysis of a Score into an ``Analysis``.

The steps: drop drum tracks; cut the notes into slices; decode keys and numerals together
(``harmony.decode``); join equal neighbours into segments; name each segment (numeral
with its inversion from the bass, chord symbol, spelled root); label non-chord tones and
cadences. Input that has no harmony to find (empty, drums only, one line, atonal) still
gets an Analysis, whose ``message`` says why its ``key`` is None and confidence low.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mos_lab.score import Score
from mos_lab.theory.analysis import cadence, nct
from mos_lab.theory.analysis.harmony import Params, Slices, decode, slice_notes
from mos_lab.theory.analysis.meter import Meter
from mos_lab.theory.analysis.model import Analysis, Segment, chord_symbol
from mos_lab.theory.analysis.vocabulary import Vocabulary, build
from mos_lab.theory.keyfinding import key_fifths, key_name, key_scores
from mos_lab.theory.pitch import fifths_name

_VOCAB: Vocabulary | None = None


def vocabulary() -> Vocabulary:
    """The shared vocabulary (built once per process)."""
    global _VOCAB
    if _VOCAB is None:
        _VOCAB = build()
    return _VOCAB


def _empty(score: Score, message: str, meter: Meter | None = None) -> Analysis:
    ts = [(t.tick, t.numerator, t.denominator) for t in score.time_signatures]
    return Analysis([], None, 0.0, score.tpq, ts, {}, {"Title": score.title} if score.title
                    else {}, message)


def _pitched(score: Score) -> np.ndarray:
    """The note rows of non-drum tracks with a length."""
    notes = score.notes
    drums = np.array([t.drums for t in score.tracks] or [False], dtype=bool)
    keep = ~drums[np.minimum(notes["track"], len(drums) - 1)] & (notes["duration"] > 0)
    return notes[keep]


def analyze(score: Score, *, pickup: int | None = None, params: Params | None = None) -> Analysis:
    """Keys, Roman numerals, chords, non-chord tones and cadences of a score.

    ``pickup`` is the length of an upbeat bar in ticks (inferred when None: the final
    chord falls on a downbeat); it only moves measure numbers and metrical weights.
    """
    if not isinstance(score, Score):
        raise TypeError(f"analyze() needs a Score, not {type(score).__name__}")
    p = params or Params()
    if not score.n_notes:
        return _empty(score, "empty score: no notes")
    notes = _pitched(score)
    if not len(notes):
        return _empty(score, "no pitched notes (drums only)")
    meter = Meter.of(score, pickup)
    starts = notes["start"].astype(np.int64)
    ends = starts + notes["duration"].astype(np.int64)
    sl = slice_notes(starts, ends, notes["pitch"])
    strength = meter.strength(sl.start)
    vocab = vocabulary()
    keys, nums, _ = decode(sl, strength, meter.beat_length(0), vocab, p)
    # segments: runs of one (key, numeral) state
    change = np.flatnonzero((np.diff(keys) != 0) | (np.diff(nums) != 0)) + 1
    first = np.concatenate([[0], change])
    last = np.concatenate([change, [len(keys)]]) - 1
    seg_start = sl.start[first]
    seg_end = sl.end[last]
    measures, beats = meter.positions(seg_start)
    seconds = np.atleast_1d(score.tempo.ticks_to_seconds(seg_start))
    bl = meter.beat_length(0)
    named: list[dict[str, Any]] = []
    harmonies: list[cadence.Harmony] = []
    pcs_list: list[frozenset[int]] = []
    seg_strength = meter.strength(seg_start)
    assert sl.top is not None
    top = sl.top[first]
    for s in range(len(first)):
        k, i = int(keys[first[s]]), int(nums[first[s]])
        entry = vocab.entries[k // 12][i]
        tonic = k % 12
        pcs = frozenset((q + tonic) % 12 for q in entry.pcs)
        bass = -1
        for t in range(int(first[s]), int(last[s]) + 1):
            b = int(sl.bass[t])
            if b >= 0 and b % 12 in pcs:
                bass = b % 12
                break
        if bass < 0:
            bass = (entry.root_pc + tonic) % 12
        member_pcs = [(7 * f) % 12 for f in entry.members]
        inversion = member_pcs.index((bass - tonic) % 12)
        tf = key_fifths(k)
        root_f = tf + entry.members[0]
        bass_f = tf + entry.members[inversion]
        numeral = entry.name(inversion)
        quality = entry.quality
        pcs_list.append(pcs)
        named.append(dict(
            tick=int(seg_start[s]), end=int(seg_end[s]), onset=float(seconds[s]),
            measure=int(measures[s]), beat=float(beats[s]), key=key_name(k), numeral=numeral,
            chord=chord_symbol(root_f, quality, bass_f), root=fifths_name(root_f),
            quality=quality, inversion=inversion, pcs=tuple(sorted(pcs)), bass=bass,
        ))
        harmonies.append(cadence.Harmony(
            int(seg_start[s]), int(seg_end[s]), float(seg_strength[s]), k,
            entry.root_pc, quality, inversion, "/" in entry.tail,
            (int(top[s]) - tonic) % 12 if top[s] >= 0 else -1, (bass - tonic) % 12))
    ncts = nct.label(notes, seg_start, seg_end, pcs_list)
    cads = cadence.find(harmonies, bl)
    segments = [Segment(**kw, non_chord_tones=tuple(n), cadence=c)
                for kw, n, c in zip(named, ncts, cads, strict=True)]
    return _finish(score, notes, sl, segments, meter)


def _finish(score: Score, notes: np.ndarray, sl: Slices, segments: list[Segment],
            meter: Meter) -> Analysis:
    """Global key, confidence and the message for input without a clear harmony."""
    hist = np.bincount(notes["pitch"] % 12, weights=notes["duration"].astype(np.float64),
                       minlength=12)
    corr = key_scores(hist)
    best = float(corr.max())
    durations: dict[str, float] = {}
    for s in segments:
        durations[s.key] = durations.get(s.key, 0.0) + (s.end - s.tick)
    key = max(durations, key=lambda k: (durations[k], k == segments[-1].key)) if segments \
        else None
    # how much of the sounding music the chords explain
    inside = 0.0
    total = 0.0
    starts = np.asarray([s.tick for s in segments])
    masks = np.asarray([sum(1 << q for q in s.pcs) for s in segments])
    if len(starts):
        idx = np.clip(np.searchsorted(starts, notes["start"], side="right") - 1, 0, None)
        w = notes["duration"].astype(np.float64)
        ok = (masks[idx] >> (notes["pitch"] % 12).astype(np.int64)) & 1
        inside, total = float((w * ok).sum()), float(w.sum())
    fit = inside / total if total else 0.0
    confidence = float(np.clip((best - 0.4) / 0.5, 0, 1) * np.clip((fit - 0.5) / 0.4, 0, 1))
    message = ""
    poly = int((sl.counts.sum(axis=1) > 1).sum())
    if poly == 0:
        message = "single line: no chords sound together, so keys and chords are guesses"
        key, confidence = None, min(confidence, 0.2)
    elif best < 0.5:
        message = f"atonal or unclear: no key profile fits (best correlation {best:.2f})"
        key, confidence = None, min(confidence, 0.2)
    ts = [(t.tick, t.numerator, t.denominator) for t in score.time_signatures]
    mt = {int(n): int(s) for n, s in zip(meter.numbers, meter.starts, strict=True)}
    if meter.pickup:
        mt[0] = meter.tick(0, 1.0)
    meta = {"Title": score.title} if score.title else {}
    return Analysis(segments, key, confidence, score.tpq, ts, mt, meta, message)
