"""Stills and videos: every corpus file, the CLI commands, audio muxed into the MP4."""

from __future__ import annotations

import argparse
import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
from _theater_helpers import known_score

import mos_lab
from mos_lab.cli import theater_cmds
from mos_lab.theater import CPURenderer, View, export_frame, export_video
from mos_lab.theater.geometry import PALETTE

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


def test_progress_bar_draws_on_a_terminal_only():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = theater_cmds.ProgressBar("video", stream)
        for i in range(1, 11):
            bar(i, 10)
    assert "10/10" in tty.getvalue() and tty.getvalue().endswith("\n")
    assert pipe.getvalue() == ""
