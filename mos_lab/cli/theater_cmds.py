"""``mos-lab frame`` and ``mos-lab video``: stills and videos of a score from the theater.

The lead wires ``register(subparsers)`` into ``mos_lab.cli``. Each command says on
stderr which renderer drew (wgpu adapter or the CPU fallback and why).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any, TextIO


def _quiet_vulkan() -> None:
    """Give Mesa a valid XDG_RUNTIME_DIR so it does not print a warning per process."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        path = os.path.join(tempfile.gettempdir(), f"mos-lab-xdg-{os.getuid()}")
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = path


def _renderer_line(r: Any, out: TextIO) -> None:
    print(f"renderer: {r.name} ({r.description})", file=out)


class ProgressBar:
    """A one-line progress bar on a terminal; silent when stderr is not one."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.label = label
        self.enabled = self.stream.isatty()
        self.t0 = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and done < total):
            return
        self._last = now
        frac = done / max(total, 1)
        bar = "#" * int(frac * 30)
        rate = done / max(now - self.t0, 1e-9)
        eta = (total - done) / rate if rate > 0 else 0.0
        self.stream.write(f"\r{self.label} [{bar:<30}] {done}/{total} {rate:5.1f} fps "
                          f"eta {eta:5.1f} s")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def cmd_frame(args: argparse.Namespace) -> int:
    """Render one still (centred on ``--time``) to a PNG."""
    _quiet_vulkan()
    import mos_lab
    from mos_lab.theater import View, export_frame, open_renderer

    score = mos_lab.load(args.file)
    view = View.parse(args.size, "portrait" if args.portrait else "landscape")
    r = open_renderer(args.renderer, max_texture=args.max_texture)
    try:
        _renderer_line(r, sys.stderr)
        path = export_frame(score, args.output, args.time, view, renderer=r, span=args.span)
    finally:
        r.close()
    print(f"{path}: {view.width}x{view.height} at {args.time:g} s")
    return 0


def cmd_video(args: argparse.Namespace) -> int:
    """Render the score to an MP4, audio muxed in when ``--audio`` is given."""
    _quiet_vulkan()
    import mos_lab
    from mos_lab.theater import View, export_video, open_renderer

    score = mos_lab.load(args.file)
    view = View.parse(args.size, "portrait" if args.portrait else "landscape")
    r = open_renderer(args.renderer)
    try:
        _renderer_line(r, sys.stderr)
        path = export_video(score, args.output, view, fps=args.fps, audio=args.audio,
                            start=args.start, end=args.end, renderer=r, span=args.span,
                            progress=ProgressBar("video"))
    finally:
        r.close()
    print(f"{path}: {view.width}x{view.height} at {args.fps:g} fps")
    return 0


def _common(p: argparse.ArgumentParser, size: str) -> None:
    p.add_argument("file", help="score to draw (.mid, .json, ...)")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--size", default=size, help="WxH, 720p, 1080p, 1440p, 4k or 8k")
    p.add_argument("--portrait", action="store_true", help="falling notes, keyboard at bottom")
    p.add_argument("--span", type=float, default=None, help="seconds of music visible")
    p.add_argument("--renderer", choices=("auto", "gpu", "cpu"), default="auto")


def register(subparsers: Any) -> None:
    """Add ``frame`` and ``video`` to the ``mos-lab`` sub-command parsers."""
    fr = subparsers.add_parser("frame", help="render the theater at a time to a PNG")
    _common(fr, "1080p")
    fr.add_argument("--time", type=float, default=0.0, help="seconds; the view is centred here")
    fr.add_argument("--max-texture", type=int, default=None,
                    help="cap the GPU texture size (larger images are tiled)")
    fr.set_defaults(run=cmd_frame)
    vi = subparsers.add_parser("video", help="render the theater to an MP4 video")
    _common(vi, "1080p")
    vi.add_argument("--fps", type=float, default=30.0)
    vi.add_argument("--audio", default=None, help="WAV file to mux in")
    vi.add_argument("--start", type=float, default=0.0, help="seconds")
    vi.add_argument("--end", type=float, default=None, help="seconds (default: end + 1 s)")
    vi.set_defaults(run=cmd_video)
