"""``mos-lab analyze``: RomanText and JSON out, RomanText files in, clear errors."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from mos_lab.cli import main
from mos_lab.score import Score


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["analyze", *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cadence(tmp_path: Path) -> Path:
    """I IV V7 I in C, half-note block chords, as a MIDI file."""
    chords = [[48, 64, 67, 72], [53, 65, 69, 72], [43, 65, 71, 74], [48, 64, 67, 72]]
    rows = [(i * 960, 960, p, 80) for i, ch in enumerate(chords) for p in ch]
    return Score.from_notes(rows).save(tmp_path / "cadence.mid")


def test_romantext_is_the_default_and_reads_back(cadence: Path) -> None:
    code, out, _ = run(str(cadence), "--romantext")
    assert code == 0
    assert "m1 C: I b3 IV" in out and "m2 V7 b3 I" in out
    assert run(str(cadence))[1] == out


def test_json_has_one_record_per_segment(cadence: Path) -> None:
    code, out, _ = run(str(cadence), "--json")
    assert code == 0
    records = json.loads(out)
    assert [r["numeral"] for r in records] == ["I", "IV", "V7", "I"]
    first = records[0]
    for field in ("onset", "measure", "beat", "key", "numeral", "chord", "root", "quality",
                  "inversion", "non_chord_tones", "cadence"):
        assert field in first
    assert records[-1]["cadence"] == "PAC" and records[2]["chord"] == "G7"
    assert records[1]["onset"] == pytest.approx(1.0)  # 120 BPM: a half note is 1 s


def test_a_romantext_file_is_read_as_an_analysis(tmp_path: Path) -> None:
    f = tmp_path / "a.rntxt"
    f.write_text("Time Signature: 3/4\nm0 b3 G: I\nm1 V6/5/V b3 V\n")
    code, out, _ = run(str(f), "--json")
    assert code == 0 and [r["chord"] for r in json.loads(out)] == ["G", "A7/C#", "D"]
    bad = tmp_path / "bad.rntxt"
    bad.write_text("Time Signature: 3/4\nm1 G: I Xyz\n")
    code, _, err = run(str(bad))
    assert code == 2 and "line 2" in err and "Xyz" in err


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    code, out, err = run(str(tmp_path / "nope.mid"))
    assert code == 2 and not out and len(err.strip().splitlines()) == 1


def test_voice_leading_prints_a_json_list(cadence: Path) -> None:
    code, out, err = run(str(cadence), "--voice-leading", "--json")
    assert code == 0, err
    findings = json.loads(out)
    assert isinstance(findings, list)
    for f in findings:
        assert {"rule", "measure", "beat", "voices"} <= set(f)
