"""``mos-lab render`` (offline, to WAV/FLAC) and ``mos-lab play`` (real time, local audio)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from mos_lab.cli.progress import ProgressBar
from mos_lab.score import load


def register(sub: Any) -> None:
    """Add the audio sub-commands to the ``mos-lab`` parser."""
    r = sub.add_parser("render", help="render a score to audio offline (WAV or FLAC)")
    r.add_argument("file")
    r.add_argument("-o", "--output", required=True, help="OUT.wav or OUT.flac")
    r.add_argument("--sample-rate", type=int, default=48_000)
    r.add_argument("--soundfont", help="an .sf2 file for the instruments (default: built-in)")
    r.add_argument("--tempo", type=float, default=1.0, help="tempo scale (2.0 = twice as fast)")
    r.set_defaults(run=render)
    p = sub.add_parser("play", help="play a score on the default local audio output")
    p.add_argument("file")
    p.add_argument("--soundfont")
    p.add_argument("--start", type=float, default=0.0, help="start at this time (seconds)")
    p.add_argument("--device", type=int, help="PortAudio output device index")
    p.set_defaults(run=play)


def _bank(soundfont: str | None) -> Any:
    if not soundfont:
        return None
    from mos_lab.audio import SoundFontBank

    return SoundFontBank.load(soundfont)


def render(args: argparse.Namespace) -> int:
    """Offline render through the engine's real-time code path, faster than real time."""
    from mos_lab.audio import write_audio
    from mos_lab.engine import render_score

    out = Path(args.output)
    if out.suffix.lower() not in (".wav", ".flac"):
        raise ValueError(f"output: '{out.suffix}' is not .wav or .flac")
    if not 8_000 <= args.sample_rate <= 192_000:
        raise ValueError(f"--sample-rate: {args.sample_rate} is not in 8000..192000")
    score = load(args.file)
    bar = ProgressBar(f"rendering {Path(args.file).name}")
    t0 = time.perf_counter()
    audio = render_score(score, sample_rate=args.sample_rate, tempo=args.tempo,
                         bank=_bank(args.soundfont), progress=bar)
    bar.close()
    took = time.perf_counter() - t0
    write_audio(out, audio, args.sample_rate)
    seconds = len(audio) / args.sample_rate
    print(f"wrote {out} ({seconds:.1f} s of audio in {took:.1f} s, "
          f"{seconds / max(took, 1e-9):.0f}x real time)")
    return 0


def play(args: argparse.Namespace) -> int:
    """Play on the local output until the end or Ctrl-C; says why if there is no device."""
    from mos_lab.audio import SoundDeviceOutput
    from mos_lab.engine import Engine

    score = load(args.file)
    output = SoundDeviceOutput(48_000, 512, device=args.device, lookahead_s=0.15)
    done = threading.Event()
    with Engine(output=output) as eng:
        eng.wait_ready(10)
        if output.state == "error":
            print(f"mos-lab play: {output.error}", file=sys.stderr)
            return 2
        bank = _bank(args.soundfont)
        if bank is not None:
            eng.synth.bank = bank
        eng.load(score).result(30)
        if args.start:
            eng.seek(args.start)
        def on_transport(ev: Any) -> None:
            if ev["state"] == "ready":  # playback reached the end
                done.set()

        eng.bus.subscribe("transport", on_transport, owner=eng, weak=False)
        previous = signal.signal(signal.SIGINT, lambda *_: done.set())
        try:
            eng.play()
            bar = ProgressBar(f"playing {Path(args.file).name}")
            while not done.wait(0.2):
                bar(eng.position / max(score.duration, 1e-9))
            bar.close()
        finally:
            signal.signal(signal.SIGINT, previous)
        print(f"played to {eng.position:.1f} s, underruns: {output.underruns}")
    return 0
