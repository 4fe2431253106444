"""``mos-lab metrics``: a JSON list under muspy's names, null where undefined, bad files as
error objects with exit status 2 while the other files are still measured."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from mos_lab.ai.data.metrics import MUSPY_METRICS, muspy_metrics
from mos_lab.cli import main
from mos_lab.score import Score, load


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["metrics", *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def song(tmp_path: Path) -> Path:
    rows = [(i * 480, 480, 60 + (i * 7) % 12, 80) for i in range(16)]
    return Score.from_notes(rows).save(tmp_path / "song.mid")


def test_json_list_under_muspy_names(song: Path) -> None:
    code, out, err = run(str(song), "--json")
    assert code == 0 and err == ""
    (rec,) = json.loads(out)
    assert rec["file"] == str(song)
    assert set(MUSPY_METRICS) <= set(rec)
    assert rec == {"file": str(song), **muspy_metrics(load(song))}
    assert rec["polyphony"] == 1.0 and rec["n_pitches_used"] == 12
    assert rec["drum_pattern_consistency"] is None  # no drums: muspy's NaN is null


def test_bad_files_are_error_objects_and_exit_2(song: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"not a midi file at all")
    code, out, _ = run(str(junk), str(song), str(tmp_path / "missing.mid"), "--json")
    assert code == 2
    recs = json.loads(out)
    assert [r["file"] for r in recs] == [str(junk), str(song), str(tmp_path / "missing.mid")]
    assert "error" in recs[0] and recs[0]["error"]
    assert "error" not in recs[1] and recs[1]["pitch_range"] == 11
    assert "not found" in recs[2]["error"]


def test_text_output_and_theory(song: Path) -> None:
    code, out, _ = run(str(song), "--theory")
    assert code == 0
    assert "pitch_class_entropy" in out and "key_clarity" in out


def test_measure_ticks_must_be_positive(song: Path) -> None:
    code, _, err = run(str(song), "--measure-ticks", "0")
    assert code == 2 and "--measure-ticks" in err
