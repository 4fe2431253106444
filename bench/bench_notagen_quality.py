"""NotaGen's shipped model against held-out Bach chorales, with the Markov chain beside it.

The issue's judgement: pitch-class histogram, scale consistency, rest rate, duration
histogram, number of voices and key clarity (``mos_lab.theory``), each within 20 % of
the held-out corpus. Scalars compare as |model - corpus| / corpus; histograms (pooled
over pieces; pitch classes relative to each piece's best-fitting major/minor scale root)
as total variation distance (0 same, 1 disjoint), which must be <= 0.20.

Held out: the chorales ``notagen.data`` keeps out of training (one in ten by a hash of
the name), converted to interleaved ABC and read back through the same ABC reader as the
generated pieces. NotaGen: ``--pieces`` chorales of ``--bars`` bars from the prompt
Baroque / Bach, Johann Sebastian / Choral, seeds 0.., sampled as the checkpoint records
unless given (the shipped weights: top-k 9, top-p 0.93, T 1.2, pitch temperature 0.4;
others: NotaGen's top-k 9, top-p 0.9, T 1.2, one temperature). Markov: the same number of
``--bars`` bar pieces, seeds 0.., key C major.

Run: python bench/bench_notagen_quality.py [--pieces 12 --bars 16] [--heldout DIR]
     [--weights shipped W.pth ...] [--every-voice] [--temperature 1.2]
     [--top-p 0.93] [--pitch-temperature 0.4]
(several ``--weights`` are judged in one run against the same corpus figures, each in
its own columns; ``shipped`` names the packaged weights)
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from mos_lab.ai.data.compare import theory_metrics
from mos_lab.ai.data.metrics import scale_consistency
from mos_lab.ai.models import notagen
from mos_lab.ai.models.notagen import data
from mos_lab.ai.models.notagen.abc import to_score
from mos_lab.score import Score

_MAJOR = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], bool)
_MINOR = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0], bool)
#: note lengths in quarters, upper bin edges (the last bin takes the rest)
DUR_EDGES = (0.125, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


def pc_hist(score: Score) -> np.ndarray:
    """Pitch classes (12 counts) relative to the best-fitting major/minor scale's root."""
    h = np.bincount(score.notes["pitch"] % 12, minlength=12).astype(float)
    best, root = -1.0, 0
    for scale in (_MAJOR, _MINOR):
        for r in range(12):
            v = h[np.roll(scale, r)].sum()
            if v > best:
                best, root = v, r
    return np.roll(h, -root)


def dur_hist(score: Score) -> np.ndarray:
    """Note lengths (in quarters) binned at DUR_EDGES."""
    q = score.notes["duration"] / score.tpq
    return np.bincount(np.searchsorted(DUR_EDGES, q - 1e-9), minlength=len(DUR_EDGES) + 1
                       ).astype(float)


def rest_rate(score: Score) -> float:
    """Mean over voices of the share of the piece in which the voice sounds nothing."""
    n = score.notes
    end = int((n["start"] + n["duration"]).max())
    rates = []
    for t in np.unique(n["track"]):
        m = n[n["track"] == t]
        order = np.argsort(m["start"])
        covered, reach = 0, 0
        for s, d in zip(m["start"][order], m["duration"][order], strict=True):
            e = int(s + d)
            if e > reach:
                covered += e - max(int(s), reach)
                reach = e
        rates.append(1 - covered / end)
    return float(np.mean(rates))


def measures(scores: list[Score]) -> dict[str, object]:
    """The six judgements over a set of pieces (scalars are means over pieces)."""
    pcs = sum((pc_hist(s) for s in scores), np.zeros(12))
    durs = sum((dur_hist(s) for s in scores), np.zeros(len(DUR_EDGES) + 1))
    clar = [theory_metrics(s)["key_clarity"] for s in scores]
    return {
        "pitch-class histogram": pcs / pcs.sum(),
        "scale consistency": float(np.mean([scale_consistency(s) or 0 for s in scores])),
        "rest rate": float(np.mean([rest_rate(s) for s in scores])),
        "duration histogram": durs / durs.sum(),
        "voices": float(np.mean([len(np.unique(s.notes["track"])) for s in scores])),
        "key clarity": float(np.mean([c for c in clar if c is not None] or [np.nan])),
    }


def show(v: object) -> str:
    return "hist" if isinstance(v, np.ndarray) else f"{v:.3f}"


def gap(model: object, corpus: object) -> float:
    """Total variation distance for histograms, relative difference for scalars."""
    if isinstance(model, np.ndarray):
        return float(0.5 * np.abs(model - np.asarray(corpus)).sum())
    c = float(corpus)  # type: ignore[arg-type]
    return abs(float(model) - c) / abs(c) if c else float("inf")  # type: ignore[arg-type]


def timed(what: str, fn: Callable[[], list[Score]]) -> list[Score]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    print(f"{what}: {len(out)} pieces in {time.process_time() - c0:.1f} s CPU "
          f"({time.perf_counter() - t0:.1f} s wall)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pieces", type=int, default=12)
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--heldout", default=None,
                    help="a folder of held-out interleaved ABC (default: convert music21's)")
    ap.add_argument("--weights", nargs="+", default=["shipped"],
                    help="checkpoints to judge ('shipped': the packaged weights)")
    ap.add_argument("--every-voice", action="store_true",
                    help="resample bars that leave a voice out for checkpoints loaded by path "
                         "too (as the shipped weights are; for candidates trained on its data)")
    ap.add_argument("--temperature", type=float, default=None,
                    help="default: the model's own (1.2)")
    ap.add_argument("--top-k", type=int, default=None, help="0: off (default: the model's)")
    ap.add_argument("--top-p", type=float, default=None,
                    help="1: off (default: the model's; 0.9 for NotaGen's, 0.93 shipped)")
    ap.add_argument("--pitch-temperature", type=float, default=None,
                    help="the temperature among note letters and accidentals (default: the "
                    "model's own; equal to --temperature: NotaGen's single temperature)")
    args = ap.parse_args()
    torch.set_num_threads(1)

    def corpus() -> list[Score]:
        texts = (data.read_texts([args.heldout]) if args.heldout
                 else [p.text for p in data.held_out_chorales()])
        out = []
        for t in texts:
            with contextlib.suppress(ValueError):  # a piece the ABC reader refuses
                out.append(to_score(t))
        return out

    def nota(model: notagen.NotaGen) -> list[Score]:
        out, stopped = [], []
        for seed in range(args.pieces):
            g = model.generate(period="Baroque", composer="Bach, Johann Sebastian",
                               instrumentation="Choral", bars=args.bars, seed=seed,
                               temperature=args.temperature, top_k=args.top_k,
                               top_p=args.top_p, pitch_temperature=args.pitch_temperature)
            stopped.append(f"{g.stopped}:{len(g.bars)}")
            if g.score is not None and g.score.n_notes:
                out.append(g.score)
        print("  stopped (why:bars):", " ".join(stopped))
        return out

    def markov() -> list[Score]:
        from mos_lab.ai.core.types import CancelToken, GenerationRequest
        from mos_lab.ai.models import make_backend

        b = make_backend("markov")
        return [s for seed in range(args.pieces)
                if (s := b.generate(GenerationRequest(bars=args.bars, seed=seed),
                                    lambda *a: None, CancelToken()).score) is not None]

    held = timed("held-out chorales", corpus)
    runs: dict[str, dict[str, object]] = {}
    for i, w in enumerate(args.weights):
        model = notagen.shipped() if w == "shipped" else notagen.load(w)
        model.every_voice = model.every_voice or args.every_voice
        runs[f"NotaGen{i + 1}" if len(args.weights) > 1 else "NotaGen"] = measures(
            timed(f"NotaGen{i + 1} {w} ({model!r}, {model.sampling})", lambda m=model: nota(m)))
    runs["Markov"] = measures(timed("Markov", markov))
    m_c = measures(held)
    print(f"\n{'judgement':<24}{'corpus':>10}"
          + "".join(f"{name:>10}{'gap':>8}{'<=20%':>7}" for name in runs))
    passed = dict.fromkeys(runs, 0)
    for k in m_c:
        c = m_c[k]
        row = f"{k:<24}{show(c):>10}"
        for name, m in runs.items():
            g = gap(m[k], c)
            passed[name] += g <= 0.2
            row += f"{show(m[k]):>10}{g:>8.3f}{'yes' if g <= 0.2 else 'no':>7}"
        print(row)
    print("\nwithin 20 %: " + ", ".join(f"{name} {n} of {len(m_c)}"
                                       for name, n in passed.items())
          + " (histogram gaps: total variation distance; scalar gaps: relative difference)")
    for k in ("pitch-class histogram", "duration histogram"):
        print(f"{k}:\n  {'corpus':<9}{np.round(m_c[k], 3)}" + "".join(
            f"\n  {name:<9}{np.round(m[k], 3)}" for name, m in runs.items()))
    if args.heldout:
        print(f"held out from {Path(args.heldout)}")


if __name__ == "__main__":
    main()
