"""Apollo render-speed benchmark: how many times faster than real time a dense minute renders.

Plain script: ``.venv/bin/python bench/bench_audio.py [seconds] [--busy]``. Renders the same
64-voice scene (a new 2 s note every 1/32 s on 8 channels, plus drums) with the built-in
synth, the SoundFont sampler (TimGM6mb.sf2) and, when pyfluidsynth + libfluidsynth are
installed, FluidSynth driven block by block with events split at their sample offsets.
It also compares one SoundFont piano note between our sampler and FluidSynth.
With ``--busy`` a pure-Python thread spins while Apollo renders (a user's notebook code
in the same process): numpy calls that release the GIL then cost much more, which is
what the one nogil kernel call per block is for. The kernels are compiled (or loaded from
numba's cache) before timing; the last lines print the ratios measured in this run.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from mos_lab.audio import SoundFontBank, Synth, render_offline

SR = 48000
BLOCK = 512
SF2 = "/usr/share/sounds/sf2/TimGM6mb.sf2"
PROGRAMS = (0, 48, 19, 40, 56, 73, 81, 89)


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


def bench_apollo(name: str, synth: Synth, events: list, seconds: float,
                 busy: bool = False) -> float:
    """Render ``events`` through ``synth``; print and return the real-time factor."""
    synth.warm_up()  # compile/load the kernels outside the timing
    with busy_thread(busy):
        t0 = time.perf_counter()
        out = render_offline(events, int(seconds * SR), SR, synth, block=BLOCK)
        wall = time.perf_counter() - t0
    ms = wall * 1000 / (seconds * SR / BLOCK)
    print(f"{name:<28} {seconds / wall:7.1f}x real time  ({wall:.2f} s for {seconds:.0f} s, "
          f"{ms:.2f} ms/block, voice limit {synth.max_voices}, "
          f"stolen {synth.voices.stolen_count})")
    assert np.isfinite(out).all()
    return seconds / wall


def bench_fluidsynth(events: list, seconds: float) -> float | None:
    """Render ``events`` with FluidSynth, sample-accurately; return the real-time factor."""
    try:
        import fluidsynth
    except (ImportError, OSError) as exc:
        print(f"{'fluidsynth':<28} skipped: {exc}")
        return None
    fs = fluidsynth.Synth(gain=0.4, samplerate=float(SR), **{"synth.polyphony": 64})
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
    print(f"{'fluidsynth (sample-accurate)':<28} {seconds / wall:7.1f}x real time  "
          f"({wall:.2f} s for {seconds:.0f} s)")
    fs.delete()
    assert np.isfinite(out).all()
    return seconds / wall


def fidelity(bank: SoundFontBank) -> None:
    """Compare one piano A4 (1 s) from our sampler with FluidSynth's."""
    try:
        import fluidsynth
    except (ImportError, OSError):
        return
    ours = render_offline([(0, "note_on", 0, 69, 100), (SR // 2, "note_off", 0, 69, 0)],
                          SR, SR, Synth(instrument_bank=bank))[:, 0]
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


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--busy"]
    busy = "--busy" in sys.argv[1:]
    seconds = float(args[0]) if args else 60.0
    events = scene(seconds)
    print(f"scene: {sum(1 for e in events if e[1] == 'note_on')} notes, {seconds:.0f} s, "
          f"{SR} Hz, block {BLOCK}, ~64 voices sounding, 2 cores"
          + (", busy Python thread" if busy else ""))
    bench_apollo("apollo builtin, 16 voices", Synth(SR, 64, max_block=BLOCK),
                 scene(seconds, 8), seconds, busy)
    builtin = bench_apollo("apollo builtin, 64 voices", Synth(SR, 64, max_block=BLOCK),
                           events, seconds, busy)
    if not os.path.exists(SF2):
        print(f"{SF2} missing: apt-get install timgm6mb-soundfont")
        return
    t0 = time.perf_counter()
    bank = SoundFontBank.load(SF2)
    print(f"{'sf2 load (TimGM6mb, 6 MB)':<28} {time.perf_counter() - t0:7.2f} s")
    sf2 = bench_apollo("apollo sf2, 64 voices", Synth(SR, 64, bank, max_block=BLOCK), events,
                       seconds, busy)
    fluid = bench_fluidsynth(events, seconds)
    fidelity(bank)
    if fluid:
        print(f"ratios in this run: builtin {builtin:.1f}x real time = {builtin / fluid:.2f}x "
              f"FluidSynth; sf2 {sf2:.1f}x real time = {sf2 / fluid:.2f}x FluidSynth "
              f"({fluid:.1f}x real time)")


if __name__ == "__main__":
    main()
