"""Stills and videos of a score: PNG frames (tiled above the texture limit) and MP4.

Video frames are rendered at the score's own time (frame k shows ``k / fps`` seconds)
and piped to the ffmpeg binary that imageio-ffmpeg ships; audio, given as a WAV path or
a numpy array, is muxed in as AAC.
"""

from __future__ import annotations

import os
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mos_lab.score import Score
from mos_lab.theater.encode import save_png
from mos_lab.theater.render import Renderer, open_renderer
from mos_lab.theater.scene import Orientation, Scene, View

Progress = Callable[[int, int], None]


def _scene(score: Score | Scene, span: float | None) -> Scene:
    scene = score if isinstance(score, Scene) else Scene(score)
    if span is not None:
        scene.set_span(span)
    return scene


def render_frame(score: Score | Scene, time: float, view: View | str = "1080p", *,
                 renderer: Renderer | None = None, span: float | None = None,
                 centred: bool = True, orientation: Orientation = "landscape") -> np.ndarray:
    """The RGBA image of the view at ``time`` seconds (centred on it unless told not to)."""
    if isinstance(view, str):
        view = View.parse(view, orientation)
    scene = _scene(score, span)
    state = scene.with_playhead(time)
    if centred:
        from dataclasses import replace

        state = replace(state, lead=0.5)
    own = renderer is None
    r = renderer or open_renderer()
    try:
        return r.render(state, view)
    finally:
        if own:
            r.close()


def export_frame(score: Score | Scene, path: str | Path, time: float,
                 view: View | str = "1080p", **kw: object) -> Path:
    """Render one still to a PNG file."""
    img = render_frame(score, time, view, **kw)  # type: ignore[arg-type]
    return save_png(img, path)


def _write_wav(audio: np.ndarray, sample_rate: int, path: str) -> None:
    a = np.asarray(audio, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] > 8:
        raise ValueError(f"audio: shape {a.shape} is not (frames,) or (frames, channels)")
    pcm = (np.clip(a, -1.0, 1.0) * 32767).round().astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(a.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())


def export_video(score: Score | Scene, path: str | Path, view: View | str = "1080p", *,
                 fps: float = 30.0, audio: str | Path | np.ndarray | None = None,
                 sample_rate: int = 48_000, start: float = 0.0, end: float | None = None,
                 renderer: Renderer | None = None, span: float | None = None,
                 progress: Progress | None = None) -> Path:
    """Render ``start..end`` seconds (default: the whole score plus a second) to MP4.

    ``audio`` is a WAV path or a float array in -1..1 (``sample_rate``); it is muxed in.
    ``progress(done, total)`` is called after each frame.
    """
    import imageio_ffmpeg

    if isinstance(view, str):
        view = View.parse(view)
    if view.width % 2 or view.height % 2:
        raise ValueError(f"video size: {view.width}x{view.height} must be even (yuv420p)")
    if not fps > 0:
        raise ValueError(f"fps: {fps} must be positive")
    scene = _scene(score, span)
    stop = scene.score.duration + 1.0 if end is None else end
    n = max(1, int(np.ceil((stop - start) * fps)))
    out = Path(path)
    tmp_wav: str | None = None
    audio_path: str | None = None
    if isinstance(audio, np.ndarray):
        fd, tmp_wav = tempfile.mkstemp(suffix=".wav")
        os.close(fd)
        _write_wav(audio, sample_rate, tmp_wav)
        audio_path = tmp_wav
    elif audio is not None:
        if not Path(audio).is_file():
            raise FileNotFoundError(f"audio: {audio} not found")
        audio_path = str(audio)
    own = renderer is None
    r = renderer or open_renderer()
    writer = imageio_ffmpeg.write_frames(
        str(out), view.size, fps=fps, codec="libx264", pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p", quality=7, macro_block_size=2,
        audio_path=audio_path, audio_codec="aac" if audio_path else None,
        ffmpeg_log_level="error")
    try:
        writer.send(None)
        for k in range(n):
            state = scene.with_playhead(start + k / fps)
            img = r.render(state, view)
            writer.send(np.ascontiguousarray(img[..., :3]))
            if progress is not None:
                progress(k + 1, n)
    finally:
        writer.close()
        if own:
            r.close()
        if tmp_wav:
            os.unlink(tmp_wav)
    return out
