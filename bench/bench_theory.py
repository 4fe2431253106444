"""Theory benchmarks: agreement with human Roman-numeral analyses, and speed against music21.

Agreement: the 371 human analyses of Bach's chorales in ``shared/corpus/roman`` (When in
Rome, CC BY-SA 4.0) against ``theory.analyze`` on an eighth-note grid, three rates over all
frames of all chorales: key (tonic and mode), chord (pitch-class set), full (same key,
chord and bass). The scores come from music21's corpus; they are read once with music21
(straight from its note objects, ties merged: faster than its MIDI translation) and kept
under ``~/.cache/mos_lab/bench/chorales`` as numpy files, so later runs skip the parse.

Speed: all 371 analysed on one core, then music21's own tools on the same scores
(``analyze('key')`` plus ``romanNumeralFromChord`` over ``chordify()``), as a ratio.

Times are CPU seconds of this (single-threaded) process, so other load on the machine
does not count; the wall time is printed too.

Other repertoire (``--other``): music21's Monteverdi madrigals with their human analyses,
never used for tuning (pre-tonal, so a hard test of honesty off the chorales).

Run: python bench/bench_theory.py [--limit N] [--m21 N] [--other]  (``--m21 0`` skips
music21)
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mos_lab._jit import jit
from mos_lab.score import NOTE_DTYPE, Score, TimeSignature, Track
from mos_lab.score.tempo import TempoChange, TempoMap
from mos_lab.theory.analysis import analyze
from mos_lab.theory.analysis.harmony import Params
from mos_lab.theory.romantext import RomanTextError, read_romantext

ROMAN = Path(os.environ.get("MOS_LAB_ROMAN", "/work/shared/corpus/roman/bach-chorales"))
CACHE = Path.home() / ".cache" / "mos_lab" / "bench" / "chorales"
TPQ = 480


@dataclass
class Chorale:
    """One chorale: its score, the human analysis text and its measures' offsets."""

    number: str
    score: Score
    human: str
    measures: dict[int, float]  # measure number -> offset in quarter notes
    source: str


def _convert(name: str, dest: Path) -> None:
    """Read one corpus file with music21 and store its notes and measure offsets."""
    from music21 import corpus

    s = corpus.parse(name)
    rows = []
    for i, part in enumerate(s.parts):
        for n in part.flatten().stripTies().notes:
            for p in n.pitches:
                rows.append((float(n.offset), float(n.quarterLength), int(p.midi), i))
    first = s.parts[0]
    measures = {}
    for m in first.getElementsByClass("Measure"):
        measures.setdefault(int(m.number), float(m.offset))
    ts = [(float(t.offset), t.numerator, t.denominator)
          for t in first.flatten().getElementsByClass("TimeSignature")]
    np.savez(dest, notes=np.array(rows, dtype=np.float64).reshape(-1, 4),
             measures=np.array(sorted(measures.items()), dtype=np.float64).reshape(-1, 2),
             ts=np.array(ts, dtype=np.float64).reshape(-1, 3), n_parts=len(s.parts))


def _score(path: Path) -> tuple[Score, dict[int, float]]:
    """A Score (480 ticks per quarter) and the measure offsets from a cached file."""
    z = np.load(path)
    rows = z["notes"]
    notes = np.zeros(len(rows), dtype=NOTE_DTYPE)
    notes["start"] = np.round(rows[:, 0] * TPQ)
    notes["duration"] = np.round(rows[:, 1] * TPQ)
    notes["pitch"] = rows[:, 2]
    notes["velocity"] = 80
    notes["track"] = rows[:, 3]
    notes["channel"] = rows[:, 3]
    notes = notes[np.lexsort((notes["pitch"], notes["start"]))]
    n_parts = int(z["n_parts"])
    ts = tuple(TimeSignature(round(o * TPQ), int(a), int(b)) for o, a, b in z["ts"])
    tracks = tuple(Track(f"part {i}", 0, i, False) for i in range(n_parts))
    score = Score(notes, tracks, TempoMap(TPQ, [TempoChange(0, 1_000_000)]),
                  time_signatures=ts or (TimeSignature(0),))
    return score, {int(m): float(o) for m, o in z["measures"]}


def load_chorales(limit: int | None = None) -> list[Chorale]:
    """The chorales with human analyses, converted once and cached on disk."""
    CACHE.mkdir(parents=True, exist_ok=True)
    out = []
    for d in sorted(ROMAN.iterdir())[:limit]:
        if not (d / "analysis.txt").exists():
            continue
        name = json.loads((d / "remote.json").read_text())["remote_score_music21"]
        cached = CACHE / f"{d.name}.npz"
        if not cached.exists():
            _convert(name, cached)
        score, measures = _score(cached)
        out.append(Chorale(d.name, score, (d / "analysis.txt").read_text(), measures, name))
    return out


def load_madrigals() -> tuple[list[Chorale], list[str]]:
    """Monteverdi's madrigals with the human analyses music21 ships (other repertoire, never
    tuned on), and the analyses that could not be read (their errors)."""
    import music21

    folder = Path(music21.__file__).parent / "corpus" / "monteverdi"
    cache = CACHE.parent / "monteverdi"
    cache.mkdir(parents=True, exist_ok=True)
    out, bad = [], []
    for f in sorted(folder.glob("*.rntxt")):
        text = f.read_text(encoding="utf-8", errors="replace")
        try:
            read_romantext(text)
        except RomanTextError as exc:
            bad.append(f"{f.stem}: {exc}")
            continue
        cached = cache / f"{f.stem}.npz"
        if not cached.exists():
            _convert(f"monteverdi/{f.stem}.mxl", cached)
        score, measures = _score(cached)
        out.append(Chorale(f.stem, score, text, measures, f"monteverdi/{f.stem}.mxl"))
    return out, bad


def sounding(score: Score, ticks: np.ndarray) -> np.ndarray:
    """(n, 12) pitch classes sounding at each tick (bool)."""
    notes = score.notes
    st = notes["start"].astype(np.int64)
    en = st + notes["duration"].astype(np.int64)
    on = (st[None, :] <= ticks[:, None]) & (en[None, :] > ticks[:, None])
    return (on.astype(np.int64) @ np.eye(12, dtype=np.int64)[notes["pitch"] % 12]) > 0


def edition_shift(score: Score, mask: np.ndarray, grid: np.ndarray) -> int:
    """Semitones that carry the score's pitches onto the human chords (``mask``: pitch-class
    bits per grid frame, -1 where none) best.

    A few of music21's chorales are printed in another key than the edition the analyst
    used; this compares only the score with the human chords (never the analyser).
    """
    have = sounding(score, grid)
    ok = mask >= 0
    chord = ((mask[ok, None] >> np.arange(12)) & 1) > 0
    fit = [float((np.roll(have[ok], t, axis=1) & chord).sum()) for t in range(12)]
    best = int(np.argmax(fit))
    return 0 if fit[best] <= fit[0] * 1.05 else (best if best <= 6 else best - 12)


def _dtw_path(cost: np.ndarray, skip: float) -> np.ndarray:
    """For each column j of ``cost`` (human frames x score frames), the row that a dynamic
    time warping path (steps: both, row only, column only; the last two cost ``skip``)
    matches to it."""
    n, m = cost.shape
    d = np.full((n + 1, m + 1), np.inf)
    d[0, 0] = 0.0
    step = np.zeros((n + 1, m + 1), dtype=np.int8)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            a, b, c = d[i - 1, j - 1], d[i - 1, j] + skip, d[i, j - 1] + skip
            if a <= b and a <= c:
                d[i, j], step[i, j] = a + cost[i - 1, j - 1], 0
            elif b <= c:
                d[i, j], step[i, j] = b + cost[i - 1, j - 1], 1
            else:
                d[i, j], step[i, j] = c + cost[i - 1, j - 1], 2
    row = np.zeros(m, dtype=np.int64)
    i, j = n, m
    while i > 0 and j > 0:
        row[j - 1] = i - 1
        k = step[i, j]
        if k == 0:
            i, j = i - 1, j - 1
        elif k == 1:
            i -= 1
        else:
            j -= 1
    return row


_dtw = jit()(_dtw_path)


def human_frames(c: Chorale, grid: np.ndarray) -> tuple[dict[str, np.ndarray], str]:
    """The human labels on the score's grid, and how they were placed there.

    Most analyses number their measures as music21's score does and are placed by those
    numbers. About 40 follow another edition (repeats written out or not, another note
    value for the beat): those are aligned by dynamic time warping of the human chords'
    pitch classes against the score's sounding ones, so the score and the human labels
    alone decide (never the analyser).
    """
    human = read_romantext(c.human)
    if {s.measure for s in human} <= set(c.measures) and \
            max(s.measure for s in human) == max(c.measures):
        placed = read_romantext(c.human, measures={m: round(o * TPQ) for m, o in
                                                   c.measures.items()}, strict=False)
        return placed.frames(grid), "measures"
    own = human.frames(np.arange(0, human.segments[-1].end, TPQ // 2))
    keep = own["mask"] >= 0
    hm = ((own["mask"][keep, None] >> np.arange(12)) & 1).astype(np.float64)
    have = sounding(c.score, grid).astype(np.float64)
    shift = int(np.argmax([(np.roll(have.sum(0), t) * hm.sum(0)).sum() for t in range(12)]))
    have = np.roll(have, shift, axis=1)
    cost = 1.0 - (have @ hm.T).T / np.maximum(have.sum(axis=1), 1)[None, :]
    rows = np.flatnonzero(keep)[_dtw(cost, 0.3)]
    return {k: v[rows] for k, v in own.items()}, "warped"


def agreement(chorales: list[Chorale], params: Params | None = None, verbose: bool = False
              ) -> tuple[dict[str, float], float]:
    """Key, chord and full agreement on an eighth-note grid over all chorales, and the CPU
    time ``analyze`` took over them (seconds, one core: the process is single-threaded)."""
    hits = {"key": 0, "chord": 0, "full": 0}
    frames = 0
    spent = 0.0
    shifted: list[str] = []
    warped: list[str] = []
    by_how: dict[str, list[int]] = {}
    for c in chorales:
        grid = np.arange(0, c.score.end_tick, TPQ // 2)
        h, how = human_frames(c, grid)
        if how == "warped":
            warped.append(c.number)
        score = c.score
        if shift := edition_shift(score, h["mask"], grid):
            score = score.transpose(shift)
            shifted.append(f"{c.number} ({shift:+d})")
        t0 = time.process_time()
        mine = analyze(score, params=params)
        spent += time.process_time() - t0
        a = mine.frames(grid)
        ok = h["tonic"] >= 0
        key = (h["tonic"] == a["tonic"]) & (h["minor"] == a["minor"])
        chord = h["mask"] == a["mask"]
        full = key & chord & (h["bass"] == a["bass"])
        frames += int(ok.sum())
        part = by_how.setdefault(how, [0, 0, 0, 0])
        part[0] += int(ok.sum())
        part[1] += int((key & ok).sum())
        part[2] += int((chord & ok).sum())
        part[3] += int((full & ok).sum())
        hits["key"] += int((key & ok).sum())
        hits["chord"] += int((chord & ok).sum())
        hits["full"] += int((full & ok).sum())
    if warped and verbose:
        print(f"analyses numbered after another edition, aligned by time warping: "
              f"{len(warped)}: {', '.join(warped)}")
        for how, (n, k, ch, f) in sorted(by_how.items()):
            print(f"  placed by {how}: {n} frames, key {k / n:.1%}, chord {ch / n:.1%}, "
                  f"full {f / n:.1%}")
    if shifted and verbose:
        print(f"scores in another key than the analysed edition, transposed to it: "
              f"{len(shifted)}: {', '.join(shifted)}")
    return {k: v / max(frames, 1) for k, v in hits.items()}, spent


def music21_time(chorales: list[Chorale]) -> float:
    """CPU seconds music21's own tools take over the chorales: ``analyze('key')``, then
    ``romanNumeralFromChord`` for every chord of ``chordify()`` (parsing not counted)."""
    from music21 import corpus, roman

    spent = 0.0
    for c in chorales:
        s = corpus.parse(c.source)
        t0 = time.process_time()
        key = s.analyze("key")
        for ch in s.chordify().recurse().getElementsByClass("Chord"):
            roman.romanNumeralFromChord(ch, key)
        spent += time.process_time() - t0
    return spent


def train_priors(chorales: list[Chorale]) -> dict[str, dict[str, float]]:
    """Log-frequency of each vocabulary numeral among the human labels (add-half smoothing).

    A human label counts for the numeral of the analyser's vocabulary with the same
    pitch classes and root in the same mode (the applied reading first when the label is
    applied); labels outside the vocabulary count for nothing.
    """
    from mos_lab.theory.analysis.numeral import parse_numeral, split_numeral
    from mos_lab.theory.analysis.vocabulary import build

    vocab = build()
    counts: dict[str, dict[str, float]] = {"major": {}, "minor": {}}
    index: dict[tuple[int, frozenset[int], int], list[tuple[bool, str]]] = {}
    for m, entries in enumerate(vocab.entries):
        for e in entries:
            index.setdefault((m, frozenset(e.pcs), e.root_pc), []).append(("/" in e.tail, e.text))
    for c in chorales:
        for seg in read_romantext(c.human):
            minor = seg.key[0].islower()
            n = parse_numeral(seg.numeral, minor)
            pcs = frozenset((7 * f) % 12 for f in n.members)
            cands = index.get((int(minor), pcs, (7 * n.root) % 12), [])
            if not cands:
                continue
            applied = "/" in split_numeral(seg.numeral)[2]
            text = next((t for a, t in cands if a == applied), cands[0][1])
            mode = counts["minor" if minor else "major"]
            mode[text] = mode.get(text, 0.0) + 1.0
    out: dict[str, dict[str, float]] = {}
    for mode, entries in zip(("major", "minor"), vocab.entries, strict=True):
        total = sum(counts[mode].values()) + 0.5 * len(entries)
        out[mode] = {e.text: round(float(np.log((counts[mode].get(e.text, 0.0) + 0.5) / total)),
                                   2) for e in entries}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--m21", type=int, default=371, help="chorales timed with music21")
    ap.add_argument("--other", action="store_true",
                    help="also measure on music21's Monteverdi madrigals (other repertoire)")
    ap.add_argument("--priors", action="store_true",
                    help="print numeral priors counted from the human analyses, and stop")
    args = ap.parse_args()
    t0 = time.perf_counter()
    chorales = load_chorales(args.limit)
    print(f"{len(chorales)} chorales loaded in {time.perf_counter() - t0:.1f} s")
    if args.priors:
        print(json.dumps(train_priors(chorales), indent=1))
        return
    t0 = time.process_time()
    analyze(chorales[0].score)  # loads the compiled decoder and builds the vocabulary
    print(f"first analysis in this process (loads the decoder): "
          f"{time.process_time() - t0:.2f} s CPU")
    rates, spent = agreement(chorales, verbose=True)
    print(f"agreement with human analyses, eighth-note grid, {len(chorales)} chorales: "
          f"key {rates['key']:.1%}, chord {rates['chord']:.1%}, full {rates['full']:.1%}")
    t0 = time.perf_counter()
    for c in chorales:
        analyze(c.score)
    wall = time.perf_counter() - t0
    print(f"analyze: {spent:.2f} s CPU for {len(chorales)} chorales on one core "
          f"({wall:.2f} s wall, again without the reading of the human files)")
    if args.other:
        madrigals, bad = load_madrigals()
        rates, _ = agreement(madrigals, verbose=False)
        print(f"other repertoire: {len(madrigals)} Monteverdi madrigals (music21's analyses; "
              f"{len(bad)} analyses this reader rejects): key {rates['key']:.1%}, "
              f"chord {rates['chord']:.1%}, full {rates['full']:.1%}")
        for b in bad:
            print(f"  rejected: {b}")
    if args.m21:
        some = chorales[: args.m21]
        theirs = music21_time(some)
        ours = spent * len(some) / len(chorales)
        print(f"music21 (analyze('key') + romanNumeralFromChord over chordify()): "
              f"{theirs:.1f} s CPU for {len(some)} chorales; mos_lab {ours:.2f} s "
              f"(pro rata): {theirs / ours:.0f}x faster")


if __name__ == "__main__":
    main()
