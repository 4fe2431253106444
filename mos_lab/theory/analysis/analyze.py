"""``analyze(score)``: harmonic analysis of a Score into an ``Analysis``.

The steps: drop drum tracks; cut the notes into slices; decode keys and numerals together
(``harmony.decode``); join equal neighbours into segments; name each segment (numeral
with its inversion from the bass, chord symbol, spelled root); label non-chord tones and
cadences. Input that has no harmony to find (empty, drums only, one line, atonal) still
gets an Analysis, whose ``message`` says why its ``key`` is None and confidence low.
"""

from __future__ import annotations

from functools import lru_cache

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


def _empty(score: Score, message: str) -> Analysis:
    """An analysis with no segments, saying why."""
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
    seg_strength = meter.strength(seg_start)
    assert sl.top is not None
    k_seg, i_seg = keys[first], nums[first]
    tonic = k_seg % 12
    rel = vocab.masks[k_seg // 12, i_seg]
    mask = ((rel << tonic) | (rel >> (12 - tonic))) & 0xFFF
    owner = np.repeat(np.arange(len(first)), last - first + 1)
    # the bass: the first slice of the segment whose lowest note belongs to the chord
    bpc = np.where(sl.bass >= 0, sl.bass % 12, 0)
    hit, found = _first_chord_tone(sl.bass, mask[owner], first, last)
    root_pc = (vocab.roots[k_seg // 12, i_seg] + tonic) % 12
    bass_pc = np.where(found, bpc[hit], root_pc)
    # the soprano likewise: an appoggiatura or suspension on top is not where it arrives
    hit, found = _first_chord_tone(sl.top, mask[owner], first, last)
    top = np.where(found, sl.top[hit], sl.top[first])
    seg_list = list(zip(k_seg.tolist(), i_seg.tolist(), ((bass_pc - tonic) % 12).tolist(),
                        strict=True))
    names = [_names(k, i, b) for k, i, b in seg_list]
    harmonies = [
        cadence.Harmony(int(a), int(b), float(st), k, nm[5], nm[3], nm[2], nm[6],
                        (int(tp) - k % 12) % 12 if tp >= 0 else -1, br)
        for a, b, st, (k, _, br), nm, tp in zip(seg_start, seg_end, seg_strength, seg_list,
                                                names, top, strict=True)
    ]
    ncts = nct.label(notes, seg_start, seg_end, mask)
    cads = cadence.find(harmonies, bl)
    segments = [
        Segment(int(a), int(b), float(sec), int(ms), float(bt), key_name(k), nm[0], nm[1],
                nm[7], nm[3], nm[2], nm[8], int(bp), tuple(n), c)
        for a, b, sec, ms, bt, (k, _, _), nm, bp, n, c in zip(
            seg_start, seg_end, seconds, measures, beats, seg_list, names, bass_pc, ncts, cads,
            strict=True)
    ]
    return _finish(score, notes, sl, segments, meter, mask)


def _first_chord_tone(pitch: np.ndarray, slice_mask: np.ndarray, first: np.ndarray,
                      last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per segment (slices ``first``..``last``), the first slice whose ``pitch`` (-1: none)
    is in that slice's chord mask, and whether there is one (else the index is arbitrary)."""
    pc = np.where(pitch >= 0, pitch % 12, 0)
    fits = np.flatnonzero((pitch >= 0) & (((slice_mask >> pc) & 1) == 1))
    if not len(fits):
        return first, np.zeros(len(first), bool)
    at = np.searchsorted(fits, first)
    hit = fits[np.minimum(at, len(fits) - 1)]
    return hit, (at < len(fits)) & (hit <= last)


@lru_cache(maxsize=8192)
def _names(key: int, index: int, bass: int) -> tuple[str, str, int, str, frozenset[int], int,
                                                     bool, str, tuple[int, ...]]:
    """What a segment says of numeral ``index`` in ``key`` over a bass (pc above the tonic):
    numeral, chord symbol, inversion, quality, pitch classes, root above the tonic, whether
    applied, root name, sorted pitch classes. Remembered: pieces repeat a few dozen."""
    entry = vocabulary().entries[key // 12][index]
    tonic = key % 12
    members = [(7 * f) % 12 for f in entry.members]
    inversion = members.index(bass) if bass in members else 0
    tf = key_fifths(key)
    root_f, bass_f = tf + entry.members[0], tf + entry.members[inversion]
    pcs = frozenset((q + tonic) % 12 for q in entry.pcs)
    return (entry.name(inversion), chord_symbol(root_f, entry.quality, bass_f), inversion,
            entry.quality, pcs, entry.root_pc, "/" in entry.tail, fifths_name(root_f),
            tuple(sorted(pcs)))


def _finish(score: Score, notes: np.ndarray, sl: Slices, segments: list[Segment],
            meter: Meter, masks: np.ndarray) -> Analysis:
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
