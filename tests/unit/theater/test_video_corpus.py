"""``mos-lab video`` on every file of the shared corpus, through the real CLI entry point.

Each file gives an MP4 whose length matches the clip asked for (the score plus the
release tail, or a window), with an H.264 and an AAC stream, frames that are drawn (not
blank, moving with the music) and the engine's audio (sounding where notes sound).
Short files run full length; long ones a window around a note chosen from the score,
so the suite stays fast. Small size, low fps and a low sample rate are the CLI's own
options. A damaged file is read as its plausible part (the MIDI reader stops a track
where it loses sync), so no corpus file claims an absurd length.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import mos_lab
from mos_lab.cli import main
from mos_lab.engine.engine import TAIL_S
from mos_lab.theater.export import frame_count
from tests.conftest import CORPUS

FILES = sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in (".mid", ".abc"))


@pytest.fixture(autouse=True)
def _corpus() -> None:
    """The test command provides the corpus: its absence is a failure, not a skip."""
    assert FILES, f"no .mid or .abc files under {CORPUS} (set MOS_LAB_CORPUS)"
W, H, FPS, RATE = 320, 180, 5.0, 16_000
FULL_UP_TO = 60.0  # seconds: shorter scores are rendered whole, longer ones a window
WINDOW = 6.0
SMALL = ("--size", f"{W}x{H}", "--fps", f"{FPS:g}", "--sample-rate", str(RATE))


@dataclass
class Probe:
    """What ffmpeg says about a file, and its decoded frames and audio."""

    duration: float
    info: str
    frames: np.ndarray  # (n, H, W, 3) uint8
    audio: np.ndarray  # mono float32 at 8 kHz


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def probe(path: Path) -> Probe:
    info = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True,
                          text=True).stderr
    m = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info)
    assert m, info
    duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    raw = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-f",
                          "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], capture_output=True,
                         check=True).stdout
    size = re.search(r"Video: h264.*?, (\d+)x(\d+)", info)
    assert size, info
    w, h = int(size[1]), int(size[2])
    frames = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
    pcm = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac",
                          "1", "-ar", "8000", "-f", "f32le", "pipe:1"], capture_output=True,
                         check=True).stdout
    return Probe(duration, info, frames, np.frombuffer(pcm, np.float32))


def plan(score: mos_lab.Score) -> tuple[tuple[str, ...], float, float]:
    """CLI options for a file, and the clip's start and end in score seconds."""
    if score.duration + TAIL_S <= FULL_UP_TO:
        return (), 0.0, score.duration + TAIL_S
    onsets = np.sort(np.asarray(score.tempo.ticks_to_seconds(score.notes["start"])))
    start = round(max(0.0, float(onsets[len(onsets) // 3]) - 1.0), 3)
    return ("--start", f"{start}", "--duration", f"{WINDOW:g}"), start, start + WINDOW


def sounding(score: mos_lab.Score, start: float, end: float) -> int:
    """Notes that sound somewhere in ``start .. end`` seconds."""
    n = score.notes
    on = np.asarray(score.tempo.ticks_to_seconds(n["start"]))
    off = np.asarray(score.tempo.ticks_to_seconds(n["start"] + n["duration"]))
    return int(((on < end) & (off > start)).sum())


def check_video(path: Path, score: mos_lab.Score, start: float, end: float,
                name: str) -> Probe:
    """The MP4 of ``start..end`` is what the CLI promises; returns the probe."""
    p = probe(path)
    n = frame_count(start, end, FPS)
    assert "Video: h264" in p.info and f"{W}x{H}" in p.info, (name, p.info)
    assert "Audio: aac" in p.info, (name, p.info)
    assert abs(p.duration - n / FPS) < 0.1, (name, p.duration, n / FPS)
    assert len(p.frames) == n, (name, len(p.frames), n)
    for k in (0, n // 2, n - 1):  # drawn: keyboard, grid, notes; never one flat colour
        f = p.frames[k].astype(np.int16)
        assert f.std() > 8 and len(np.unique(f.reshape(-1, 3) // 16, axis=0)) > 4, (name, k)
    heard = np.abs(p.audio).max() if len(p.audio) else 0.0
    assert abs(len(p.audio) / 8000 - n / FPS) < 0.1, (name, len(p.audio) / 8000, n / FPS)
    if sounding(score, start, end - TAIL_S if end - start > TAIL_S else end):
        assert heard > 1e-3, (name, heard)  # the engine's audio, not silence
        moved = np.abs(p.frames[0].astype(np.int16) - p.frames[-1]).mean()
        assert moved > 0.5, (name, moved)  # the roll scrolls with the score's time
    elif score.n_notes == 0:
        assert heard < 1e-4, (name, heard)
    return p


def test_video_of_every_corpus_file(tmp_path, capsys):
    for f in FILES:
        score = mos_lab.load(f)
        assert score.duration <= 6 * 3600, (f.name, score.duration)  # damage stays bounded
        extra, start, end = plan(score)
        out = tmp_path / f"{f.stem}.mp4"
        rc = main(["video", str(f), "-o", str(out), *SMALL, "--renderer", "cpu", *extra])
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err, (f.name, captured.err)
        for w in score.warnings[:10]:
            assert f"warning: {w}" in captured.err, (f.name, w)  # repairs are said
        assert rc == 0, (f.name, captured.err)
        assert f"{out}: {W}x{H} at {FPS:g} fps" in captured.out, captured.out
        check_video(out, score, start, end, f.name)
        out.unlink()


def test_the_corrupted_fifty_day_file_reads_as_its_plausible_part():
    """Issue104_Bizarre_Love_Triangle2.mid once read as 50 days of music: its garbage
    track is cut where the reader loses sync, leaving about 410 s, and the cut is said."""
    f = CORPUS / "midi" / "corrupted" / "Issue104_Bizarre_Love_Triangle2.mid"
    assert f.exists(), f"{f} missing from the corpus"
    score = mos_lab.load(f)
    assert 380.0 < score.duration < 440.0, score.duration
    assert score.n_notes > 0
    lost = [w for w in score.warnings if "lost sync" in w]
    assert lost and "dropped" in lost[0], score.warnings


def test_full_length_multitrack_video_on_the_default_renderer(tmp_path, capsys):
    f = CORPUS / "midi" / "multitrack" / "All The Small Things.mid"
    assert f.exists(), f"{f} missing from the corpus"
    score = mos_lab.load(f)
    out = tmp_path / "full.mp4"
    assert main(["video", str(f), "-o", str(out), "--size", f"{W}x{H}", "--fps", "2",
                 "--sample-rate", str(RATE)]) == 0
    p = probe(out)
    n = frame_count(0.0, score.duration + TAIL_S, 2.0)
    assert abs(p.duration - n / 2.0) < 0.1 and len(p.frames) == n
    assert "renderer: " in capsys.readouterr().err
    # the audio follows the music to the end: sound in every second where notes start,
    # then the release tail dies away to silence
    sec = np.abs(p.audio[: len(p.audio) // 8000 * 8000]).reshape(-1, 8000).max(axis=1)
    onsets = np.asarray(score.tempo.ticks_to_seconds(score.notes["start"]))
    starting = np.bincount(onsets.astype(int), minlength=len(sec))[: len(sec)]
    assert starting.sum() > 0.99 * score.n_notes
    assert all(sec[t] > 1e-3 for t in range(len(sec)) if starting[t]), sec
    assert sec[-1] < 1e-3 < sec[int(score.duration) - 2]


def test_files_that_cannot_load_fail_with_one_clear_line(tmp_path, capsys):
    (tmp_path / "bad.mid").write_bytes(b"hello, not MIDI")
    (tmp_path / "empty.mid").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a score")
    (tmp_path / "bad.json").write_text('{"format": "nvx1", "notes": [{"pitch": 300}]}')
    for name in ("missing.mid", "bad.mid", "empty.mid", "notes.txt", "bad.json"):
        out = tmp_path / "x.mp4"
        rc = main(["video", str(tmp_path / name), "-o", str(out), *SMALL])
        argv = [name]
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and not out.exists(), argv
        assert len([ln for ln in err if ln.startswith("mos-lab video:")]) == 1, err
        assert "Traceback" not in "\n".join(err)


@pytest.mark.parametrize(("opts", "says"), [
    (("--start", "-1"), "--start"),
    (("--start", "5", "--end", "5"), "--end"),
    (("--duration", "0"), "--duration"),
    (("--fps", "0"), "--fps"),
    (("--sample-rate", "100"), "--sample-rate"),
    (("--size", "321x180"), "even"),
    (("--audio", "/nonexistent.wav"), "not found"),
])
def test_bad_options_fail_with_one_clear_line(tmp_path, capsys, opts, says):
    f = FILES[0]
    out = tmp_path / "x.mp4"
    base = ["--size", f"{W}x{H}", "--fps", "5", "--renderer", "cpu", "--duration", "1"]
    argv = ["video", str(f), "-o", str(out), *base, *opts]
    if "--end" in opts or "--duration" in opts:
        argv.remove("--duration")
        argv.remove("1")
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and not out.exists()
    (line,) = [ln for ln in err.splitlines() if ln.startswith("mos-lab video:")]
    assert says in line, line
    assert not list(tmp_path.glob(".mos-lab-video-*"))  # no temporary left behind


def test_console_script_draws_a_progress_bar_on_a_terminal_only(tmp_path):
    """The installed ``mos-lab`` command, its stderr a terminal, then a pipe."""
    exe = Path(sys.executable).with_name("mos-lab")
    assert exe.exists(), "the mos-lab console script is not installed (pip install -e .)"
    f = CORPUS / "abc" / "rising_sun.abc"
    argv = [str(exe), "video", str(f), "-o", str(tmp_path / "t.mp4"), *SMALL,
            "--renderer", "cpu", "--duration", "4"]
    master, slave = os.openpty()
    try:
        proc = subprocess.run(argv, stderr=slave, stdout=subprocess.PIPE, timeout=120)
        os.close(slave)
        err = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            err += chunk
    finally:
        os.close(master)
    assert proc.returncode == 0, err
    text = err.decode()
    assert "\r" in text and "20/20 frames" in text and "audio 100%" in text, text
    assert "100.0%" in text and "Traceback" not in text
    piped = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and "\r" not in piped.stderr and "frames" not in piped.stderr
    assert "warning: " in piped.stderr and "renderer: cpu" in piped.stderr  # repairs said
    assert "t.mp4: 320x180 at 5 fps, 0..4 s (4.0 s, audio: engine, 16000 Hz)" in piped.stdout
