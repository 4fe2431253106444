"""The built wheel, installed alone (no extras) into a clean virtual environment, as a user
adds mos_lab to their own Jupyter environment: the session and a widget, a render and a
theater frame work; what needs an extra says which one to install.

The environment is made once per set of core dependencies and Python version (under
``~/.cache/mos_lab/wheel-test``; pip takes what it can from its own cache) and the new
wheel is reinstalled into it on every run. A cold run (a fresh machine) takes about a
minute to install and another to compile the audio kernels once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tomllib
import wave
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SONG = ROOT / "examples" / "song.mid"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mos_lab" / "wheel-test"

CHECK = r"""
import json, sys
import mos_lab
from mos_lab.widgets import Player

session = mos_lab.session()
score = session.load(sys.argv[1])
player = Player()
out = {"module": mos_lab.__file__, "notes": len(score.notes),
       "duration": float(score.duration), "esm": len(str(player._esm)),
       "widget": type(player).__name__}
player.close()
print(json.dumps(out))
"""


def _key() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    spec = json.dumps([sys.version_info[:2], sorted(project["dependencies"])])
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 600,
         ok: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True,
                         timeout=timeout, stdin=subprocess.DEVNULL)
    if ok and out.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stdout[-3000:]}\n"
                    f"{out.stderr[-3000:]}")
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """(venv bin folder, environment, work folder) with only the wheel and its core deps."""
    work = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", str(work / "dist"), str(ROOT)], env, work)
    wheel = next((work / "dist").glob("mos_lab-*.whl"))
    venv = CACHE / _key()
    py = venv / "bin" / "python"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one test run at a time installs into it
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            _run([sys.executable, "-m", "venv", "--clear", str(venv)], env, work)
            _run([str(py), "-m", "pip", "install", "-q", str(wheel)], env, work, timeout=900)
            (venv / ".complete").touch()
        else:  # the same core dependencies: only mos_lab itself is new
            _run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
                  str(wheel)], env, work)
        _run([str(py), "-m", "pip", "check"], env, work)
    return venv / "bin", env, work


def test_the_wheel_alone_runs_a_widget_a_render_and_a_frame(installed):
    bin_, env, work = installed
    shutil.copy(SONG, work / "song.mid")
    listed = _run([str(bin_ / "python"), "-m", "pip", "list", "--format=json"], env, work)
    names = {p["name"].lower().replace("_", "-") for p in json.loads(listed.stdout)}
    assert not names & {"jupyterlab", "music21", "torch", "imageio-ffmpeg"}, names  # no extras

    # a render: the console script, the audio kernels, a WAV of the score's length
    _run([str(bin_ / "mos-lab"), "render", "song.mid", "-o", "song.wav"], env, work)
    with wave.open(str(work / "song.wav")) as w:
        rate, frames = w.getframerate(), w.getnframes()
        pcm = w.readframes(min(frames, rate * 4))
        width = w.getsampwidth()
    assert 19.9 < frames / rate < 24, frames / rate  # 19.99 s of notes plus the release tail
    if width == 2:
        peak = max(abs(v) for (v,) in struct.iter_unpack("<h", pcm)) / 32768
    else:
        peak = max(abs(v) for (v,) in struct.iter_unpack("<f", pcm))
    assert peak > 0.05, peak  # sound, not silence

    # a widget: the session loads the file, a Player is made (its ES module ships)
    out = _run([str(bin_ / "python"), "-c", CHECK, "song.mid"], env, work)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(got["module"]).is_relative_to(bin_.parent), got  # the wheel, not the checkout
    assert got["widget"] == "Player" and got["notes"] == 69 and got["esm"] > 1000, got

    # a frame: the theater draws a PNG (wgpu where an adapter exists, else numpy)
    _run([str(bin_ / "mos-lab"), "frame", "song.mid", "-o", "still.png", "--time", "5",
          "--size", "640x360"], env, work)
    png = (work / "still.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (640, 360)
    assert len(png) > 2000  # notes drawn, not a blank image


@pytest.mark.parametrize(("command", "extra"), [
    (["convert", "song.mid", "song.musicxml"], "notation"),
    (["video", "song.mid", "-o", "song.mp4", "--end", "1"], "video"),
])
def test_what_needs_an_extra_names_it(installed, command, extra):
    bin_, env, work = installed
    shutil.copy(SONG, work / "song.mid")
    out = _run([str(bin_ / "mos-lab"), *command], env, work, ok=False)
    assert out.returncode != 0
    assert f"pip install 'mos_lab[{extra}]'" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
