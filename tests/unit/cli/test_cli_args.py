"""mos-lab's arguments and exit codes, run as a user runs them (a subprocess where it
matters): 0 done, 1 invalid content, 2 usage error or unreadable input or cannot do it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mos_lab.cli import main
from mos_lab.cli.errors import describe
from mos_lab.score import Score
from tests.conftest import corpus_files

ROOT = Path(__file__).resolve().parents[3]


def mos(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mos_lab", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=env)


@pytest.fixture
def song(tmp_path: Path) -> Path:
    """A score of 3.92 s (eight notes) as a MIDI file."""
    path = tmp_path / "song.mid"
    Score.from_notes([(i * 480, 400, 60 + i, 100) for i in range(8)]).save(path)
    return path


def one_error_line(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"mos-lab {command}: "), lines
    return lines[0]


@pytest.mark.parametrize("time_s", ["-5", "99999", "nan", "4.5"])
def test_frame_time_outside_the_score_is_a_usage_error(song, tmp_path, capsys, time_s):
    out = tmp_path / "f.png"
    rc = main(["frame", str(song), "-o", str(out), "--time", time_s, "--renderer", "cpu",
               "--size", "320x180"])
    line = one_error_line(capsys.readouterr().err, "frame")
    assert rc == 2 and "--time" in line and "0..3.92 s" in line and not out.exists()


def test_video_start_outside_the_score_is_a_usage_error(song, tmp_path, capsys):
    out = tmp_path / "v.mp4"
    rc = main(["video", str(song), "-o", str(out), "--start", "99999", "--renderer", "cpu",
               "--size", "320x180"])
    line = one_error_line(capsys.readouterr().err, "video")
    assert rc == 2 and "--start" in line and "0..3.92 s" in line and not out.exists()


def test_frame_format_follows_the_extension_or_is_refused(song, tmp_path, capsys):
    base = ["--time", "2", "--renderer", "cpu", "--size", "320x180"]
    for name, magic in (("f.png", b"\x89PNG"), ("f.jpg", b"\xff\xd8\xff"),
                        ("f.JPEG", b"\xff\xd8\xff")):
        assert main(["frame", str(song), "-o", str(tmp_path / name), *base]) == 0
        assert (tmp_path / name).read_bytes()[:len(magic)] == magic, name
    capsys.readouterr()
    for name in ("f.bmp", "f"):
        assert main(["frame", str(song), "-o", str(tmp_path / name), *base]) == 2
        line = one_error_line(capsys.readouterr().err, "frame")
        assert "cannot write an image as" in line and ".png" in line
        assert not (tmp_path / name).exists()


def test_exit_codes_are_the_same_for_every_command(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not a midi file")
    missing = str(tmp_path / "missing.mid")
    for command in ("info", "validate", "convert", "render", "frame", "play"):
        extra = {"convert": [str(tmp_path / "x.json")], "render": ["-o", str(tmp_path / "x.wav")],
                 "frame": ["-o", str(tmp_path / "x.png")]}.get(command, [])
        out = mos(command, missing, *extra)
        line = one_error_line(out.stderr, command)
        assert out.returncode == 2 and line.endswith(f"{missing}: not found"), (command, line)
    assert mos("validate", str(bad)).returncode == 1  # invalid content
    assert mos("info", str(bad)).returncode == 2  # unreadable input
    assert mos("validate", str(tmp_path)).returncode == 2  # a folder is not a score
    assert mos("info").returncode == 2  # usage
    assert mos("info", str(corpus_files("midi", "one_track")[0])).returncode == 0


def test_help_documents_exit_codes_without_markup():
    top = mos("--help").stdout
    assert "exit status:" in top and "1    invalid content" in top
    assert "2    usage error, unreadable input" in top
    for command in ("", "info", "validate", "convert", "render", "play", "frame", "video"):
        text = mos(*([command] if command else []), "--help").stdout
        assert text and "``" not in text and ":func:" not in text and ":class:" not in text


def test_messages_name_the_users_file_never_errno_or_temporary_names(song, tmp_path):
    folder = tmp_path / "out.json"
    folder.mkdir()
    out = mos("convert", str(song), str(folder))
    line = one_error_line(out.stderr, "convert")
    assert out.returncode == 2 and line == f"mos-lab convert: cannot write {folder}: is a " \
        "folder, not a file"
    out = mos("convert", str(song), str(tmp_path / "no" / "x.json"))
    assert out.returncode == 2 and "folder" in out.stderr and "does not exist" in out.stderr
    assert describe(FileNotFoundError(2, "No such file or directory", "/x/a.mid")) == \
        "/x/a.mid: not found"
    assert describe(OSError("[Errno 28] No space left on device: '/x/.a.wav.part'")) == \
        "a temporary file: no space left on the disk"
    assert describe(RuntimeError("Error opening '/o/.song.mid.tmp': System error.")) == \
        "Error opening 'a temporary file': System error."
    assert "/tmp/song.mid" in describe(RuntimeError("/tmp/song.mid: bad"))


def test_info_text_and_json_number_channels_alike_and_show_the_key():
    path = corpus_files("midi", "one_track")[0].parent / "6338816_Etude No. 4.mid"
    text = mos("info", str(path)).stdout
    data = json.loads(mos("info", str(path), "--json").stdout)
    for i, t in enumerate(data["tracks"]):
        assert f"track {i}: " in text and f"channel {t['channel']})" in text
    assert "key signatures: C major at 0.00 s" in text
    drums = corpus_files("midi", "multitrack")[0]
    text = mos("info", str(drums)).stdout
    assert "(drums, channel 9)" in text  # General MIDI drums, as in --json and Score.notes
    issue = corpus_files("midi", "one_track")[0].parents[1] / "issue90.mid"
    assert "key signatures: Eb major at 0.00 s" in mos("info", str(issue)).stdout


@pytest.mark.seed("MGN-03")
def test_render_refuses_a_score_longer_than_the_limit_at_once(tmp_path, capsys):
    """A score whose last note is ~77 hours in (the largest MIDI delta time) is refused
    before anything is rendered or allocated; --max-hours raises the limit."""
    huge = tmp_path / "huge.mid"
    Score.from_notes([(0, 480, 60, 100), (0x0FFFFFFF, 480, 62, 100)]).save(huge)
    out = tmp_path / "huge.wav"
    t0 = time.perf_counter()
    assert main(["render", str(huge), "-o", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err, "render")
    assert time.perf_counter() - t0 < 2.0 and not out.exists()
    assert line.startswith("mos-lab render: 77 h 40 min of audio is over the limit of 6 h 00 min")
    assert "--max-hours" in line and "max_seconds" not in line
    small = tmp_path / "small.mid"
    Score.from_notes([(0, 4800, 60, 100)]).save(small)
    assert main(["render", str(small), "-o", str(out), "--max-hours", "0.001"]) == 2
    assert "limit of 3.6 s" in capsys.readouterr().err
    assert main(["render", str(small), "-o", str(tmp_path / "x.mp3")]) == 2
    assert "cannot write audio as '.mp3'" in capsys.readouterr().err
    from mos_lab.cli.audio_cmds import MAX_HOURS
    from mos_lab.engine.engine import MAX_RENDER_S

    assert MAX_HOURS * 3600 == MAX_RENDER_S


def test_render_streams_the_file_and_reports_it(song, tmp_path):
    out = mos("render", str(song), "-o", str(tmp_path / "s.flac"), "--sample-rate", "16000")
    assert out.returncode == 0, out.stderr
    audio, rate = sf.read(str(tmp_path / "s.flac"), dtype="float32")
    assert rate == 16000 and len(audio) == 62_667 + 3 * 16000 and np.abs(audio).max() > 0.05
    assert "wrote" in out.stdout and not list(tmp_path.glob(".*part"))


FAKE_SOUNDDEVICE = '''
"""A stand-in for sounddevice: FAKE_SD says what kind of device the machine has."""
import os, threading, time
import numpy as np

MODE = os.environ["FAKE_SD"]

def query_devices():
    if MODE == "none":
        return []
    return [{"name": "fake", "max_output_channels": 2, "max_input_channels": 0}]

class _Status:
    output_underflow = False

class OutputStream:
    def __init__(self, samplerate, blocksize, device, channels, dtype, latency, callback):
        self.rate, self.block, self.callback = samplerate, blocksize, callback
        self.stop_flag = threading.Event()
    def start(self):  # a stopped stream starts again, as sounddevice's does (parking)
        self.stop_flag = flag = threading.Event()
        if MODE == "silent":  # opens, never asks for audio (a device that is not there)
            return
        def run():
            n = 0
            while not flag.is_set():
                self.callback(np.zeros((self.block, 2), np.float32), self.block, None, _Status())
                n += 1
                if MODE == "dies" and n > 50:
                    return
                time.sleep(self.block / self.rate / 10)  # 10x real time
        threading.Thread(target=run, daemon=True).start()
    def stop(self):
        self.stop_flag.set()
    def close(self):
        pass
'''


@pytest.mark.seed("ENG-05")
@pytest.mark.parametrize(("mode", "code", "says"), [
    ("none", 2, "no audio output device found"),
    ("silent", 2, "took no audio"),
    ("dies", 2, "took no audio"),
    ("clocked", 0, "played to"),
])
def test_play_exits_2_when_no_device_takes_the_audio(song, tmp_path, mode, code, says):
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "sounddevice.py").write_text(FAKE_SOUNDDEVICE)
    env = dict(os.environ, FAKE_SD=mode,
               PYTHONPATH=os.pathsep.join([str(tmp_path / "fake"), str(ROOT)]))
    out = mos("play", str(song), env=env, timeout=90)
    assert out.returncode == code, (out.stdout, out.stderr)
    assert says in (out.stdout if code == 0 else out.stderr)
    if code:  # (a cold first run may say first that it is compiling)
        one_error_line("\n".join(ln for ln in out.stderr.splitlines()
                                 if "preparing audio" not in ln), "play")
    else:
        assert "played to 3.9 s" in out.stdout


def test_play_start_outside_the_score_is_a_usage_error(song):
    out = mos("play", str(song), "--start", "-1")
    assert out.returncode == 2 and "--start" in one_error_line(out.stderr, "play")
