"""Benchmark of the Jupyter layer: widget lifecycles, engine-to-widget latency, chords, PCM.

Run: ``python bench/bench_widgets.py``. Anchors: a plain ``ipywidgets.IntSlider``
create/close cycle (the cheapest widget there is), the 16.7 ms of one display frame
(60 Hz) for latencies, and real time (1.0) for the PCM stream.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ipywidgets
import numpy as np

from mos_lab.audio import BrowserOutput
from mos_lab.engine import Engine
from mos_lab.kernel.session import Session
from mos_lab.score import NOTE_DTYPE, Score, Track
from mos_lab.score.tempo import TempoChange, TempoMap
from mos_lab.testing import FakePage, ManualOutput
from mos_lab.theory import analyze
from mos_lab.widgets import ChordDisplay, Keyboard, PianoRoll, Player, Transport, set_provider
from mos_lab.widgets.chord_display import key_bands, lane_rows

FRAME = 1 / 60


def per_cycle(make: object, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        w = make()  # type: ignore[operator]
        w._repr_mimebundle_()
        w.close()
    return (time.perf_counter() - t0) / n


def big_score(n: int) -> Score:
    rng = np.random.default_rng(0)
    notes = np.zeros(n, dtype=NOTE_DTYPE)
    notes["start"] = np.sort(rng.integers(0, n * 60, n))
    notes["duration"], notes["pitch"], notes["velocity"] = 480, rng.integers(36, 90, n), 80
    return Score(notes, (Track(),), TempoMap(480, [TempoChange(0, 500_000)]))


def main() -> None:
    s = Session(output=ManualOutput())
    s.engine.wait_ready(10)
    set_provider(lambda: s)
    s.load(big_score(2_000))
    anchor = per_cycle(ipywidgets.IntSlider, 500)
    print(f"anchor IntSlider create/display/close: {anchor * 1e3:.3f} ms")
    for cls in (Transport, Keyboard, PianoRoll, ChordDisplay, Player):
        t = per_cycle(cls, 200 if cls is not Player else 50)
        print(f"{cls.__name__:13} cycle {t * 1e3:7.3f} ms  x{t / anchor:5.1f} IntSlider")

    crowd = [Player(static=False) for _ in range(10)]
    w = Transport()
    sent: list[float] = []
    real = w._send
    w._send = lambda m, buffers=None: (sent.append(time.monotonic()), real(m, buffers))
    times = []
    for i in range(500):
        sent.clear()
        t0 = time.monotonic()
        (s.engine.play if i % 2 == 0 else s.engine.pause)()
        if sent:
            times.append(sent[0] - t0)
    times.sort()
    p50, p99 = statistics.median(times), times[int(len(times) * 0.99) - 1]
    print(f"engine->widget (50 widgets listening): p50 {p50 * 1e3:.2f} ms, p99 "
          f"{p99 * 1e3:.2f} ms = {p99 / FRAME:.2f} frames (DRF-02 limit 20 ms)")
    for p in crowd:
        p.close()
    w.close()
    s.close()

    score = big_score(100_000)
    analyze(big_score(1_000))  # load the compiled passes first (disk cache)
    t0 = time.perf_counter()
    analysis = analyze(score)
    rows, bands = lane_rows(score, analysis), key_bands(score, analysis)
    t = time.perf_counter() - t0
    print(f"harmony lane of 100,000 notes (theory.analyze + rows, on the widget's thread): "
          f"{t * 1e3:.0f} ms ({len(rows)} segments, {len(bands)} key bands)")

    out = BrowserOutput(48_000, lookahead_s=0.1, buffer_s=0.5)
    with Engine(output=out, sample_rate=48_000) as eng:
        eng.wait_ready(10)
        page = FakePage(out)
        eng.load(big_score(20_000)).result(30)
        page.unlock()
        eng.play()
        t0, played = time.perf_counter(), 0
        while time.perf_counter() - t0 < 2.0:
            played += page.play(4096)
            time.sleep(0.001)
        rate = played / 48_000 / (time.perf_counter() - t0)
    print(f"PCM to a page (render + send + ack, 20k notes): {rate:.1f}x real time")


if __name__ == "__main__":
    main()
