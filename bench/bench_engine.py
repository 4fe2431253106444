"""Engine benchmarks, as ratios in one run.

- offline render of real multitrack files through the real-time code path, as a multiple
  of real time (anchor: the music's own duration);
- the scheduler's own share: building the timeline and slicing events per block, against
  the synth's rendering of the same blocks (anchor);
- the render thread's cost per device block with a pure-Python busy thread in the process
  (the GIL contention the lookahead must absorb), against the same without it.

Run: python bench/bench_engine.py
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

import mos_lab
from mos_lab.audio import Synth
from mos_lab.engine import render
from mos_lab.engine.scheduler import Scheduler
from mos_lab.engine.timeline import Timeline

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "midi" / "multitrack"
SR = 48_000


def bench_offline() -> None:
    for name in ("Funkytown.mid", "Shut Up.mid"):
        score = mos_lab.load(CORPUS / name)
        t0 = time.perf_counter()
        audio = render(score, sample_rate=SR).array()
        took = time.perf_counter() - t0
        print(f"offline render {name}: {len(audio) / SR:.0f} s of audio in {took:.2f} s "
              f"-> {len(audio) / SR / took:.0f}x real time")


def bench_scheduler_share() -> None:
    score = mos_lab.load(CORPUS / "Shut Up.mid")
    t0 = time.perf_counter()
    tl = Timeline(score, SR)
    build = time.perf_counter() - t0
    block = 1024
    t0 = time.perf_counter()
    n = 0
    for pos in range(0, tl.end_frame, block):
        n += len(tl.events_between(pos, pos + block))
    slicing = time.perf_counter() - t0
    sched = Scheduler(Synth(sample_rate=SR, max_block=block))
    sched.set_timeline(tl)
    sched.set_playing(True)
    buf = np.zeros((block, 2), dtype=np.float32)
    t0 = time.perf_counter()
    for _ in range(0, tl.end_frame, block):
        sched.render(buf)
    total = time.perf_counter() - t0
    print(f"scheduler: timeline of {score.n_notes} notes built in {build * 1e3:.1f} ms; "
          f"event slicing {slicing / total * 100:.1f}% of the render time "
          f"({n} events, {slicing * 1e6 / max(tl.end_frame // block, 1):.0f} us per block)")


def bench_contention() -> None:
    score = mos_lab.load(CORPUS / "Funkytown.mid")
    block = 1024
    blocks = 400

    def per_block() -> float:
        sched = Scheduler(Synth(sample_rate=SR, max_block=block))
        sched.set_timeline(Timeline(score, SR), SR * 30)
        sched.set_playing(True)
        buf = np.zeros((block, 2), dtype=np.float32)
        t0 = time.perf_counter()
        for _ in range(blocks):
            sched.render(buf)
        return (time.perf_counter() - t0) / blocks

    idle = per_block()
    stop = threading.Event()

    def spin() -> None:
        x = 0
        while not stop.is_set():
            x = (x * 31 + 7) % 1_000_003

    hog = threading.Thread(target=spin)
    hog.start()
    try:
        busy = per_block()
    finally:
        stop.set()
        hog.join()
    budget = block / SR
    print(f"render thread, {block}-frame blocks of Funkytown: idle {idle * 1e3:.2f} ms, "
          f"with a busy Python thread {busy * 1e3:.2f} ms ({busy / idle:.1f}x); "
          f"budget {budget * 1e3:.1f} ms -> {budget / busy:.1f}x real time under contention")


def bench_seek() -> None:
    """Seek on a 1,000,000-note score: voices reset, programs/controllers restored."""
    from mos_lab.score import NOTE_DTYPE, Score, Track
    from mos_lab.score._types import CONTROL_DTYPE
    from mos_lab.score.tempo import TempoMap

    rng = np.random.default_rng(0)
    n = 1_000_000
    notes = np.zeros(n, dtype=NOTE_DTYPE)
    notes["start"] = np.sort(rng.integers(0, n * 60, n))
    notes["duration"] = rng.integers(30, 2000, n)
    notes["pitch"] = rng.integers(21, 109, n)
    notes["velocity"] = rng.integers(30, 120, n)
    notes["track"] = rng.integers(0, 8, n)
    notes["channel"] = notes["track"]
    ctrl = np.zeros(20_000, dtype=CONTROL_DTYPE)
    ctrl["time"] = np.sort(rng.integers(0, n * 60, len(ctrl)))
    ctrl["number"] = rng.choice([7, 10, 64, 128], len(ctrl))
    ctrl["value"] = rng.integers(0, 128, len(ctrl))
    ctrl["channel"] = rng.integers(0, 8, len(ctrl))
    score = Score(notes, tuple(Track(f"t{i}", i, i) for i in range(8)), TempoMap(480), ctrl)
    synth = Synth(sample_rate=SR, max_block=256)
    sched = Scheduler(synth)
    sched.set_timeline(Timeline(score, SR))
    sched.set_playing(True)
    buf = np.zeros((256, 2), dtype=np.float32)
    sched.render(buf)
    took = []
    end = sched.timeline.end_frame if sched.timeline else 0
    for target in rng.integers(0, end, 300).tolist():
        sched.request_jump(target)
        t0 = time.perf_counter()
        sched._apply_jump(sched.timeline, target)  # the seek itself, as the render thread runs it
        took.append(time.perf_counter() - t0)
        sched.render(buf)
    p99 = float(np.percentile(took, 99))
    print(f"engine seek on 1,000,000 notes (voices reset, state restored): median "
          f"{np.median(took) * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms (goal < 1 ms)")


if __name__ == "__main__":
    bench_seek()
    bench_offline()
    bench_scheduler_share()
    bench_contention()
