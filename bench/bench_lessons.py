"""Lessons benchmark: generate and grade 10,000 exercises of each kind (goal: under 1 s in all).

Each exercise is made from its seed and graded twice, once with its right answer and once
with a wrong one (a fixed response, so wrong answers take the message-building path too).
Anchor: music21 doing the same check for the two fixed-face kinds (``interval.Interval``
name from two pitches, ``harmony.ChordSymbol`` pitch classes from the answer) on 1,000
exercises, scaled to 10,000, as a ratio.

Times are CPU seconds of this single-threaded process (other load does not count); the
first exercise of each kind (which builds its candidate pool) is included.

Harmonisation keeps theory's voice-leading findings per (key, realisation as text): the
drill's right answers and its fixed wrong answer repeat, as a class's answers do. ``--cold``
also times grades that each run the checker (its cache emptied first), the cost of a new
answer. Candidate pools (harmonisation's model answers, checked by theory, included) are
built by the first exercise of each level, inside the timed run.

Run: python bench/bench_lessons.py [--n 10000] [--m21 1000] [--cold 300]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

from mos_lab import lessons

WRONG = {
    "interval_id": "m3", "chord_id": "C7/E", "interval_build": "C4", "note_reading": "C4",
    "key_signature": "C major", "scale_id": "C major", "roman_analysis": "I IV V I",
    "dictation": "C4 D4 E4", "rhythm_tap": "0 500 1000",
    "harmonisation": "E5 C5 G4 C3 | F5 C5 A4 F3 | D5 B4 G4 G2 | C5 C5 E4 C3",
}
WRONG["figured_bass"] = WRONG["harmonisation"]
KINDS: dict[str, Callable[..., lessons.Exercise]] = {
    "interval_id": lessons.interval_id, "chord_id": lessons.chord_id,
    "interval_build": lessons.interval_build, "note_reading": lessons.note_reading,
    "key_signature": lessons.key_signature, "scale_id": lessons.scale_id,
    "roman_analysis": lessons.roman_analysis, "dictation": lessons.dictation,
    "rhythm_tap": lessons.rhythm_tap, "harmonisation": lessons.harmonisation,
    "figured_bass": partial(lessons.harmonisation, figured=True),
}


def run(make: Callable[..., lessons.Exercise], wrong: str, n: int) -> tuple[float, int]:
    """CPU seconds to make and grade ``n`` exercises (levels 1-3 in turn); answers right."""
    t = time.process_time()
    right = 0
    for seed in range(n):
        ex = make(seed=seed, level=1 + seed % 3)
        right += ex.check(ex.answer).correct
        ex.check(wrong)
    return time.process_time() - t, right


def cold_harmonisation(n: int) -> float:
    """CPU ms per harmonisation grade when the voice-leading checker runs every time."""
    from mos_lab.lessons import harmony

    exs = [lessons.harmonisation(seed=s, level=1 + s % 3) for s in range(n)]
    t = time.process_time()
    for ex in exs:
        harmony._findings.cache_clear()
        assert ex.check(ex.answer).correct
    return (time.process_time() - t) / n * 1e3


def music21_anchor(n: int) -> float:
    """CPU seconds music21 takes to name n intervals and read n chord symbols."""
    import music21

    def m21(p: object) -> str:
        name = str(p)
        return name[0] + name[1:].replace("b", "-")

    exs = [(lessons.interval_id(seed=s, level=2), lessons.chord_id(seed=s, level=2))
           for s in range(n)]
    t = time.process_time()
    agree = 0
    for iv, ch in exs:
        a, b = (m21(p) for p, _, _ in iv.events)
        name = music21.interval.Interval(music21.pitch.Pitch(a), music21.pitch.Pitch(b)).name
        pcs = {p.pitchClass for p in music21.harmony.ChordSymbol(ch.answer).pitches}
        agree += name == iv.answer and pcs == {p.pc for p, _, _ in ch.events}
    sec = time.process_time() - t
    assert agree == n, f"music21 disagrees on {n - agree} of {n}"
    return sec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--m21", type=int, default=1000)
    ap.add_argument("--cold", type=int, default=300)
    args = ap.parse_args()
    total = 0.0
    fixed = 0.0
    print(f"{'kind':16} {'CPU s':>7} {'us each':>8}  right answers accepted")
    for kind, make in KINDS.items():
        sec, right = run(make, WRONG[kind], args.n)
        total += sec
        if kind in ("interval_id", "chord_id"):
            fixed += sec
        print(f"{kind:16} {sec:7.3f} {sec / args.n * 1e6:8.1f}  {right}/{args.n}")
        if kind == "rhythm_tap":
            print(f"{'9 drill kinds':16} {total:7.3f}   (goal: under 1 s)")
    print(f"{'all':16} {total:7.3f}")
    if args.cold:
        print(f"harmonisation, checker run on every grade ({args.cold} grades): "
              f"{cold_harmonisation(args.cold):.2f} ms CPU each")
    if args.m21:
        m = music21_anchor(args.m21) * args.n / args.m21
        print(f"music21, naming {args.n} intervals + reading {args.n} chord symbols "
              f"(from {args.m21}): {m:.2f} s; mos_lab makes and grades both kinds "
              f"twice each in {fixed:.3f} s ({m / fixed:.0f}x)")


if __name__ == "__main__":
    main()
