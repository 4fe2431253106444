"""``mos-lab render`` (offline, to WAV/FLAC) and ``mos-lab play`` (real time, local audio)."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from mos_lab.cli.commands import load_input
from mos_lab.cli.errors import EXIT_OK, CliError, output_file
from mos_lab.cli.progress import ProgressBar

DEVICE_TIMEOUT_S = 5.0  # a device that takes no audio for this long is reported, not waited on
BOOT_TIMEOUT_S = 120.0  # the first run compiles the synth's kernels (tens of seconds)
MAX_HOURS = 6.0  # engine.MAX_RENDER_S in hours (not imported: --help would load the engine)


def register(sub: Any) -> None:
    """Add the audio sub-commands to the ``mos-lab`` parser."""
    r = sub.add_parser(
        "render", help="render a score to audio offline (WAV or FLAC)",
        description="Render a score offline through the engine's real-time code path, "
                    "streamed to the file in blocks (constant memory for any length). The "
                    "format follows the extension (.wav or .flac).")
    r.add_argument("file")
    r.add_argument("-o", "--output", required=True, help="OUT.wav or OUT.flac")
    r.add_argument("--sample-rate", type=int, default=48_000, help="Hz (default 48000)")
    r.add_argument("--soundfont", help="an .sf2/.sf3 file for the instruments (default: the "
                   "GM set of mos-lab info --sound)")
    r.add_argument("--dry", action="store_true", help="no reverb or chorus")
    r.add_argument("--format", choices=("float", "pcm24", "pcm16"), default="pcm24",
                   help="samples: 32-bit float, 24-bit, or 16-bit dithered (default pcm24)")
    r.add_argument("--tempo", type=float, default=1.0, help="tempo scale (2.0 = twice as fast)")
    r.add_argument("--max-hours", type=float, default=MAX_HOURS,
                   help=f"refuse renders longer than this (default {MAX_HOURS:g}); "
                        "a damaged file can claim days")
    r.set_defaults(run=render)
    p = sub.add_parser(
        "play", help="play a score on the default local audio output",
        description="Play a score in real time on a local audio device until its end or "
                    "Ctrl-C. Exits 2 with a message when there is no device or the device "
                    "takes no audio.")
    p.add_argument("file")
    p.add_argument("--soundfont", help="an .sf2/.sf3 file for the instruments (default: the "
                   "GM set of mos-lab info --sound)")
    p.add_argument("--start", type=float, default=0.0, help="start at this time (seconds)")
    p.add_argument("--device", type=int, help="PortAudio output device index")
    p.set_defaults(run=play)


def _bank(soundfont: str | None) -> Any:
    from mos_lab.audio.instruments.defaults import load_bank

    if soundfont:
        from mos_lab.cli.errors import input_file

        input_file(soundfont)
    return load_bank(soundfont)


def render(args: argparse.Namespace) -> int:
    """Offline render through the engine's real-time code path, streamed to the file."""
    from mos_lab import engine

    out = output_file(args.output, (".wav", ".flac"), "audio")
    if not 8_000 <= args.sample_rate <= 192_000:
        raise CliError(f"--sample-rate: {args.sample_rate} is not in 8000..192000")
    if not (math.isfinite(args.tempo) and 0.05 <= args.tempo <= 20):
        raise CliError(f"--tempo: {args.tempo:g} is not in 0.05..20")
    if not (math.isfinite(args.max_hours) and args.max_hours > 0):
        raise CliError(f"--max-hours: {args.max_hours:g} must be more than 0")
    score = load_input(args.file)
    bank = _bank(args.soundfont)
    if args.dry and bank is not None:
        bank.dry = True  # the voices send nothing to the reverb and chorus
    if args.format == "float" and out.suffix.lower() == ".flac":
        raise CliError("--format float: FLAC stores integers (use pcm24, or a .wav file)")
    try:
        job = engine.render(score, sample_rate=args.sample_rate, tempo=args.tempo,
                            bank=bank, max_seconds=args.max_hours * 3600)
    except ValueError as exc:  # over the length limit: says how to raise it
        raise CliError(str(exc).removeprefix("render: ").replace("max_seconds=, ", "")) from None
    bar = ProgressBar(f"rendering {Path(args.file).name}")
    t0 = time.perf_counter()
    try:
        job.write(out, progress=bar, subtype={"float": "FLOAT", "pcm24": "PCM_24",
                                              "pcm16": "PCM_16"}[args.format])
    finally:
        bar.close()
    took = time.perf_counter() - t0
    print(f"wrote {out} ({job.seconds:.1f} s of audio in {took:.1f} s, "
          f"{job.seconds / max(took, 1e-9):.0f}x real time)")
    return EXIT_OK


def _check_devices(device: int | None) -> str:
    """The name of the output device that will play, or a CliError saying there is none."""
    from mos_lab.audio import OutputError, SoundDeviceOutput

    try:
        devices = SoundDeviceOutput.devices()
    except OutputError as exc:
        raise CliError(f"no audio output: {exc}") from None
    except Exception as exc:
        raise CliError(f"cannot list audio devices: {exc}") from None
    if not devices:
        raise CliError("no audio output device found (mos-lab render FILE -o OUT.wav "
                       "writes the audio to a file instead)")
    if device is None:
        return "the default output"
    return f"device {device}"


def play(args: argparse.Namespace) -> int:
    """Play on the local output until the end or Ctrl-C; exit 2 with the reason when no
    device takes the audio (none found, it fails to open, or it never asks for audio)."""
    from mos_lab.audio import SoundDeviceOutput
    from mos_lab.engine import Engine

    score = load_input(args.file)
    if not (math.isfinite(args.start) and 0 <= args.start <= score.duration):
        raise CliError(f"--start: {args.start:g} is not in 0..{score.duration:.2f} s "
                       "(the score's length)")
    where = _check_devices(args.device)  # (before a SoundFont takes seconds to load)
    bank = _bank(args.soundfont)
    output = SoundDeviceOutput(48_000, 512, device=args.device, lookahead_s=0.15)
    done = threading.Event()
    with Engine(output=output) as eng:
        waited = time.monotonic()
        while not eng.ready and time.monotonic() - waited < 2.0:
            time.sleep(0.05)
        if not eng.ready:
            print("mos-lab play: preparing audio (a first run compiles the synth, up to a "
                  "minute)...", file=sys.stderr)
        eng.wait_ready(BOOT_TIMEOUT_S)
        if output.state == "error":
            raise CliError(f"cannot open {where}: {output.error}")
        if bank is not None:
            eng.synth.bank = bank
        eng.load(score).result(30)
        if args.start:
            eng.seek(args.start)

        ended: list[float] = []

        def on_transport(ev: Any) -> None:
            if ev["state"] == "ready":  # playback reached the end (and rewound)
                ended.append(score.duration)
                done.set()

        eng.bus.subscribe("transport", on_transport, owner=eng, weak=False)
        previous = signal.signal(signal.SIGINT, lambda *_: done.set())
        bar = ProgressBar(f"playing {Path(args.file).name}")
        try:
            eng.play()
            _watch(eng, output, done, bar, score.duration, where)
        finally:
            bar.close()
            signal.signal(signal.SIGINT, previous)
        reached = ended[0] if ended else eng.position
        print(f"played to {reached:.1f} s, underruns: {output.underruns}")
    return EXIT_OK


def _watch(eng: Any, output: Any, done: threading.Event, bar: ProgressBar, duration: float,
           where: str) -> None:
    """Wait for the end (or Ctrl-C); raise CliError when the device stops taking audio."""
    frames, since = output.device_frames, time.monotonic()
    while not done.wait(0.2):
        if output.state == "error":
            raise CliError(f"{where} failed while playing: {output.error}")
        if output.device_frames != frames:
            frames, since = output.device_frames, time.monotonic()
        elif time.monotonic() - since > DEVICE_TIMEOUT_S:
            raise CliError(f"{where} took no audio for {DEVICE_TIMEOUT_S:g} s "
                           "(no working sound card?)")
        bar(eng.position / max(duration, 1e-9))
