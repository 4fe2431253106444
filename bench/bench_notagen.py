"""NotaGen sampling speed: characters per second with and without key/value caches.

One CPU thread (``torch.set_num_threads(1)``), this process's CPU time by default (the
machine may be shared; ``--clock wall`` for wall time). ``--shipped`` times the shipped
trained model writing 16 real chorale bars (same seed, so the same text both ways);
otherwise random weights (header lines unchecked, so the run goes on to the cap) of a
small configuration (hidden 256, 4+2 layers, patches 16x1024, ~4 M parameters) or one
given by flags, a
NotaGen-X prompt (period, composer, instrumentation and a four-voice chorale header),
and as many characters as 16 bars of a four-voice chorale take in interleaved ABC
(~1,500). Random weights write no valid bars, so the run is capped by characters; the
work per character is what a trained model of the same size does. Without caches every
patch re-runs the patch decoder over all patches and every character the character
decoder over the patch so far, as NotaGen's own inference does.

On CPU the cached path steps both levels in numpy (``StepDecoder``): at these sizes
torch's per-operation dispatch, not arithmetic, was the cost of a one-position step,
so caches gained only 1.2-2x until the steps left torch.

Run: python bench/bench_notagen.py [--shipped | --weights W.pth] [--bars 16]
     [--hidden 256 --patch-layers 4 --char-layers 2 --chars 1328 --context-bars 0]
     [--device cpu] [--no-uncached] [--clock cpu|wall]
"""

from __future__ import annotations

import argparse
import time

import torch

from mos_lab.ai.models import notagen
from mos_lab.ai.models.notagen.model import NotaGenConfig
from mos_lab.ai.models.notagen.sampling import check_header

HEAD = ("%Baroque\n%Bach, Johann Sebastian\n%Choral\n%%score { ( 1 2 ) | ( 3 4 ) }\n"
        "L:1/8\nQ:1/4=80\nM:4/4\nK:G\nV:1 treble nm=\"Soprano\"\nV:2 treble\nV:3 bass\n"
        "V:4 bass\n")
#: one bar of a four-voice chorale, as NotaGen writes it (~90 characters)
BAR = "[r:0/15][V:1]d2 e2 d2 c2|[V:2]B2 c2 B2 A2|[V:3]G2 G2 G2 D2|[V:4]G,2 C,2 G,,2 A,,2|\n"


def run(model: notagen.NotaGen, chars: int, cache: bool, seed: int = 0,
        context_bars: int = 0, clock: str = "cpu", bars: int | None = None
        ) -> tuple[int, float]:
    """Characters sampled and seconds taken (this process's CPU time, or wall time) for one
    generation capped at ``chars`` (or ``bars``), after ``context_bars`` chorale bars."""
    prompt = HEAD + BAR * context_bars
    now = time.process_time if clock == "cpu" else time.perf_counter
    t0 = now()
    st = model.stream(prompt, seed=seed, use_cache=cache, bars=bars,
                      max_chars=len(prompt) + chars if bars is None else 10**6,
                      check_head=None if bars is None else check_header)
    for _ in st:
        pass
    if bars is not None:
        print(f"  {'cached' if cache else 'uncached'}: {len(st.bars)} bars ({st.stopped}), "
              f"{st.rejected} resampled")
    return st.chars, now() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--patch-layers", type=int, default=4)
    ap.add_argument("--char-layers", type=int, default=2)
    ap.add_argument("--patch-length", type=int, default=1024)
    ap.add_argument("--chars", type=int, default=16 * len(BAR))
    ap.add_argument("--context-bars", type=int, default=0,
                    help="chorale bars of prompt first: the speed later in a long piece")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--no-uncached", action="store_true", help="time the cached run only")
    ap.add_argument("--shipped", action="store_true",
                    help="the shipped trained model, generating --bars chorale bars")
    ap.add_argument("--weights", default=None, help="a NotaGen checkpoint instead")
    ap.add_argument("--bars", type=int, default=16, help="with --shipped/--weights")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="this process's CPU time (default: fair on a shared machine) or "
                    "wall time")
    args = ap.parse_args()
    torch.set_num_threads(1)
    trained = args.shipped or args.weights
    if trained:
        model = (notagen.shipped() if args.shipped else notagen.load(args.weights)
                 ).to(args.device)
        print(model, f"| {args.bars} bars of a four-voice chorale, seed {args.seed}, "
              f"1 thread, {args.device}, {args.clock} time")
    else:
        cfg = NotaGenConfig(hidden=args.hidden, patch_layers=args.patch_layers,
                            char_layers=args.char_layers, patch_length=args.patch_length)
        model = notagen.random(cfg).to(args.device)
        print(model, f"| {args.chars} characters (16 chorale bars: {16 * len(BAR)}) after "
              f"{args.context_bars} bars of prompt, 1 thread, {args.device}, "
              f"{args.clock} time")
    bars = args.bars if trained else None
    run(model, 64, True)  # warm-up
    n_c, t_c = run(model, args.chars, True, args.seed, args.context_bars, args.clock, bars)
    print(f"with caches:    {n_c} chars in {t_c:6.2f} s = {n_c / t_c:8.1f} chars/s")
    if not args.no_uncached:
        n_u, t_u = run(model, args.chars, False, args.seed, args.context_bars, args.clock,
                       bars)
        print(f"without caches: {n_u} chars in {t_u:6.2f} s = {n_u / t_u:8.1f} chars/s")
        print(f"caches are {(n_c / t_c) / (n_u / t_u):.1f}x faster")


if __name__ == "__main__":
    main()
