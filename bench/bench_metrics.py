"""Metrics benchmark (issue 17): mos_lab.ai.data.metrics against muspy, in one run.

For every MIDI file of shared/corpus that muspy reads: muspy's 13 metrics computed by
muspy (on its Music, read beforehand) and by mos_lab (on the Score, read beforehand),
with the largest difference over all files and metrics and the time ratio. Reading is
not timed: both sides get their already-read object.
Run: python bench/bench_metrics.py [--repeat N]
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

from mos_lab.ai.data import metrics as M
from mos_lab.score import load

CORPUS = Path(os.environ.get("MOS_LAB_CORPUS", Path(__file__).resolve().parents[2]
                              / "shared" / "corpus"))


def muspy_all(muspy: Any, music: Any, mr: int) -> dict[str, Any]:
    """muspy's values under mos_lab's names (None for NaN or muspy's max() over nothing)."""
    calls = {
        "pitch_range": (muspy.pitch_range,), "n_pitches_used": (muspy.n_pitches_used,),
        "n_pitch_classes_used": (muspy.n_pitch_classes_used,),
        "polyphony": (muspy.polyphony,), "polyphony_rate": (muspy.polyphony_rate,),
        "scale_consistency": (muspy.scale_consistency,),
        "pitch_entropy": (muspy.pitch_entropy,),
        "pitch_class_entropy": (muspy.pitch_class_entropy,),
        "empty_beat_rate": (muspy.empty_beat_rate,),
        "empty_measure_rate": (muspy.empty_measure_rate, mr),
        "groove_consistency": (muspy.groove_consistency, mr),
        "drum_in_pattern_rate_duple": (muspy.drum_in_pattern_rate, "duple"),
        "drum_in_pattern_rate_triple": (muspy.drum_in_pattern_rate, "triple"),
        "drum_pattern_consistency": (muspy.drum_pattern_consistency,),
    }
    out: dict[str, Any] = {}
    for k, (fn, *args) in calls.items():
        try:
            v = fn(music, *args)
        except ValueError:
            v = math.nan
        out[k] = None if isinstance(v, float) and math.isnan(v) else v
    return out


def main() -> None:
    """Time both on the corpus and print agreement and the ratio."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import muspy

    pairs = []
    for f in sorted(CORPUS.glob("midi/**/*.mid")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                music = muspy.read_midi(f)
            except Exception:
                continue
        score = load(f)
        pairs.append((f, music, score, M.measure_resolution(score) or 4 * score.tpq))
    t_mu = t_ours = math.inf
    worst, differ = 0.0, []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ref = [muspy_all(muspy, m, mr) for _, m, _, mr in pairs]
        t1 = time.perf_counter()
        ours = [M.muspy_metrics(s, mr) for _, _, s, mr in pairs]
        t2 = time.perf_counter()
        t_mu, t_ours = min(t_mu, t1 - t0), min(t_ours, t2 - t1)
    for (f, *_), r, o in zip(pairs, ref, ours, strict=True):
        for k, v in r.items():
            if (v is None) != (o[k] is None):
                differ.append(f"{f.name}: {k} ours {o[k]} muspy {v}")
            elif v is not None:
                worst = max(worst, abs(o[k] - v))
    print(f"files: {len(pairs)} (of {len(list(CORPUS.glob('midi/**/*.mid')))}; "
          "muspy cannot read the rest)")
    print(f"largest difference over all files and metrics: {worst:.3g}")
    print("undefined on one side only:", differ or "none")
    print(f"muspy {t_mu:.3f} s, mos_lab {t_ours:.3f} s: {t_mu / t_ours:.1f}x faster")


if __name__ == "__main__":
    main()
