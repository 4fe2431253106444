"""AI service benchmarks, as ratios in one run (JAM-10, DRF-04).

- Instant Jam: time to first sound and total time of an 8-bar jam, median of runs after a
  warm-up, against the seed's 500 ms "real-time feel" anchor (DRF-04) and against the
  music's own duration (how much faster than real time the whole pipeline is);
- the offline audio backend through the GenerationService: time to first sound (first
  streamed chunk) and total, as a multiple of real time;
- symbolic generation through the service: generations per second, and the service's
  overhead (queue, thread, checks, provenance) against calling the backend directly;
- the assistant: first-call latency cold vs after warm_up().

The Markov model trains once into a temporary cache (its training time is printed too).
Run: python bench/bench_ai.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

from mos_lab.ai import Assistant
from mos_lab.ai.core.types import CancelToken, GenerationRequest
from mos_lab.ai.jam.instant import InstantJam
from mos_lab.ai.models.markov.backend import MarkovBackend
from mos_lab.ai.models.render import RenderBackend
from mos_lab.ai.service.generation import GenerationService

ANCHOR_FIRST_SOUND_S = 0.5  # DRF-04: the seed's "500 ms breaks real-time feel"
SR = 32_000


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def bench_training(cache: str) -> MarkovBackend:
    b = MarkovBackend(pieces=40, cache=cache)
    t0 = time.perf_counter()
    b.load()
    train = time.perf_counter() - t0
    b.unload()
    t0 = time.perf_counter()
    b.load()
    cached = time.perf_counter() - t0
    print(f"markov model: trained on 40 Bach chorales in {train:.2f} s; loaded from cache "
          f"in {cached * 1000:.1f} ms ({train / cached:.0f}x faster)")
    return b


def bench_jam(markov: MarkovBackend) -> None:
    jam = InstantJam(symbolic=markov, sample_rate=SR)
    req = GenerationRequest(key="D minor", bars=8, bpm=110, seed=0)
    jam.run(req)  # warm-up
    firsts, totals, music = [], [], 0.0
    for seed in range(1, 8):
        res = jam.run(req.with_changes(seed=seed))
        assert res.time_to_first_sound_s is not None and not res.partial
        firsts.append(res.time_to_first_sound_s)
        totals.append(res.total_s)
        music = res.score.duration
    f, t = median(firsts), median(totals)
    print(f"instant jam (8 bars, 3 parts, {SR} Hz): first sound {f * 1000:.0f} ms "
          f"({f / ANCHOR_FIRST_SOUND_S:.2f}x the 500 ms anchor), total {t * 1000:.0f} ms "
          f"({music / t:.0f}x real time for {music:.1f} s of music)")
    print("  " + res.summary())


def bench_audio_service(markov: MarkovBackend) -> None:
    with GenerationService([RenderBackend(markov)]) as svc:
        req = GenerationRequest(prompt="strings", key="G", bars=16, bpm=100, sample_rate=SR)
        svc.generate(req.with_changes(seed=0))
        firsts, totals, secs = [], [], 0.0
        for seed in range(1, 6):
            t0 = time.perf_counter()
            res = svc.generate(req.with_changes(seed=seed))
            totals.append(time.perf_counter() - t0)
            firsts.append(res.meta["first_sound_s"])
            secs = res.seconds
    f, t = median(firsts), median(totals)
    print(f"audio generation via service (16 bars): first sound {f * 1000:.0f} ms "
          f"({f / ANCHOR_FIRST_SOUND_S:.2f}x anchor), total {t * 1000:.0f} ms for "
          f"{secs:.1f} s of audio ({secs / t:.0f}x real time)")


def bench_symbolic(markov: MarkovBackend) -> None:
    req = GenerationRequest(key="C", bars=16, seed=1)
    n = 200
    t0 = time.perf_counter()
    for i in range(n):
        markov.generate(req.with_changes(seed=i), lambda d, t: None, CancelToken())
    direct = (time.perf_counter() - t0) / n
    with GenerationService([markov], concurrency=2, max_queue=n) as svc:
        t0 = time.perf_counter()
        jobs = [svc.submit(req.with_changes(seed=i)) for i in range(n)]
        for j in jobs:
            j.result()
        served = (time.perf_counter() - t0) / n
    print(f"symbolic generation (16 bars): direct {direct * 1000:.2f} ms, through the "
          f"service {served * 1000:.2f} ms ({served / direct:.2f}x; {1 / served:.0f}/s)")


def bench_assistant(markov: MarkovBackend) -> None:
    cold = Assistant()
    cold.context.generator = markov
    t0 = time.perf_counter()
    cold.ask("generate 8 bars in A minor")  # the first call of the process
    first_cold = time.perf_counter() - t0
    warm = Assistant()
    warm.context.generator = markov
    warm.warm_up()
    t0 = time.perf_counter()
    warm.ask("generate 8 bars in A minor")
    first_warm = time.perf_counter() - t0
    print(f"assistant first call: {first_cold * 1000:.0f} ms cold (imports, schemas), "
          f"{first_warm * 1000:.1f} ms after warm_up() "
          f"({first_cold / max(first_warm, 1e-6):.0f}x)")


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MOS_LAB_CACHE"] = cache
        markov = bench_training(cache)
        bench_assistant(markov)
        bench_symbolic(markov)
        bench_audio_service(markov)
        bench_jam(markov)


if __name__ == "__main__":
    main()
