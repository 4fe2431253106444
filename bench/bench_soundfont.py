"""SoundFont fidelity and speed against FluidSynth (Debian's ``fluidsynth``, the oracle).

Plain script: ``.venv/bin/python bench/bench_soundfont.py [sf2] [--no-speed] [--fx]
[--plot DIR] [--corpus]``.
Single notes of piano, guitar, strings, trumpet, flute and organ (GM programs 0, 24, 48,
56, 73, 19) at C3, C4, C5 and velocities 40 and 100, 1 s held then released, are
rendered by Apollo (``Synth`` with a ``SoundFontBank``, reverb and chorus off) and by
the ``fluidsynth`` command (``-R 0 -C 0``, writing float WAV) from the same MIDI file.
Per note it prints the spectral centroid of 0.05-1.0 s (the timbre while the key is
down), the correlation of the level envelopes (20 ms frames, dB, floored 90 dB under
the note's peak), the level difference in dB (its spread over all notes is how far
the two are from "one global gain apart") and the release-tail centroid (1.3-1.8 s).
Then the dense scene of ``bench_audio.py`` (30 s, ~4,400 notes) is rendered by both on
one core (FluidSynth's ``synth.cpu-cores=1``, its load time subtracted), reverb and
chorus in each as set by ``--fx`` (on) or off by default; CPU time, best of 3.
``--corpus`` instead renders the first 15 s of each corpus MIDI file
(``../shared/corpus/midi``) in both, dry, and prints per file the per-second
log-spectrum correlation (the issue asks >= 0.98 per second of music).
"""

from __future__ import annotations

import glob
import os
import resource
import subprocess
import sys
import tempfile
import time

import mido
import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(__file__))

from mos_lab.audio import SoundFontBank, Synth

SR = 48000
SF2 = "/usr/share/sounds/sf2/TimGM6mb.sf2"
PROGRAMS = {"piano": 0, "guitar": 24, "strings": 48, "trumpet": 56, "flute": 73, "organ": 19}
PITCHES = {"C3": 48, "C4": 60, "C5": 72}
VELOCITIES = (40, 100)
SLOT = 3.0  # seconds per note in the MIDI file
HOLD = 1.0  # key down
FRAME = int(0.02 * SR)
CENTROID_TOL = 0.08
CORR_MIN = 0.97
SPREAD_MAX = 1.0


def notes() -> list[tuple[str, int, str, int, int]]:
    """(program name, program, pitch name, key, velocity) of every tested note."""
    return [(pn, p, kn, k, v) for pn, p in PROGRAMS.items() for kn, k in PITCHES.items()
            for v in VELOCITIES]


def write_midi(path: str, items: list[tuple[str, int, str, int, int]]) -> None:
    """One note per ``SLOT`` seconds on channel 0 (program change before each), 120 bpm."""
    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    tick = 960  # ticks per second at 120 bpm
    now = 0
    for i, (_, prog, _, key, vel) in enumerate(items):
        at = int(i * SLOT * tick)
        tr.append(mido.Message("program_change", channel=0, program=prog, time=at - now))
        tr.append(mido.Message("note_on", channel=0, note=key, velocity=vel, time=0))
        tr.append(mido.Message("note_off", channel=0, note=key, velocity=0,
                               time=int(HOLD * tick)))
        now = at + int(HOLD * tick)
    end = int(len(items) * SLOT * tick)
    tr.append(mido.MetaMessage("end_of_track", time=end - now))
    mid.save(path)


def fluid_render(sf2: str, mid: str, out: str, fx: bool = False, cores: int = 1,
                 polyphony: int = 256) -> float:
    """Render ``mid`` with the fluidsynth command into float WAV ``out``; CPU seconds
    (on a shared machine CPU time is steadier than wall time)."""
    cmd = ["fluidsynth", "-ni", "-q", "-g", "1.0", "-r", str(SR), "-O", "float", "-T", "wav",
           "-F", out, "-o", f"synth.cpu-cores={cores}", "-o", f"synth.polyphony={polyphony}",
           "-R", "1" if fx else "0", "-C", "1" if fx else "0", sf2, mid]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, capture_output=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def apollo_events(items: list[tuple[str, int, str, int, int]]) -> list[tuple]:
    """The same notes as ``write_midi`` as Synth events (absolute frames)."""
    ev: list[tuple] = []
    for i, (_, prog, _, key, vel) in enumerate(items):
        at = int(i * SLOT * SR)
        ev.append((at, "program", 0, prog, 0))
        ev.append((at, "note_on", 0, key, vel))
        ev.append((at + int(HOLD * SR), "note_off", 0, key, 0))
    return ev


def apollo_render(bank: SoundFontBank, events: list[tuple], total: int, *, block: int = 4096,
                  voices: int = 64, synth_kw: dict | None = None) -> np.ndarray:
    """Render events through ``Synth.process`` in blocks (as the offline engine does)."""
    from bench_audio import render_tracked  # the shared block loop

    synth = Synth(SR, voices, bank, max_block=block, **(synth_kw or {}))
    synth.warm_up()
    out, _ = render_tracked(events, total, synth)
    return out


def centroid(x: np.ndarray) -> float:
    """Spectral centroid (Hz) of ``x`` (Hann-windowed 4096-point frames, power-weighted)."""
    n = 4096
    if len(x) < n:
        return 0.0
    w = np.hanning(n)
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::n // 2] * w
    p = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).sum(axis=0)
    f = np.fft.rfftfreq(n, 1 / SR)
    return float((p * f).sum() / max(p.sum(), 1e-30))


def env_db(x: np.ndarray) -> np.ndarray:
    """RMS level per 20 ms frame in dB."""
    m = len(x) // FRAME
    r = np.sqrt((x[:m * FRAME].reshape(m, FRAME) ** 2).mean(axis=1))
    return 20 * np.log10(np.maximum(r, 1e-12))


def compare(a: np.ndarray, f: np.ndarray) -> dict[str, float]:
    """Centroids, envelope correlation, level difference and tail centroids of one note."""
    sl = slice(int(0.05 * SR), int(1.0 * SR))
    tail = slice(int(1.3 * SR), int(1.8 * SR))
    ea, ef = env_db(a), env_db(f)
    floor = max(ea.max(), ef.max()) - 90.0
    ea, ef = np.maximum(ea, floor), np.maximum(ef, floor)
    k = int(2.5 * SR) // FRAME
    corr = float(np.corrcoef(ea[:k], ef[:k])[0, 1]) if ea[:k].std() > 0 else 0.0
    lvl = 10 * np.log10((a[sl] ** 2).mean() / max((f[sl] ** 2).mean(), 1e-30))
    return {"ca": centroid(a[sl]), "cf": centroid(f[sl]), "corr": corr, "gain": float(lvl),
            "ta": centroid(a[tail]), "tf": centroid(f[tail]),
            "tail_db_a": float(ea[int(1.6 * SR) // FRAME] - ea.max()),
            "tail_db_f": float(ef[int(1.6 * SR) // FRAME] - ef.max())}


def fidelity(sf2: str, plot: str | None = None) -> int:
    """Render the note set in both players, print the table; return notes alike."""
    items = notes()
    total = int(len(items) * SLOT * SR)
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = os.path.join(tmp, "notes.mid"), os.path.join(tmp, "fs.wav")
        write_midi(mid, items)
        fluid_render(sf2, mid, wav)
        fs, rate = sf.read(wav, dtype="float64")
        assert rate == SR
    bank = SoundFontBank.load(sf2)
    ap = apollo_render(bank, apollo_events(items), total,
                       synth_kw={"effects": False}).astype(np.float64)
    fs = np.pad(fs, ((0, max(0, total - len(fs))), (0, 0)))[:total]
    rows = []
    for i, it in enumerate(items):
        s = slice(int(i * SLOT * SR), int((i + 1) * SLOT * SR))
        rows.append((it, compare(ap[s].mean(axis=1), fs[s].mean(axis=1))))
    gains = np.array([r["gain"] for _, r in rows])
    g0 = float(np.median(gains))
    print(f"{'note':<18} {'centroid ap/fs (Hz)':>21} {'dev':>6} {'env r':>6} {'dB':>6} "
          f"{'tail centroid ap/fs':>20} {'tail dB ap/fs':>14}")
    alike = 0
    for (pn, _, kn, _, v), r in rows:
        dev = r["ca"] / max(r["cf"], 1e-9) - 1
        ok = abs(dev) <= CENTROID_TOL and r["corr"] >= CORR_MIN and abs(r["gain"] - g0) <= 0.5
        alike += ok
        print(f"{pn + ' ' + kn + ' v' + str(v):<18} {r['ca']:9.0f} / {r['cf']:9.0f} "
              f"{100 * dev:+5.0f}% {r['corr']:6.3f} {r['gain'] - g0:+6.1f} "
              f"{r['ta']:9.0f} / {r['tf']:8.0f} {r['tail_db_a']:6.0f} / {r['tail_db_f']:5.0f}"
              f"{'' if ok else '  *'}")
    devs = np.array([r["ca"] / max(r["cf"], 1e-9) - 1 for _, r in rows])
    corrs = np.array([r["corr"] for _, r in rows])
    print(f"notes alike: {alike}/{len(rows)}; centroid |dev| median "
          f"{100 * np.median(abs(devs)):.1f}% max {100 * abs(devs).max():.1f}%; "
          f"env corr min {corrs.min():.3f}; gain spread "
          f"{gains.max() - gains.min():.2f} dB (global gain {g0:+.1f} dB)")
    if plot:
        _plot(plot, items, ap, fs)
    return alike


def _plot(folder: str, items: list, ap: np.ndarray, fs: np.ndarray) -> None:
    """Spectrograms of a few notes, Apollo above FluidSynth, into ``folder``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(folder, exist_ok=True)
    pick = [i for i, it in enumerate(items) if it[2] == "C4"]
    fig, axes = plt.subplots(2, len(pick), figsize=(3 * len(pick), 6), sharey=True)
    for j, i in enumerate(pick):
        s = slice(int(i * SLOT * SR), int((i + 1) * SLOT * SR))
        for row, (x, who) in enumerate(((ap, "apollo"), (fs, "fluid"))):
            ax = axes[row, j]
            ax.specgram(x[s].mean(axis=1), NFFT=1024, Fs=SR, noverlap=512, vmin=-160)
            ax.set_ylim(0, 12000)
            ax.set_title(f"{who} {items[i][0]} v{items[i][4]}", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "soundfont_c4.png"), dpi=70)
    plt.close(fig)


def speed(sf2: str, fx: bool, seconds: float = 30.0) -> None:
    """Dense scene rendered by Apollo (one core) and by fluidsynth (one core)."""
    from bench_audio import DENSE_VOICES, dense_scene

    events = dense_scene(seconds)
    total = int(seconds * SR)
    with tempfile.TemporaryDirectory() as tmp:
        mid, empty = os.path.join(tmp, "dense.mid"), os.path.join(tmp, "empty.mid")
        _events_midi(events, mid)
        _events_midi([], empty)
        out = os.path.join(tmp, "o.wav")
        load = min(fluid_render(sf2, empty, out, fx, 1, DENSE_VOICES) for _ in range(2))
        fl = min(fluid_render(sf2, mid, out, fx, 1, DENSE_VOICES) for _ in range(3)) - load
    bank = SoundFontBank.load(sf2)
    kw = {"effects": fx}
    from bench_audio import render_tracked

    best = float("inf")
    peak = 0
    for _ in range(3):
        synth = Synth(SR, DENSE_VOICES, bank, max_block=4096, **kw)
        synth.warm_up()
        t0 = time.process_time()
        _, peak = render_tracked(events, total, synth)
        best = min(best, time.process_time() - t0)
    print(f"speed (CPU time), dense {seconds:.0f} s, one core, fx {'on' if fx else 'off'}: apollo "
          f"{seconds / best:.1f}x real time, fluidsynth {seconds / fl:.1f}x "
          f"(load {load:.2f} s subtracted): ratio {fl / best:.2f}; apollo peak {peak} voices")


CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "corpus", "midi")
SPEC_R_MIN = 0.98  # the issue's bar: log-spectrum correlation per second of music


def midi_events(path: str, seconds: float) -> list[tuple]:
    """The channel messages of a MIDI file's first ``seconds`` as Synth events (frames),
    then pedals up and all notes off on every channel (the fluidsynth command renders
    until every voice has ended: a note held past the cut would never end)."""
    ev: list[tuple] = []
    now = 0.0
    for msg in mido.MidiFile(path):
        now += msg.time
        if now >= seconds:
            break
        at = round(now * SR)
        if msg.type == "note_on" and msg.velocity > 0:
            ev.append((at, "note_on", msg.channel, msg.note, msg.velocity))
        elif msg.type in ("note_on", "note_off"):
            ev.append((at, "note_off", msg.channel, msg.note, 0))
        elif msg.type == "control_change":
            ev.append((at, "control", msg.channel, msg.control, msg.value))
        elif msg.type == "program_change":
            ev.append((at, "program", msg.channel, msg.program, 0))
        elif msg.type == "pitchwheel":
            ev.append((at, "pitch_bend", msg.channel, msg.pitch, 0))
    end = round(min(now, seconds) * SR)
    ev += [(end, "control", ch, cc, 0) for ch in range(16) for cc in (64, 66, 123)]
    return ev


def log_spectrum_r(a: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Per second: correlation of the two mono signals' log power spectra (2048-point
    Hann frames averaged over the second, 40 Hz-12 kHz, dB floored 90 dB under the
    louder); NaN for a second where both are silent (under -90 dBFS)."""
    n = 2048
    w = np.hanning(n)
    fr = np.fft.rfftfreq(n, 1 / SR)
    band = (fr >= 40) & (fr <= 12000)
    out = []
    for s in range(min(len(a), len(f)) // SR):
        seg = slice(s * SR, (s + 1) * SR)
        pa, pf = (((np.abs(np.fft.rfft(np.lib.stride_tricks.sliding_window_view(
            x[seg], n)[::n // 2] * w, axis=1)) ** 2).mean(axis=0))[band] for x in (a, f))
        da, df = 10 * np.log10(pa + 1e-30), 10 * np.log10(pf + 1e-30)
        top = max(da.max(), df.max())
        if top < 10 * np.log10(n * 1e-9):  # silence in both
            out.append(np.nan)
            continue
        da, df = np.maximum(da, top - 90), np.maximum(df, top - 90)
        out.append(float(np.corrcoef(da, df)[0, 1]))
    return np.array(out)


def corpus(sf2: str, seconds: float = 15.0) -> None:
    """The corpus MIDI files' first ``seconds`` in both players (reverb and chorus off):
    per file the median and lowest per-second log-spectrum correlation and the share of
    seconds at or above the issue's 0.98."""
    files = sorted(p for d in ("one_track", "multitrack")
                   for p in glob.glob(os.path.join(CORPUS, d, "*.mid")))
    if not files:
        print(f"corpus: no MIDI files under {CORPUS}")
        return
    bank = SoundFontBank.load(sf2)
    total = int(seconds * SR)
    allr: list[float] = []
    print(f"{'file':<40} {'seconds':>7} {'median r':>9} {'min r':>7} {'>= 0.98':>8}")
    for path in files:
        ev = midi_events(path, seconds)
        if not any(e[1] == "note_on" for e in ev):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            mid, wav = os.path.join(tmp, "c.mid"), os.path.join(tmp, "c.wav")
            _events_midi_full(ev, mid)
            fluid_render(sf2, mid, wav)
            fs, _ = sf.read(wav, dtype="float64")
        fs = np.pad(fs, ((0, max(0, total - len(fs))), (0, 0)))[:total]
        ap = apollo_render(bank, sorted(ev, key=lambda e: e[0]), total,
                           synth_kw={"effects": False}).astype(np.float64)
        r = log_spectrum_r(ap.mean(axis=1), fs.mean(axis=1))
        r = r[~np.isnan(r)]
        if not len(r):
            continue
        allr.extend(r.tolist())
        print(f"{os.path.basename(path)[:40]:<40} {len(r):7d} {np.median(r):9.3f} "
              f"{r.min():7.3f} {100 * (r >= SPEC_R_MIN).mean():7.0f}%")
    a = np.array(allr)
    print(f"corpus: {len(a)} seconds of music, log-spectrum r median {np.median(a):.3f}, "
          f"5th percentile {np.percentile(a, 5):.3f}, {100 * (a >= SPEC_R_MIN).mean():.0f}% "
          f"of seconds >= {SPEC_R_MIN}")


def _events_midi_full(events: list[tuple], path: str) -> None:
    """Synth events (absolute frames, every kind) as a one-track MIDI file at 960 ticks
    per second, so fluidsynth hears exactly what Apollo renders."""
    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    now = 0
    for at, kind, ch, a, b in sorted(events, key=lambda e: e[0]):
        t = round(at / SR * 960)
        if kind == "note_on":
            msg = mido.Message("note_on", channel=ch, note=a, velocity=b, time=t - now)
        elif kind == "note_off":
            msg = mido.Message("note_off", channel=ch, note=a, velocity=0, time=t - now)
        elif kind == "program":
            msg = mido.Message("program_change", channel=ch, program=a, time=t - now)
        elif kind == "control":
            msg = mido.Message("control_change", channel=ch, control=a, value=b, time=t - now)
        else:
            msg = mido.Message("pitchwheel", channel=ch, pitch=a, time=t - now)
        tr.append(msg)
        now = t
    tr.append(mido.MetaMessage("end_of_track", time=960))
    mid.save(path)


def _events_midi(events: list[tuple], path: str) -> None:
    """Synth events (absolute frames) as a one-track MIDI file (960 ticks per second)."""
    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    now = 0
    for at, kind, ch, a, b in sorted(events, key=lambda e: e[0]):
        t = round(at / SR * 960)
        if kind == "note_on":
            msg = mido.Message("note_on", channel=ch, note=a, velocity=b, time=t - now)
        elif kind == "note_off":
            msg = mido.Message("note_off", channel=ch, note=a, velocity=0, time=t - now)
        elif kind == "program":
            msg = mido.Message("program_change", channel=ch, program=a, time=t - now)
        else:
            continue
        tr.append(msg)
        now = t
    tr.append(mido.MetaMessage("end_of_track", time=960))
    mid.save(path)


def main() -> None:
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(__doc__)
        return
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    sf2 = args[0] if args else SF2
    plot = None
    if "--plot" in sys.argv:
        plot = sys.argv[sys.argv.index("--plot") + 1]
        args = [a for a in args if a != plot]
        sf2 = args[0] if args else SF2
    if "--corpus" in sys.argv:
        corpus(sf2)
        return
    fidelity(sf2, plot)
    if "--no-speed" not in sys.argv:
        speed(sf2, "--fx" in sys.argv)


if __name__ == "__main__":
    main()
