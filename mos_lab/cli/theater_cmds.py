"""``mos-lab frame`` and ``mos-lab video``: stills and videos of a score from the theater.

Each command says on stderr which renderer drew (wgpu adapter or the CPU fallback and
why) and what the loader repaired. ``video`` renders the engine's own audio for the
clip (the offline path of ``mos-lab render``, started at ``--start``) in a second thread
while the frames render, and muxes it in as AAC; ``--audio`` takes a WAV instead.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from mos_lab.cli.commands import load_input
from mos_lab.cli.errors import CliError, output_file, writing
from mos_lab.cli.progress import ProgressBar

MAX_LENGTH_S = 6 * 3600.0  # a longer clip is refused (a damaged file can claim 50 days)


def _renderer_line(r: Any, out: TextIO) -> None:
    print(f"renderer: {r.name} ({r.description})", file=out)


def _warnings(score: Any, out: TextIO, limit: int = 10) -> None:
    """Say on stderr what the loader repaired (a best-effort load is not silent)."""
    for w in score.warnings[:limit]:
        print(f"warning: {w}", file=out)
    if len(score.warnings) > limit:
        print(f"warning: (+{len(score.warnings) - limit} more)", file=out)


def _hms(seconds: float) -> str:
    h, rest = divmod(int(seconds), 3600)
    return f"{h} h {rest // 60:02d} min" if h else f"{seconds:.1f} s"


class VideoProgress:
    """One bar for an export: video frames and audio blocks advance it from two threads."""

    def __init__(self, bar: ProgressBar, audio: bool) -> None:
        self.bar, self.audio = bar, audio
        self.frames, self.total, self.audio_done = 0, 1, 0.0 if audio else 1.0
        self.t0 = time.monotonic()

    def on_frame(self, done: int, total: int) -> None:
        """``export_video``'s progress callback."""
        self.frames, self.total = done, total
        self._draw()

    def on_audio(self, fraction: float) -> None:
        """Called by the audio blocks as they are made."""
        self.audio_done = fraction
        self._draw()

    def _draw(self) -> None:
        rate = self.frames / max(time.monotonic() - self.t0, 1e-9)
        detail = f"{self.frames}/{self.total} frames {rate:5.1f} fps"
        if self.audio:
            detail += f", audio {self.audio_done * 100:3.0f}%"
        self.bar(min(self.frames / max(self.total, 1), self.audio_done), detail)


def engine_audio(score: Any, start: float, seconds: float, *, sample_rate: int = 48_000,
                 bank: Any = None, progress: Callable[[float], None] | None = None,
                 ) -> Iterator[np.ndarray]:
    """The engine's offline render of ``start .. start + seconds``, block by block.

    ``mos_lab.engine.render`` started at ``start`` (a seek: controllers restored),
    never held whole in memory.
    """
    from mos_lab.engine import render

    total = math.ceil(seconds * sample_rate)
    job = render(score, sample_rate=sample_rate, start=start, frames=total, bank=bank,
                 max_seconds=MAX_LENGTH_S + 60)
    done = 0
    for out in job:
        yield out
        done += len(out)
        if progress is not None:
            progress(done / max(total, 1))


IMAGE_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg"}


def cmd_frame(args: argparse.Namespace) -> int:
    """Render one still (centred on ``--time``) to a PNG or JPEG, chosen by the extension."""
    from mos_lab.theater import View, encode, open_renderer, render_frame

    out = output_file(args.output, tuple(IMAGE_FORMATS), "an image")
    fmt = IMAGE_FORMATS[out.suffix.lower()]
    score = load_input(args.file)
    if not (math.isfinite(args.time) and 0 <= args.time <= score.duration):
        raise CliError(f"--time: {args.time:g} is not in 0..{score.duration:.2f} s "
                       "(the score's length)")
    _warnings(score, sys.stderr)
    view = View.parse(args.size, "portrait" if args.portrait else "landscape")
    r = open_renderer(args.renderer, max_texture=args.max_texture)
    try:
        _renderer_line(r, sys.stderr)
        img = render_frame(score, args.time, view, renderer=r, span=args.span)
    finally:
        r.close()
    try:
        data = encode(img, fmt)
    except ImportError:
        raise CliError("writing JPEG needs Pillow (pip install pillow); .png works "
                       "without it") from None
    with writing(out):
        out.write_bytes(data)
    print(f"{out}: {view.width}x{view.height} {fmt.upper()} at {args.time:g} s")
    return 0


def _clip(args: argparse.Namespace, duration: float, tail: float) -> tuple[float, float]:
    """``(start, end)`` in seconds from ``--start``/``--end``/``--duration``, checked."""
    start = args.start
    if not (math.isfinite(start) and 0 <= start <= duration):
        raise ValueError(f"--start: {start:g} is not in 0..{duration:.2f} s (the score's length)")
    if args.duration is not None:
        if not (math.isfinite(args.duration) and args.duration > 0):
            raise ValueError(f"--duration: {args.duration:g} must be more than 0 seconds")
        end = start + args.duration
    elif args.end is not None:
        end = args.end
        if not (math.isfinite(end) and end > start):
            raise ValueError(f"--end: {end:g} must come after --start ({start:g} s)")
    else:
        end = max(duration + tail, start + tail)
    if end - start > MAX_LENGTH_S:
        raise ValueError(f"the clip would last {_hms(end - start)} (the score: {_hms(duration)})"
                         f"; videos are limited to {_hms(MAX_LENGTH_S)}: choose a part with "
                         "--start and --end or --duration")
    return start, end


def cmd_video(args: argparse.Namespace) -> int:
    """Render a score (or ``--start``..``--end`` of it) to an MP4 with its audio."""
    from mos_lab.audio import SoundFontBank
    from mos_lab.engine.engine import TAIL_S
    from mos_lab.theater import View, open_renderer
    from mos_lab.theater.export import AudioStream, export_video, frame_count

    output_file(args.output, (".mp4", ".m4v", ".mov"), "a video")
    if not 8_000 <= args.sample_rate <= 192_000:
        raise CliError(f"--sample-rate: {args.sample_rate} is not in 8000..192000")
    score = load_input(args.file)
    t0 = time.perf_counter()
    _warnings(score, sys.stderr)
    view = View.parse(args.size, "portrait" if args.portrait else "landscape")
    start, end = _clip(args, score.duration, TAIL_S)
    if not (math.isfinite(args.fps) and 0 < args.fps <= 240):
        raise ValueError(f"--fps: {args.fps:g} is not in (0, 240]")
    seconds = frame_count(start, end, args.fps) / args.fps
    bar = ProgressBar(f"video {Path(args.file).name}")
    prog = VideoProgress(bar, audio=not args.no_audio)
    audio: Any = None
    if args.audio:
        audio, what = args.audio, f"audio: {args.audio}"
    elif not args.no_audio:
        bank = SoundFontBank.load(args.soundfont) if args.soundfont else None
        audio = AudioStream(engine_audio(score, start, seconds, sample_rate=args.sample_rate,
                                         bank=bank, progress=prog.on_audio), args.sample_rate)
        what = f"audio: engine, {args.sample_rate} Hz"
    else:
        what = "no audio"
    r = open_renderer(args.renderer)
    try:
        _renderer_line(r, sys.stderr)
        path = export_video(score, args.output, view, fps=args.fps, audio=audio,
                            start=start, end=end, renderer=r, span=args.span,
                            progress=prog.on_frame)
    finally:
        r.close()
        bar.close()
    took = time.perf_counter() - t0
    print(f"{path}: {view.width}x{view.height} at {args.fps:g} fps, {start:g}..{end:g} s "
          f"({seconds:.1f} s, {what}) in {took:.1f} s, {seconds / max(took, 1e-9):.1f}x "
          "real time")
    return 0


def _common(p: argparse.ArgumentParser, size: str) -> None:
    p.add_argument("file", help="score to draw (.mid, .abc, .json, .musicxml, ...)")
    p.add_argument("-o", "--output", required=True, help="the file to write (by extension)")
    p.add_argument("--size", default=size, help="WxH, 720p, 1080p, 1440p, 4k or 8k")
    p.add_argument("--portrait", action="store_true", help="falling notes, keyboard at bottom")
    p.add_argument("--span", type=float, default=None, help="seconds of music visible")
    p.add_argument("--renderer", choices=("auto", "gpu", "cpu"), default="auto")


def register(subparsers: Any) -> None:
    """Add ``frame`` and ``video`` to the ``mos-lab`` sub-command parsers."""
    fr = subparsers.add_parser(
        "frame", help="render the theater at a time to a PNG or JPEG",
        description="Render the theater centred on --time (0 to the score's length) to an "
                    "image; the format follows the extension (.png, .jpg, .jpeg).")
    _common(fr, "1080p")
    fr.add_argument("--time", type=float, default=0.0, help="seconds; the view is centred here")
    fr.add_argument("--max-texture", type=int, default=None,
                    help="cap the GPU texture size (larger images are tiled)")
    fr.set_defaults(run=cmd_frame)
    vi = subparsers.add_parser(
        "video", help="render the theater to an MP4 video with the score's audio",
        description="Render the theater, synced to the score's time, to an MP4 (H.264) with "
                    "the engine's audio (AAC). The whole score plus the release tail by "
                    "default; --start/--end/--duration pick a part.")
    _common(vi, "1080p")
    vi.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    vi.add_argument("--start", type=float, default=0.0, help="first second of the clip")
    part = vi.add_mutually_exclusive_group()
    part.add_argument("--end", type=float, default=None,
                      help="last second of the clip (default: the score's end + 3 s tail)")
    part.add_argument("--duration", type=float, default=None,
                      help="seconds of video from --start (instead of --end)")
    sound = vi.add_mutually_exclusive_group()
    sound.add_argument("--audio", default=None,
                       help="a WAV of the whole score to mux in instead of the engine's render")
    sound.add_argument("--no-audio", action="store_true", help="a silent video")
    vi.add_argument("--sample-rate", type=int, default=48_000, help="of the rendered audio")
    vi.add_argument("--soundfont", default=None, help="an .sf2 file for the instruments")
    vi.set_defaults(run=cmd_video)
