"""Pitch spelling for MIDI notes: each note's line-of-fifths position from its context.

The method follows Temperley's three preference rules for spelling (The Cognition of
Basic Musical Structures, 2001, ch. 5), made exact where they can be and vectorised:

1. **Local key** (his "pitch variance" rule, with Longuet-Higgins' and Chew & Chen's key
   centre). A Viterbi pass over one-beat frames picks a key per frame (tonic on the line of
   fifths, major or minor; 42 states) from line-of-fifths key profiles and a cost for
   changing key. Each note's candidates are the three spellings of its pitch class nearest
   to that key, scored by the key's profile.
2. **Harmony**: a spelling close on the line of fifths to the notes sounding with it
   (a centre of effect over a short window, Chew & Chen's spiral-array idea on a line) is
   preferred, so E-G#-B and F-Ab-C are both spelled as triads in C major.
3. **Voice leading**: between successive notes of a part, augmented and diminished steps
   cost; a chromatic semitone (C-C#) is cheap into an altered note but dear out of one,
   so C-C#-D rises with a sharp and D-Db-C falls with a flat.

Rules 2 and 3 are solved together by a few rounds of iterated conditional modes over
all notes at once (numpy arrays, no loop over notes). ``spell`` gives the positions as
an int array aligned with ``Score.notes`` (C = 0, G = 1, F = -1; see ``pitch.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mos_lab.score.model import Score

#: Unnormalised frequencies of each line-of-fifths position relative to the tonic
#: (index 0 is -15 fifths, 15 the tonic, 30 is +15), for major and for minor keys:
#: diatonic degrees high, common chromatic inflections (#4, b7, #1, b6 in major; raised
#: 6 and 7, Neapolitan b2, Picardy third in minor) lower, remote spellings rarest.
_REL = np.arange(-15, 16)
_MAJOR = {-6: 0.15, -5: 0.5, -4: 1.0, -3: 1.2, -2: 2.0, -1: 10.0, 0: 18.0, 1: 16.0,
          2: 11.0, 3: 10.0, 4: 14.0, 5: 8.0, 6: 2.5, 7: 1.5, 8: 1.2, 9: 0.5, 10: 0.3}
_MINOR = {-7: 0.1, -6: 0.3, -5: 1.2, -4: 9.0, -3: 14.0, -2: 5.0, -1: 10.0, 0: 18.0,
          1: 16.0, 2: 10.0, 3: 3.0, 4: 1.5, 5: 9.0, 6: 2.0, 7: 0.8, 8: 0.3, 9: 0.2}


def _profile(freq: dict[int, float]) -> np.ndarray:
    p = np.array([freq.get(int(r), 0.02) for r in _REL], dtype=np.float64)
    return -np.log(p / p.sum())


#: Cost (negative log probability) of each relative position, shape (2, 31): major, minor.
PROFILES = np.stack([_profile(_MAJOR), _profile(_MINOR)])
#: Key states: (tonic line-of-fifths position, minor flag).
TONICS = np.arange(-8, 13)
STATES = np.array([(t, m) for m in (0, 1) for t in TONICS], dtype=np.int64)


@dataclass(frozen=True)
class SpellingParams:
    """Weights of the spelling model (costs in nats); the defaults are textbook tonal music."""

    frame_beats: float = 1.0  # key frames, in beats
    key_change: float = 6.0  # cost of moving to another key between frames
    key_distance: float = 0.4  # extra cost per fifth the tonic moves
    remote_key: float = 0.5  # per frame and accidental beyond seven in the key signature
    far_key: float = 0.5  # per frame and fifth beyond six from the piece's key signature
    harmony: float = 0.55  # per fifth from the centre of the notes sounding around
    harmony_beats: float = 1.0  # half-width of that window, in beats
    chromatic_out: float = 5.0  # leaving an altered note by a chromatic semitone
    chromatic_in: float = 0.4  # reaching one by a chromatic semitone
    augmented_step: float = 2.5  # any other augmented/diminished melodic interval
    rounds: int = 4


#: Frames (beats) a note counts in for the local key, at most: a held note, or one whose
#: note-off a MIDI file lost, cannot decide the key for long.
MAX_SPAN = 2


def _pc(fifths: np.ndarray) -> np.ndarray:
    return (fifths * 7) % 12


def _best_in_key(pc: np.ndarray, tonic: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """The most likely spelling (line-of-fifths position) of each pitch class in a key."""
    # candidates tonic + r for r in -15..15 with the right pitch class
    rel = _REL[None, :]
    ok = _pc(tonic[:, None] + rel) == pc[:, None]
    cost = np.where(ok, PROFILES[minor], np.inf)
    return tonic + _REL[np.argmin(cost, axis=1)]


@lru_cache(maxsize=1)
def _state_costs() -> np.ndarray:
    """Cost of each pitch class in each key state (its best spelling's profile cost)."""
    s_t, s_m = STATES[:, 0], STATES[:, 1]
    cost = np.empty((len(STATES), 12))
    for q in range(12):
        t = _best_in_key(np.full(len(STATES), q), s_t, s_m)
        cost[:, q] = PROFILES[s_m, t - s_t + 15]
    cost.setflags(write=False)
    return cost


def _viterbi(emit: np.ndarray, change: float, per_fifth: float) -> np.ndarray:
    """Cheapest state path through frames; moving costs ``change + per_fifth * |tonic
    step|`` (42 states: a dense 42 x 42 step per frame is cheaper than any cleverness)."""
    n_frames, n_s = emit.shape
    s_t = STATES[:, 0]
    trans = change * (1 - np.eye(n_s)) + per_fifth * np.abs(s_t[:, None] - s_t[None, :])
    acc = 0.3 * np.abs(s_t - 3 * STATES[:, 1]) + emit[0]  # fewer accidentals first
    back = np.zeros((n_frames, n_s), dtype=np.int32)
    cols = np.arange(n_s)
    for f in range(1, n_frames):
        tot = acc[:, None] + trans
        back[f] = np.argmin(tot, axis=0)
        acc = tot[back[f], cols] + emit[f]
    path = np.empty(n_frames, dtype=np.int64)
    path[-1] = int(np.argmin(acc))
    for f in range(n_frames - 1, 0, -1):
        path[f - 1] = back[f, path[f]]
    return path


def _key_path(pc: np.ndarray, start: np.ndarray, dur: np.ndarray, tpq: int,
              p: SpellingParams) -> np.ndarray:
    """Index into STATES of the local key of each note (Viterbi over frames)."""
    frame = max(round(p.frame_beats * tpq), 1)
    end = start + np.maximum(dur, 1)
    f0 = start // frame
    f1 = np.minimum((end - 1) // frame, f0 + MAX_SPAN - 1)
    # every (note, frame) pair the note sounds in, weighted by its overlap in beats
    span = (f1 - f0 + 1).astype(np.int64)
    idx = np.repeat(np.arange(len(pc)), span)
    fr = f0[idx] + (np.arange(len(idx)) - np.repeat(np.cumsum(span) - span, span))
    lo = np.maximum(start[idx], fr * frame)
    hi = np.minimum(end[idx], (fr + 1) * frame)
    w = (hi - lo) / tpq
    # only frames where something sounds: an empty frame costs nothing in any key, so
    # leaving it out changes no path (and a silence of hours costs no memory)
    used, row = np.unique(fr, return_inverse=True)
    hist = np.zeros((len(used), 12))
    np.add.at(hist, (row, pc[idx]), w)
    emit = hist @ _state_costs().T  # (frames, states)
    # keys beyond seven accidentals are written enharmonically (F# minor, not Gb minor)
    signature = np.abs(STATES[:, 0] - 3 * STATES[:, 1])
    emit += p.remote_key * np.maximum(signature - 7, 0)[None, :]
    # and a piece keeps to one side of the line of fifths: keys whose signature lies more
    # than six fifths from the piece's own key (found over all frames) cost per frame
    sig = STATES[:, 0] - 3 * STATES[:, 1]
    whole = emit.sum(axis=0)
    home = int(sig[np.argmin(whole + 1e-6 * np.abs(sig))])
    emit += p.far_key * np.maximum(np.abs(sig - home) - 6, 0)[None, :]
    path = _viterbi(emit, p.key_change, p.key_distance)
    # a note takes the key of the frame it starts in
    return path[np.searchsorted(used, f0)]


def _links(start: np.ndarray, dur: np.ndarray, pitch: np.ndarray, voice: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """(from, to) note pairs that follow each other in a voice, nearest pitch first.

    Each note links to the note of the same voice that starts at the voice's next onset
    and is nearest in pitch (a chord's notes each find their own successor).
    """
    order = np.lexsort((pitch, start, voice))
    v, s, p = voice[order], start[order], pitch[order]
    n = len(order)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # group notes by (voice, onset); next group of the same voice
    new = np.ones(n, bool)
    new[1:] = (v[1:] != v[:-1]) | (s[1:] != s[:-1])
    gid = np.cumsum(new) - 1
    g_first = np.flatnonzero(new)
    g_last = np.append(g_first[1:], n) - 1
    g_voice = v[g_first]
    has_next = np.append(g_voice[1:] == g_voice[:-1], False)
    nxt = gid + 1
    ok = has_next[gid]
    src = np.flatnonzero(ok)
    lo, hi = g_first[nxt[src]], g_last[nxt[src]]
    # nearest pitch in the next group: searchsorted within each group's sorted pitches
    key = gid.astype(np.int64) * 256 + p
    pos = np.searchsorted(key, nxt[src].astype(np.int64) * 256 + p[src])
    a = np.clip(pos, lo, hi)
    b = np.clip(pos - 1, lo, hi)
    pick = np.where(np.abs(p[a] - p[src]) <= np.abs(p[b] - p[src]), a, b)
    return order[src], order[pick]


def spell_notes(pitch: np.ndarray, start: np.ndarray, duration: np.ndarray,
                voice: np.ndarray, tpq: int, params: SpellingParams | None = None
                ) -> np.ndarray:
    """Line-of-fifths position of each note (arrays of equal length, any order)."""
    p = params or SpellingParams()
    n = len(pitch)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    pitch = np.asarray(pitch, dtype=np.int64)
    start = np.asarray(start, dtype=np.int64)
    dur = np.asarray(duration, dtype=np.int64)
    pc = pitch % 12
    state = _key_path(pc, start, dur, tpq, p)
    tonic, minor = STATES[state, 0], STATES[state, 1]
    best = _best_in_key(pc, tonic, minor)
    cands = best[:, None] + np.array([-12, 0, 12])[None, :]  # (n, 3)
    rel = np.clip(cands - tonic[:, None] + 15, 0, 30)
    unary = PROFILES[minor[:, None], rel]
    unary = np.where(np.abs(cands - tonic[:, None]) > 15, 12.0, unary)

    src, dst = _links(start, dur, pitch, np.asarray(voice, dtype=np.int64))
    step = pitch[dst] - pitch[src]
    near = np.abs(step) <= 12
    src, dst, step = src[near], dst[near], step[near]

    # harmonic window: notes starting within +-W of a note, weighted by duration (<= W)
    w_ticks = max(int(p.harmony_beats * tpq), 1)
    order = np.argsort(start, kind="stable")
    s_sorted = start[order]
    lo = np.searchsorted(s_sorted, start - w_ticks, side="left")
    hi = np.searchsorted(s_sorted, start + w_ticks, side="right")
    # notes that began earlier but still sound also count: extend lo by the longest note
    weight = np.minimum(np.maximum(dur, 1), 2 * w_ticks).astype(np.float64) / tpq

    choice = np.ones(n, dtype=np.int64)  # index into cands: start with the key's best
    for _ in range(p.rounds):
        cur = cands[np.arange(n), choice]
        ws = np.concatenate([[0.0], np.cumsum(weight[order])])
        wt = np.concatenate([[0.0], np.cumsum((weight * cur)[order])])
        tot_w = ws[hi] - ws[lo] - weight
        centre = (wt[hi] - wt[lo] - weight * cur) / np.maximum(tot_w, 1e-9)
        harm = np.where(tot_w[:, None] > 0, np.abs(cands - centre[:, None]), 0.0)
        cost = unary + p.harmony * harm
        # voice leading, each link seen from both of its notes
        diatonic_cur = np.abs(cur - tonic - 2 + 3 * minor) <= 3
        for a, b, sign in ((src, dst, 1), (dst, src, -1)):
            other = cur[b]
            e = (other[:, None] - cands[a]) * sign  # fifths from first to second note
            st = step[:, None] * np.ones((1, 3), np.int64)
            first_diatonic = np.where(
                sign > 0,
                np.abs(cands[a] - tonic[a, None] - 2 + 3 * minor[a, None]) <= 3,
                diatonic_cur[b][:, None],
            )
            chrom = (np.abs(e) == 7) & (np.abs(st) == 1)
            aug = (np.abs(e) >= 7) & ~chrom
            link = np.where(chrom, np.where(first_diatonic, p.chromatic_in, p.chromatic_out), 0.0)
            link = link + np.where(aug, p.augmented_step, 0.0)
            np.add.at(cost, a, link)
        new_choice = np.argmin(cost, axis=1)
        if np.array_equal(new_choice, choice):
            break
        choice = new_choice
    return cands[np.arange(n), choice]


def spell(score: Score, params: SpellingParams | None = None) -> np.ndarray:
    """Line-of-fifths position of every note of a Score (drums get the plain spelling).

    A score that carries its own spelling (``Score.spelling``) keeps it; others are
    inferred from their notes.
    """
    if score.spelling is not None:
        return score.spelling.astype(np.int64)
    notes = score.notes
    out = np.zeros(len(notes), dtype=np.int64)
    if not len(notes):
        return out
    drums = np.array([t.drums for t in score.tracks] or [False], dtype=bool)
    is_drum = drums[np.minimum(notes["track"], len(drums) - 1)]
    plain = np.array([0, 7, 2, -3, 4, -1, 6, 1, 8, 3, -2, 5])
    out[:] = plain[notes["pitch"] % 12]
    keep = ~is_drum
    if keep.any():
        out[keep] = spell_notes(
            notes["pitch"][keep], notes["start"][keep], notes["duration"][keep],
            notes["track"][keep], score.tpq, params,
        )
    return out


def note_names(score: Score, params: SpellingParams | None = None) -> list[str]:
    """Spelled name with octave of every note (``"F#4"``), in ``Score.notes`` order."""
    from mos_lab.theory.pitch import Pitch

    fifths = spell(score, params)
    return [Pitch.from_midi(int(m), int(f)).name_with_octave
            for m, f in zip(score.notes["pitch"], fifths, strict=True)]


def local_keys(score: Score, params: SpellingParams | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """The spelling model's local key at each note: (tonic line-of-fifths position, minor).

    Drum notes (and an empty score) get C major.
    """
    notes = score.notes
    tonic = np.zeros(len(notes), dtype=np.int64)
    minor = np.zeros(len(notes), dtype=np.int64)
    drums = np.array([t.drums for t in score.tracks] or [False], dtype=bool)
    keep = ~drums[np.minimum(notes["track"], len(drums) - 1)] if len(notes) else np.zeros(0, bool)
    if keep.any():
        state = _key_path(notes["pitch"][keep].astype(np.int64) % 12,
                          notes["start"][keep].astype(np.int64),
                          notes["duration"][keep].astype(np.int64), score.tpq,
                          params or SpellingParams())
        tonic[keep], minor[keep] = STATES[state, 0], STATES[state, 1]
    return tonic, minor
