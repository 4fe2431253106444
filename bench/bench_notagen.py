"""NotaGen sampling speed: characters per second with and without key/value caches.

One CPU thread (``torch.set_num_threads(1)``), random weights of a small configuration
(hidden 256, 4+2 layers, patches 16x1024, ~4 M parameters) or one given by flags, a
NotaGen-X prompt (period, composer, instrumentation and a four-voice chorale header),
and as many characters as 16 bars of a four-voice chorale take in interleaved ABC
(~1,500). Random weights write no valid bars, so the run is capped by characters; the
work per character is what a trained model of the same size does. Without caches every
patch re-runs the patch decoder over all patches and every character the character
decoder over the patch so far, as NotaGen's own inference does.

Run: python bench/bench_notagen.py [--hidden 256 --patch-layers 4 --char-layers 2
     --chars 1328 --context-bars 0 --device cpu --no-uncached]
"""

from __future__ import annotations

import argparse
import time

import torch

from mos_lab.ai.models import notagen
from mos_lab.ai.models.notagen.model import NotaGenConfig

HEAD = ("%Baroque\n%Bach, Johann Sebastian\n%Choral\n%%score { ( 1 2 ) | ( 3 4 ) }\n"
        "L:1/8\nQ:1/4=80\nM:4/4\nK:G\nV:1 treble nm=\"Soprano\"\nV:2 treble\nV:3 bass\n"
        "V:4 bass\n")
#: one bar of a four-voice chorale, as NotaGen writes it (~90 characters)
BAR = "[r:0/15][V:1]d2 e2 d2 c2|[V:2]B2 c2 B2 A2|[V:3]G2 G2 G2 D2|[V:4]G,2 C,2 G,,2 A,,2|\n"


def run(model: notagen.NotaGen, chars: int, cache: bool, seed: int = 0,
        context_bars: int = 0) -> tuple[int, float]:
    """Characters sampled and seconds taken for one generation capped at ``chars``, after
    ``context_bars`` chorale bars of prompt (later in a long piece)."""
    prompt = HEAD + BAR * context_bars
    t0 = time.perf_counter()
    st = model.stream(prompt, seed=seed, use_cache=cache, max_chars=len(prompt) + chars)
    for _ in st:
        pass
    return st.chars, time.perf_counter() - t0


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
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = NotaGenConfig(hidden=args.hidden, patch_layers=args.patch_layers,
                        char_layers=args.char_layers, patch_length=args.patch_length)
    model = notagen.random(cfg).to(args.device)
    print(model, f"| {args.chars} characters (16 chorale bars: {16 * len(BAR)}) after "
          f"{args.context_bars} bars of prompt, 1 thread, {args.device}")
    run(model, 64, True)  # warm-up
    n_c, t_c = run(model, args.chars, True, context_bars=args.context_bars)
    print(f"with caches:    {n_c} chars in {t_c:6.2f} s = {n_c / t_c:8.1f} chars/s")
    if not args.no_uncached:
        n_u, t_u = run(model, args.chars, False, context_bars=args.context_bars)
        print(f"without caches: {n_u} chars in {t_u:6.2f} s = {n_u / t_u:8.1f} chars/s")
        print(f"caches are {(n_c / t_c) / (n_u / t_u):.1f}x faster")


if __name__ == "__main__":
    main()
