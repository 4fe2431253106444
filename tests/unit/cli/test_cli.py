"""The mos-lab command line, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import mos_lab
from tests.conftest import corpus_files

ALL_MIDI = (corpus_files("midi", "one_track") + corpus_files("midi", "multitrack")
            + corpus_files("midi", "corrupted") + corpus_files("midi"))


def mos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mos_lab", *args], capture_output=True,
                          text=True, timeout=120)


def test_info_json_on_every_corpus_file():
    import contextlib
    import io

    from mos_lab.cli import main

    for path in ALL_MIDI:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["info", str(path), "--json"]) == 0
        data = json.loads(buf.getvalue())
        for key in ("notes", "tracks", "duration", "tempo_changes", "time_signatures", "warnings"):
            assert key in data, (path, key)
        if "corrupted" in str(path) and "EOF" not in path.name:
            assert data["warnings"], path


def test_validate_every_corpus_file():
    from mos_lab.cli import main

    for path in ALL_MIDI:
        assert main(["validate", str(path)]) == 0, path
        damaged = bool(mos_lab.load(path).warnings)
        assert main(["validate", "--strict", str(path)]) == int(damaged), path


def test_info_subprocess_human_and_json():
    path = corpus_files("midi", "multitrack")[0]
    out = mos("info", str(path))
    assert out.returncode == 0 and "notes" in out.stdout and "tempo:" in out.stdout
    data = json.loads(mos("info", str(path), "--json").stdout)
    assert data["notes"] > 0 and data["duration"] > 0


def test_validate_reports_each_problem_with_its_path(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "nvx1", "version": 1, "ticks_per_quarter": 480,
                               "tracks": [{"notes": [
                                   {"start": 0, "duration": -1, "pitch": 200, "velocity": 64}]}]}))
    out = mos("validate", str(bad))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines == [f"{bad}: tracks[0].notes[0].duration: -1 is below 0",
                     f"{bad}: tracks[0].notes[0].pitch: 200 is above 127"]
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("args", [
    ("info", "/no/such/file.mid"),
    ("convert", "/no/such/file.mid", "out.json"),
    ("info", __file__),
])
def test_failures_are_one_line_never_a_traceback(args, tmp_path):
    out = subprocess.run([sys.executable, "-m", "mos_lab", *args], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60)
    assert out.returncode != 0
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_convert_between_all_formats(tmp_path):
    for src in (corpus_files("midi", "one_track")[0], corpus_files("midi", "one_track")[-1]):
        for ext in ("json", "mid", "abc", "musicxml"):
            out = mos("convert", str(src), str(tmp_path / f"x.{ext}"))
            assert out.returncode == 0, out.stderr
            assert mos("validate", str(tmp_path / f"x.{ext}")).returncode == 0
    bad = mos("convert", str(src), str(tmp_path / "x.wav"))
    assert bad.returncode == 2 and "cannot write '.wav'" in bad.stderr
