"""Apollo render-speed benchmark: how many times faster than real time a dense minute renders.

Plain script: ``.venv/bin/python bench/bench_audio.py [seconds] [--busy]``. Renders the same
64-voice scene (a new 2 s note every 1/32 s on 8 channels, plus drums) with the built-in
synth, the SoundFont sampler (TimGM6mb.sf2) and, when pyfluidsynth + libfluidsynth are
installed, FluidSynth driven block by block with events split at their sample offsets.
It also compares one SoundFont piano note between our sampler and FluidSynth. Then the
issue's "dense set" (``dense_scene``: ~4,400 notes in 30 s, 15 GM programs across the
families plus drums, peak ~92 sounding voices, voice limit ``DENSE_VOICES``) is rendered
by the same three, and its ratios printed (SF2 zones layer, so its voice counts run higher);
then again with ``Synth(render_threads=cores)``, the offline-only parallel kernel, against
FluidSynth as the issue anchors it (its default: one core) and, like for like, against
FluidSynth given as many cores (``synth.cpu-cores``).
With ``--busy`` a pure-Python thread spins while Apollo renders (a user's notebook code
in the same process): numpy calls that release the GIL then cost much more, which is
what the one nogil kernel call per block is for. The kernels are compiled (or loaded from
numba's cache) before timing; the last lines print the ratios measured in this run.
Apollo renders in blocks of the engine's offline block (``OFFLINE_BLOCK``); every figure
is the median of ``REPS`` timed renders. Each timed render uses a new ``Synth``, so the
built-in synth starts with an empty note cache (``mos_lab.audio.notecache``): every
note's first occurrence is rendered live and recorded inside the timing (its arena is
allocated and touched by ``warm_up``, outside).
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from mos_lab.audio import SoundFontBank, Synth
from mos_lab.engine.engine import OFFLINE_BLOCK

SR = 48000
BLOCK = OFFLINE_BLOCK  # frames per synth call, as the engine's offline render uses
REPS = 3  # each figure is the median of this many timed renders (a new Synth each)
SF2 = "/usr/share/sounds/sf2/TimGM6mb.sf2"
PROGRAMS = (0, 48, 19, 40, 56, 73, 81, 89)
DENSE_VOICES = 128  # voice limit for the dense set (it peaks at ~92 sounding voices)
DENSE_PROGRAMS = (0, 4, 11, 16, 24, 33, 40, 48, 52, 56, 61, 65, 73, 81, 89)  # ch 0-8, 10-15


def scene(seconds: float, per_second: int = 32) -> list[tuple[int, str, int, int, int]]:
    """Events for ``seconds`` of music: a 2 s note every 1/per_second s (32 -> ~64 voices)."""
    ev: list[tuple[int, str, int, int, int]] = [
        (0, "program", ch, p, 0) for ch, p in enumerate(PROGRAMS)]
    step = SR // per_second
    rng = np.random.default_rng(1)
    for i, start in enumerate(range(0, int(seconds * SR) - 2 * SR, step)):
        ch = i % 8
        key = int(rng.integers(40, 84))
        ev.append((start, "note_on", ch, key, 90))
        ev.append((start + 2 * SR, "note_off", ch, key, 0))
        if i % 8 == 0:
            ev.append((start, "note_on", 9, (36, 38, 42, 46)[i // 8 % 4], 100))
    return sorted(ev, key=lambda e: e[0])




def dense_scene(seconds: float, seed: int = 7) -> list[tuple[int, str, int, int, int]]:
    """The issue's dense set: ~147 notes/s (~4,400 in 30 s), peak polyphony ~92, GM + drums.

    A 16th-note grid at 144 bpm. Each melodic channel plays with its own part's
    probability, chord size and note length (staccato keys 0.1-0.3 s, bass 0.2-0.5 s,
    sustained strings/pads 0.8-2.5 s, leads 0.15-0.6 s); the drum channel plays kick,
    snare, closed/open hats and toms. Lengths are note-on to note-off; release tails
    come on top, as in a real mix.
    """
    rng = np.random.default_rng(seed)
    chans = [c for c in range(16) if c != 9]
    ev: list[tuple[int, str, int, int, int]] = [
        (0, "program", ch, p, 0) for ch, p in zip(chans, DENSE_PROGRAMS, strict=True)]
    # per channel: probability of an onset per 16th, notes per onset, (min, max) length s
    parts = [(0.9, 4, (0.08, 0.25)), (0.8, 3, (0.08, 0.2)), (0.7, 2, (0.08, 0.2)),
             (0.15, 3, (0.6, 1.5)), (0.9, 1, (0.1, 0.25)), (0.8, 1, (0.15, 0.35)),
             (0.6, 1, (0.1, 0.3)), (0.1, 3, (0.8, 2.0)), (0.1, 3, (0.8, 2.0)),
             (0.6, 2, (0.1, 0.3)), (0.6, 1, (0.1, 0.3)), (0.5, 1, (0.1, 0.3)),
             (0.6, 1, (0.1, 0.3)), (0.7, 2, (0.08, 0.25)), (0.08, 2, (0.8, 2.0))]
    step = 60.0 / 144 / 4
    steps = int((seconds - 1.0) / step)  # leave ~1 s for the last notes to end
    bass = (28, 52)
    for k in range(steps):
        at = int(k * step * SR)
        root = 48 + (0, 5, 7, 3)[k // 16 % 4]
        for ch, (prob, size, (lo, hi)) in zip(chans, parts, strict=True):
            if rng.random() >= prob:
                continue
            dur = int(rng.uniform(lo, hi) * SR)
            pitches = {root + int(x) for x in rng.choice((0, 3, 4, 7, 10, 12, 14, 16), size)}
            for p in pitches:
                key = p - 24 if ch == 5 and bass[0] <= p - 24 else p + (12 if ch in (6, 13) else 0)
                ev.append((at, "note_on", ch, key, int(rng.integers(70, 120))))
                ev.append((at + dur, "note_off", ch, key, 0))
        for key, prob in ((36, 0.3 if k % 4 else 1.0), (38, 1.0 if k % 8 == 4 else 0.1),
                          (42, 0.9), (46, 0.1), (45, 0.05), (49, 0.03 if k % 16 else 1.0)):
            if rng.random() < prob:
                ev.append((at, "note_on", 9, key, int(rng.integers(80, 127))))
                ev.append((at + SR // 10, "note_off", 9, key, 0))
    return sorted(ev, key=lambda e: (e[0], e[1] != "note_off"))


@contextmanager
def busy_thread(on: bool) -> Iterator[None]:
    """Spin a pure-Python thread (holding the GIL whenever it can) while ``on``."""
    stop = threading.Event()

    def spin() -> None:
        x = 0
        while not stop.is_set():
            for _ in range(1000):
                x += 1

    th = threading.Thread(target=spin, daemon=True)
    if on:
        th.start()
    try:
        yield
    finally:
        stop.set()
        if on:
            th.join()


def render_tracked(events: list, total: int, synth: Synth) -> tuple[np.ndarray, int]:
    """Events through ``Synth.process`` in blocks, also returning the peak of sounding voices."""
    frames = [e[0] for e in events]
    out = np.zeros((total, 2), np.float32)
    peak = 0
    i = 0
    for pos in range(0, total, BLOCK):
        end = min(pos + BLOCK, total)
        j = bisect_left(frames, end, lo=i)
        synth.process(out[pos:end], [(frames[m] - pos, *events[m][1:]) for m in range(i, j)])
        i = j
        peak = max(peak, synth.sounding_voices)
    return out, peak


def bench_apollo(name: str, make: Callable[[], Synth], events: list, seconds: float,
                 busy: bool = False) -> float:
    """Render ``events`` ``REPS`` times, each through a new ``make()`` synth; print and
    return the median real-time factor."""
    factors = []
    for _ in range(REPS):
        synth = make()
        synth.warm_up()  # compile/load the kernels outside the timing
        with busy_thread(busy):
            t0 = time.perf_counter()
            out, peak = render_tracked(events, int(seconds * SR), synth)
            wall = time.perf_counter() - t0
        assert np.isfinite(out).all()
        factors.append(seconds / wall)
    f = statistics.median(factors)
    ms = seconds / f * 1000 / (seconds * SR / BLOCK)
    print(f"{name:<28} {f:7.1f}x real time  ({seconds / f:.2f} s for {seconds:.0f} s, "
          f"{ms:.2f} ms/block, peak {peak} voices, limit {synth.max_voices}, "
          f"stolen {synth.voices.stolen_count}; {REPS} runs {min(factors):.0f}-"
          f"{max(factors):.0f}x)")
    return f


def bench_fluidsynth(events: list, seconds: float, polyphony: int = 64,
                     cores: int = 1) -> float | None:
    """Render ``events`` with FluidSynth ``REPS`` times; print and return the median.

    ``cores`` > 1 sets FluidSynth's ``synth.cpu-cores`` (its own parallel rendering)."""
    factors = [_fluidsynth_once(events, seconds, polyphony, cores) for _ in range(REPS)]
    if factors[0] is None:
        return None
    f = statistics.median(float(x) for x in factors if x is not None)
    name = "fluidsynth (sample-accurate)" if cores == 1 else f"fluidsynth, {cores} cores"
    print(f"{name:<28} {f:7.1f}x real time  ({seconds / f:.2f} s for "
          f"{seconds:.0f} s; {REPS} runs {min(factors):.0f}-{max(factors):.0f}x)")
    return f


def _fluidsynth_once(events: list, seconds: float, polyphony: int,
                     cores: int = 1) -> float | None:
    """One sample-accurate FluidSynth render of ``events``; its real-time factor."""
    try:
        import fluidsynth
    except (ImportError, OSError) as exc:
        print(f"{'fluidsynth':<28} skipped: {exc}")
        return None
    fs = fluidsynth.Synth(gain=0.4, samplerate=float(SR), **{"synth.polyphony": polyphony,
                                                              "synth.cpu-cores": cores})
    sfid = fs.sfload(SF2)
    for ch in range(16):
        fs.program_select(ch, sfid, 128 if ch == 9 else 0, 0)
    total = int(seconds * SR)
    out = np.zeros((total, 2), np.float32)
    t0 = time.perf_counter()
    pos = 0
    i = 0
    while pos < total:
        nxt = events[i][0] if i < len(events) else total
        nxt = min(nxt, total)
        if nxt > pos:  # render up to the next event: sample-accurate, one call per segment
            chunk = np.asarray(fs.get_samples(nxt - pos), dtype=np.float32) / 32768.0
            out[pos:nxt] = chunk.reshape(-1, 2)
            pos = nxt
        while i < len(events) and events[i][0] <= pos:
            _, kind, ch, a, b = events[i]
            if kind == "note_on":
                fs.noteon(ch, a, b)
            elif kind == "note_off":
                fs.noteoff(ch, a)
            elif kind == "program":
                fs.program_select(ch, sfid, 128 if ch == 9 else 0, a)
            i += 1
        if i >= len(events) and pos < total:
            chunk = np.asarray(fs.get_samples(total - pos), dtype=np.float32) / 32768.0
            out[pos:] = chunk.reshape(-1, 2)
            pos = total
    wall = time.perf_counter() - t0
    fs.delete()
    assert np.isfinite(out).all()
    return seconds / wall


def fidelity(bank: SoundFontBank) -> None:
    """Compare one piano A4 (1 s) from our sampler with FluidSynth's."""
    try:
        import fluidsynth
    except (ImportError, OSError):
        return
    ours = render_tracked([(0, "note_on", 0, 69, 100), (SR // 2, "note_off", 0, 69, 0)],
                          SR, Synth(instrument_bank=bank))[0][:, 0]
    fs = fluidsynth.Synth(gain=0.4, samplerate=float(SR), **{"synth.reverb.active": 0,
                                                             "synth.chorus.active": 0})
    fs.program_select(0, fs.sfload(SF2), 0, 0)
    fs.noteon(0, 69, 100)
    a = np.asarray(fs.get_samples(SR // 2), np.float32)
    fs.noteoff(0, 69)
    b = np.asarray(fs.get_samples(SR // 2), np.float32)
    fs.delete()
    theirs = np.concatenate([a, b]).reshape(-1, 2)[:, 0] / 32768.0

    def spectrum(x: np.ndarray) -> np.ndarray:
        s = np.log10(np.abs(np.fft.rfft(x[:32768] * np.hanning(32768)))[:4000] + 1e-6)
        return s - s.mean()

    def env(x: np.ndarray) -> np.ndarray:
        return np.sqrt(np.mean(x[: len(x) // 480 * 480].reshape(-1, 480) ** 2, axis=1))

    def peak(x: np.ndarray) -> float:
        s = np.abs(np.fft.rfft(x[:32768] * np.hanning(32768), n=1 << 20))
        return float(np.argmax(s) * SR / (1 << 20))

    sa, sb = spectrum(ours), spectrum(theirs)
    spec_corr = float(sa @ sb / np.linalg.norm(sa) / np.linalg.norm(sb))
    ea, eb = env(ours), env(theirs)
    env_corr = float(np.corrcoef(ea, eb)[0, 1])
    print(f"fidelity piano A4 vs fluidsynth: log-spectrum corr {spec_corr:.3f}, "
          f"RMS-envelope corr {env_corr:.3f}, peak {peak(ours):.1f} Hz vs "
          f"{peak(theirs):.1f} Hz")


def ratios(label: str, builtin: float, sf2: float | None, fluid: float | None) -> None:
    """Print the scene's real-time factors and their ratios to FluidSynth's."""
    if sf2 is None or not fluid:
        print(f"ratios ({label}): builtin {builtin:.1f}x real time (no FluidSynth/SF2 here)")
        return
    print(f"ratios ({label}): builtin {builtin:.1f}x real time = {builtin / fluid:.2f}x "
          f"FluidSynth; sf2 {sf2:.1f}x real time = {sf2 / fluid:.2f}x FluidSynth "
          f"(FluidSynth {fluid:.1f}x real time)")


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--busy"]
    busy = "--busy" in sys.argv[1:]
    seconds = float(args[0]) if args else 60.0
    events = scene(seconds)
    dense = dense_scene(seconds)
    have_sf2 = os.path.exists(SF2)
    bank = None
    if have_sf2:
        t0 = time.perf_counter()
        bank = SoundFontBank.load(SF2)
        print(f"{'sf2 load (TimGM6mb, 6 MB)':<28} {time.perf_counter() - t0:7.2f} s")
    else:
        print(f"{SF2} missing: apt-get install timgm6mb-soundfont")
    print(f"scene: {sum(1 for e in events if e[1] == 'note_on')} notes, {seconds:.0f} s, "
          f"{SR} Hz, block {BLOCK}, ~64 voices sounding, 2 cores"
          + (", busy Python thread" if busy else ""))
    bench_apollo("apollo builtin, 16 voices", lambda: Synth(SR, 64, max_block=BLOCK),
                 scene(seconds, 8), seconds, busy)
    builtin = bench_apollo("apollo builtin, 64 voices", lambda: Synth(SR, 64, max_block=BLOCK),
                           events, seconds, busy)
    sf2 = fluid = None
    if bank is not None:
        sf2 = bench_apollo("apollo sf2, 64 voices", lambda: Synth(SR, 64, bank, max_block=BLOCK),
                           events, seconds, busy)
        fluid = bench_fluidsynth(events, seconds)
        fidelity(bank)
    ratios("64-voice scene", builtin, sf2, fluid)
    print(f"dense set: {sum(1 for e in dense if e[1] == 'note_on')} notes "
          f"({sum(1 for e in dense if e[1] == 'note_on' and e[2] == 9)} drums), "
          f"{seconds:.0f} s, 15 GM programs + drums, voice limit {DENSE_VOICES}")
    builtin = bench_apollo("apollo builtin, dense",
                           lambda: Synth(SR, DENSE_VOICES, max_block=BLOCK), dense, seconds, busy)
    sf2 = fluid = None
    if bank is not None:
        sf2 = bench_apollo("apollo sf2, dense",
                           lambda: Synth(SR, DENSE_VOICES, bank, max_block=BLOCK), dense, seconds,
                           busy)
        fluid = bench_fluidsynth(dense, seconds, DENSE_VOICES)
    ratios("dense set", builtin, sf2, fluid)
    threads = os.cpu_count() or 1
    if threads > 1:  # the offline-only parallel kernel (voices split over the cores)
        builtin = bench_apollo(
            f"apollo builtin, dense, {threads} thr",
            lambda: Synth(SR, DENSE_VOICES, max_block=BLOCK, render_threads=threads),
            dense, seconds, busy)
        if bank is not None:
            sf2 = bench_apollo(
                f"apollo sf2, dense, {threads} thr",
                lambda: Synth(SR, DENSE_VOICES, bank, max_block=BLOCK, render_threads=threads),
                dense, seconds, busy)
        ratios(f"dense set, {threads} render threads", builtin, sf2, fluid)
        if fluid is not None:  # like for like: FluidSynth on as many cores
            fluid_n = bench_fluidsynth(dense, seconds, DENSE_VOICES, threads)
            ratios(f"dense set, {threads} render threads against FluidSynth on {threads} "
                   f"cores", builtin, sf2, fluid_n)


if __name__ == "__main__":
    main()
