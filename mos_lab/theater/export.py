"""Stills and videos of a score: PNG frames (tiled above the texture limit) and MP4.

Video frames are rendered at the score's own time (frame k shows ``start + k / fps``
seconds) and piped to the ffmpeg binary that imageio-ffmpeg ships (H.264). Audio is a
WAV path or an array covering the score from 0 s, or an ``AudioStream`` of blocks made
while the frames render (the engine's offline render, in the CLI): its blocks are
encoded to AAC by a second ffmpeg in a thread, so audio and video use two cores and
memory stays bounded however long the piece. The two streams are then muxed (copied,
not re-encoded) into a temporary file that replaces ``path`` only when all went well.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
import threading
import wave
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO

import numpy as np

from mos_lab.score import MissingDependencyError, Score
from mos_lab.theater.encode import save_png
from mos_lab.theater.render import Renderer, open_renderer
from mos_lab.theater.scene import Orientation, Scene, View

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class AudioStream:
    """Audio of the clip itself (from ``start``), produced block by block while it renders.

    ``blocks`` yields float arrays ``(frames, channels)`` in -1..1; iteration runs in a
    worker thread, so a generator may do real work (the engine's synth) on a second core.
    """

    blocks: Iterable[np.ndarray]
    sample_rate: int = 48_000
    channels: int = 2


class VideoError(RuntimeError):
    """ffmpeg failed or the audio source broke; the message says which and why."""


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


def frame_count(start: float, end: float, fps: float) -> int:
    """Frames of a clip from ``start`` to ``end`` seconds (at least one): its length is n / fps."""
    return max(1, math.ceil((end - start) * fps - 1e-9))


# -- ffmpeg ---------------------------------------------------------------------------------
def _ffmpeg_exe() -> str:
    """The ffmpeg binary that imageio-ffmpeg ships, or which extra to install."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise MissingDependencyError("imageio-ffmpeg", "video", "Writing video") from None
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _ffmpeg(args: list[str], *, stdin: bool = False) -> subprocess.Popen[bytes]:
    cmd = [_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           *([] if stdin else ["-nostdin"]), *args]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen[bytes], what: str, timeout: float | None = None) -> None:
    """Wait for ffmpeg; raise with its last error line when it failed."""
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise VideoError(f"{what}: ffmpeg did not finish in {timeout:g} s") from None
    if proc.returncode != 0:
        lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
        raise VideoError(f"{what}: ffmpeg failed ({lines[-1] if lines else proc.returncode})")


def _kill(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.communicate()


def _write(pipe: IO[bytes] | None, data: bytes | memoryview) -> None:
    assert pipe is not None
    pipe.write(data)


def _rgba(img: np.ndarray) -> np.ndarray:
    """The frame as contiguous RGBA bytes (renderers give RGBA; RGB gets opaque alpha)."""
    if img.ndim == 3 and img.shape[2] == 3:
        img = np.concatenate([img, np.full((*img.shape[:2], 1), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(img, dtype=np.uint8)


def _array_blocks(audio: np.ndarray, rate: int, start: float, seconds: float,
                  block: int = 1 << 16) -> Iterator[np.ndarray]:
    """``start .. start + seconds`` of an array that covers the score from 0 s."""
    a = np.asarray(audio)
    a = a[:, None] if a.ndim == 1 else a
    lo = min(len(a), max(0, round(start * rate)))
    hi = min(len(a), lo + math.ceil(seconds * rate))
    for pos in range(lo, hi, block):
        yield a[pos:min(hi, pos + block)]


class _AudioEncoder:
    """Pulls an ``AudioStream`` in a thread and encodes it to AAC in ``path``."""

    def __init__(self, audio: AudioStream, path: Path, seconds: float) -> None:
        if not 1 <= audio.channels <= 8:
            raise ValueError(f"audio: {audio.channels} channels is not 1..8")
        if not 1_000 <= audio.sample_rate <= 384_000:
            raise ValueError(f"audio: sample rate {audio.sample_rate} is not 1000..384000")
        self.audio, self.path = audio, path
        self.limit = math.ceil(seconds * audio.sample_rate)  # frames the clip can hold
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name="mos-lab-video-audio",
                                        daemon=True)

    def start(self) -> _AudioEncoder:
        self._proc = _ffmpeg(["-f", "f32le", "-ar", str(self.audio.sample_rate),
                              "-ac", str(self.audio.channels), "-i", "pipe:0",
                              "-c:a", "aac", "-b:a", "192k", str(self.path)], stdin=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        proc, ch, done = self._proc, self.audio.channels, 0
        assert proc is not None
        try:
            for blk in self.audio.blocks:
                if self._stop.is_set() or done >= self.limit:
                    break
                a = np.asarray(blk, dtype=np.float32)
                a = a[:, None] if a.ndim == 1 else a
                if a.ndim != 2 or a.shape[1] != ch:
                    raise ValueError(f"audio: a block of shape {a.shape} is not (frames, {ch})")
                if not np.isfinite(a).all():
                    raise ValueError("audio: a block holds NaN or infinite samples")
                a = a[: self.limit - done]
                _write(proc.stdin, np.ascontiguousarray(np.clip(a, -1.0, 1.0)).data)
                done += len(a)
        except BrokenPipeError:
            pass  # ffmpeg died: _finish reports its message
        except BaseException as exc:  # reported to the caller by join()
            self.error = exc
            _kill(proc)
            return
        try:
            _finish(proc, "audio")
        except VideoError as exc:
            self.error = exc

    def join(self) -> None:
        """Wait for the audio; raise what went wrong in the thread."""
        self._thread.join()
        if self.error is not None:
            if isinstance(self.error, VideoError | ValueError):
                raise self.error
            raise VideoError(f"audio: {self.error}") from self.error

    def cancel(self) -> None:
        self._stop.set()
        _kill(self._proc)
        self._thread.join(timeout=10)


def export_video(score: Score | Scene, path: str | Path, view: View | str = "1080p", *,
                 fps: float = 30.0, audio: str | Path | np.ndarray | AudioStream | None = None,
                 sample_rate: int = 48_000, start: float = 0.0, end: float | None = None,
                 renderer: Renderer | None = None, span: float | None = None,
                 progress: Progress | None = None, crf: int = 20,
                 preset: str = "superfast") -> Path:
    """Render ``start..end`` seconds (default: the whole score plus a second) to MP4.

    ``audio``: a WAV path or a float array in -1..1 (``sample_rate``) covering the score
    from 0 s (the clip's part is used), or an ``AudioStream`` of the clip itself.
    ``progress(done, total)`` is called after each frame. ``path`` is written only when
    everything succeeded (a failed render leaves no half file behind). A portrait view of
    a score puts the playhead on the keyboard (pass a ``Scene`` to choose otherwise).
    """
    if isinstance(view, str):
        view = View.parse(view)
    if view.width % 2 or view.height % 2:
        raise ValueError(f"video size: {view.width}x{view.height} must be even (yuv420p)")
    if not (math.isfinite(fps) and 0 < fps <= 240):
        raise ValueError(f"fps: {fps} is not in (0, 240]")
    scene = _scene(score, span)
    if view.orientation == "portrait" and not isinstance(score, Scene):
        # falling notes: they sound (and light their keys) as they reach the keyboard
        scene.set_span(scene.snapshot().span, lead=0.0)
    stop = scene.score.duration + 1.0 if end is None else end
    if not (math.isfinite(start) and math.isfinite(stop) and stop > start):
        raise ValueError(f"clip: end ({stop:g} s) must come after start ({start:g} s)")
    n = frame_count(start, stop, fps)
    seconds = n / fps
    out = Path(path)
    if out.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise ValueError(f"output: '{out.suffix}' is not .mp4 (or .m4v, .mov)")
    wav: Path | None = None
    if isinstance(audio, np.ndarray):
        audio = AudioStream(_array_blocks(audio, sample_rate, start, seconds), sample_rate,
                            1 if audio.ndim == 1 else int(audio.shape[1]))
    elif audio is not None and not isinstance(audio, AudioStream):
        wav = Path(audio)
        if not wav.is_file():
            raise FileNotFoundError(f"audio: {audio} not found")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"output: folder {out.parent} does not exist")
    _ffmpeg_exe()  # a missing extra is said before any thread or file is made
    tmp = Path(tempfile.mkdtemp(prefix=".mos-lab-video-", dir=out.parent))
    rate = Fraction(fps).limit_denominator(1001)
    own = renderer is None
    r: Renderer | None = None
    enc = _AudioEncoder(audio, tmp / "audio.m4a", seconds) if isinstance(
        audio, AudioStream) else None
    video: subprocess.Popen[bytes] | None = None
    try:
        r = renderer or open_renderer()
        if enc is not None:
            enc.start()
        video = _ffmpeg(["-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{view.width}x"
                         f"{view.height}", "-framerate", f"{rate.numerator}/{rate.denominator}",
                         "-i", "pipe:0", "-an", "-c:v", "libx264", "-preset", preset,
                         "-crf", str(int(crf)), "-pix_fmt", "yuv420p",
                         str(tmp / "video.mp4")], stdin=True)
        for k in range(n):
            img = _rgba(r.render(scene.with_playhead(start + k / fps), view))
            try:
                _write(video.stdin, img.data)  # RGBA as drawn: ffmpeg drops alpha, no copy
            except BrokenPipeError:
                break  # ffmpeg died: _finish says why
            if progress is not None:
                progress(k + 1, n)
        _finish(video, "video")
        if enc is not None:
            enc.join()
        _mux(tmp, out, enc is not None, wav, start, seconds)
    except BaseException:
        if enc is not None:
            enc.cancel()
        _kill(video)
        raise
    finally:
        if own and r is not None:
            r.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _mux(tmp: Path, out: Path, encoded: bool, wav: Path | None, start: float,
         seconds: float) -> None:
    """Put the video and its audio into one MP4 (streams copied), then move it to ``out``."""
    final = tmp / ("final" + out.suffix)
    args = ["-i", str(tmp / "video.mp4")]
    if encoded:
        args += ["-i", str(tmp / "audio.m4a"), "-c:a", "copy"]
    elif wav is not None:
        args += ["-ss", f"{max(start, 0.0):.6f}", "-i", str(wav), "-c:a", "aac", "-b:a", "192k"]
    if encoded or wav is not None:
        args += ["-map", "0:v:0", "-map", "1:a:0", "-t", f"{seconds:.6f}"]
    _finish(_ffmpeg([*args, "-c:v", "copy", "-movflags", "+faststart", str(final)]), "mux")
    os.replace(final, out)
