"""Stills and videos: every corpus file, the CLI commands, audio muxed into the MP4."""

from __future__ import annotations

import argparse
import io
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from _theater_helpers import known_score

import mos_lab
from mos_lab.cli import theater_cmds
from mos_lab.cli.progress import ProgressBar
from mos_lab.theater import View
from mos_lab.theater.cpu import CPURenderer
from mos_lab.theater.export import AudioStream, VideoError, export_frame, export_video
from mos_lab.theater.geometry import PALETTE
from mos_lab.theater.scene import Scene

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "midi" / "multitrack"
FILES = sorted(CORPUS.glob("*.mid"))


def read_png(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.gpu
@pytest.mark.skipif(not FILES, reason="shared corpus not found")
def test_a_frame_of_every_corpus_file(gpu, tmp_path):
    for f in FILES:
        score = mos_lab.load(f)
        out = export_frame(score, tmp_path / f"{f.stem}.png", score.duration / 2, "640x360",
                           renderer=gpu)
        img = read_png(out)
        notes = np.isin(img.reshape(-1, 3).view([("", np.uint8)] * 3).ravel(),
                        PALETTE.view([("", np.uint8)] * 3).ravel()).mean()
        assert img.shape == (360, 640, 3) and notes > 0.002, (f.name, notes)


def run_cli(*argv: str) -> int:
    p = argparse.ArgumentParser()
    theater_cmds.register(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    return args.run(args)


def probe(path: Path) -> str:
    import imageio_ffmpeg

    out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                         capture_output=True, text=True)
    return out.stderr


@pytest.mark.skipif(not FILES, reason="shared corpus not found")
def test_cli_frame_and_video_with_audio(tmp_path, capsys):
    f = str(FILES[0])
    assert run_cli("frame", f, "-o", str(tmp_path / "a.png"), "--time", "10", "--size",
                   "320x180", "--renderer", "cpu") == 0
    assert read_png(tmp_path / "a.png").shape == (180, 320, 3)
    wav = tmp_path / "a.wav"
    from mos_lab.theater.export import _write_wav

    _write_wav(np.sin(np.arange(48_000) / 48_000 * 2 * np.pi * 440) * 0.3, 48_000, str(wav))
    assert run_cli("video", f, "-o", str(tmp_path / "a.mp4"), "--size", "320x180", "--fps",
                   "10", "--end", "1", "--audio", str(wav), "--renderer", "cpu") == 0
    info = probe(tmp_path / "a.mp4")
    assert "Video: h264" in info and "Audio: aac" in info
    err = capsys.readouterr().err
    assert "renderer: cpu" in err


def test_video_frames_follow_score_time_and_accept_an_audio_array(tmp_path):
    import imageio_ffmpeg

    done = []
    path = export_video(known_score(), tmp_path / "k.mp4", View(160, 90), fps=8, end=2.0,
                        audio=np.zeros((96_000, 2)), renderer=CPURenderer(),
                        progress=lambda d, n: done.append((d, n)))
    assert done[-1] == (16, 16)
    frames, _secs = imageio_ffmpeg.count_frames_and_secs(str(path))
    assert frames == 16
    assert "Audio: aac" in probe(path)
    with pytest.raises(ValueError, match="even"):
        export_video(known_score(), tmp_path / "x.mp4", View(161, 90), renderer=CPURenderer())


def test_portrait_videos_put_the_playhead_on_the_keyboard(tmp_path):
    """Falling notes sound (and light their keys) as they reach the keyboard."""

    class Spy(CPURenderer):
        def __init__(self) -> None:
            super().__init__()
            self.leads: set[float] = set()

        def render(self, state, view):
            self.leads.add(state.lead)
            return super().render(state, view)

    for view, lead in ((View(90, 160, "portrait"), 0.0), (View(160, 90), 0.25)):
        spy = Spy()
        export_video(known_score(), tmp_path / "p.mp4", view, fps=4, end=1.0,
                     renderer=spy)
        assert spy.leads == {lead}
    scene = Scene(known_score(), lead=0.5)  # a scene keeps the lead it was given
    spy = Spy()
    export_video(scene, tmp_path / "s.mp4", View(90, 160, "portrait"), fps=4, end=1.0,
                 renderer=spy)
    assert spy.leads == {0.5}


def test_progress_bar_draws_on_a_terminal_only():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        prog = theater_cmds.VideoProgress(ProgressBar("video", stream), audio=True)
        for i in range(1, 11):
            prog.on_frame(i, 10)
        assert prog.bar.enabled == (stream is tty)
        prog.on_audio(1.0)  # the bar waits for the slower of frames and audio
        prog.bar.close()
    out = tty.getvalue()
    assert "10/10 frames" in out and "audio 100%" in out and out.endswith("\n")
    assert "100.0%" in out.split("\r")[-1] and "100.0%" not in out.split("\r")[-2]
    assert pipe.getvalue() == ""


def test_video_frame_k_shows_score_time_start_plus_k_over_fps(tmp_path):
    """Sync: each decoded frame is closest to the render at its own time, not a neighbour."""
    import imageio_ffmpeg

    r = CPURenderer()
    score, view, fps, start = known_score(), View(320, 180), 4.0, 0.5
    path = export_video(score, tmp_path / "s.mp4", view, fps=fps, start=start, end=3.5,
                        renderer=r, crf=12)
    # Decoded by a plain subprocess: imageio_ffmpeg.read_frames leaves its pipes to the
    # garbage collector when ffmpeg has already exited (a ResourceWarning, by chance).
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path),
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True, timeout=60).stdout
    frames = list(np.frombuffer(raw, np.uint8).reshape(-1, 180, 320, 3))
    assert len(frames) == 12
    scene = Scene(score)
    for k in (1, 5, 9):
        err = {dt: np.abs(frames[k].astype(int) - r.render(
            scene.with_playhead(start + k / fps + dt), view)[..., :3]).mean()
            for dt in (-1 / fps, 0.0, 1 / fps)}
        assert min(err, key=err.__getitem__) == 0.0 and err[0.0] < 3, err


def test_a_failing_audio_source_leaves_no_file_and_says_why(tmp_path):
    def blocks():
        yield np.zeros((4800, 2), np.float32)
        raise RuntimeError("synth exploded")

    out = tmp_path / "f.mp4"
    out.write_bytes(b"previous video")
    with pytest.raises(VideoError, match="audio: synth exploded"):
        export_video(known_score(), out, View(160, 90), fps=8, end=2.0, renderer=CPURenderer(),
                     audio=AudioStream(blocks(), 48_000))
    assert out.read_bytes() == b"previous video"  # replaced only when all went well
    with pytest.raises(ValueError, match=r"\(frames, 2\)"):
        export_video(known_score(), out, View(160, 90), fps=8, end=2.0, renderer=CPURenderer(),
                     audio=AudioStream(iter([np.zeros((100, 3))]), 48_000))
    with pytest.raises(ValueError, match="NaN"):
        export_video(known_score(), out, View(160, 90), fps=8, end=2.0, renderer=CPURenderer(),
                     audio=AudioStream(iter([np.full((100, 2), np.nan)]), 48_000))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.mp4"]  # no temporary left
    assert not [t for t in threading.enumerate() if t.name == "mos-lab-video-audio"]


def test_engine_audio_starts_at_the_clip_and_streams_in_blocks():
    from mos_lab.engine import render

    score = known_score()
    whole = render(score, sample_rate=16_000).array()
    part = np.concatenate(list(theater_cmds.engine_audio(score, 1.0, 2.0, sample_rate=16_000)))
    assert part.shape == (32_000, 2)
    # the note starting at 1.0 s sounds at once; once the release of the note the clip
    # cut off (0..1 s) has faded, the clip sounds exactly as the whole render there
    assert np.abs(part[:800]).max() > 0.2 * np.abs(whole).max()
    seg = whole[16_000:48_000]
    assert np.abs(part[8_000:] - seg[8_000:]).max() < 0.02 * np.abs(seg).max()
    assert np.abs(part[:8_000] - seg[:8_000]).max() > 0.02 * np.abs(seg).max()
