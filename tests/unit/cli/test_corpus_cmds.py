"""``mos-lab corpus analyze``: a Parquet table that reads back, and a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("distributed")

from mos_lab.cli import main  # noqa: E402
from mos_lab.score import Score  # noqa: E402


def test_corpus_analyze_writes_a_parquet_table_that_reads_back(tmp_path: Path, capsys) -> None:
    src = tmp_path / "in"
    src.mkdir()
    Score.from_notes([(0, 960, 60, 80), (960, 960, 64, 80), (1920, 960, 67, 80)]).save(
        src / "good.mid")
    (src / "bad.mid").write_text("not midi")
    out = tmp_path / "t.parquet"
    assert main(["corpus", "analyze", str(src), "-o", str(out), "--workers", "1"]) == 0
    table = pd.read_parquet(out)
    assert sorted(Path(p).name for p in table["path"]) == ["bad.mid", "good.mid"]
    errors = dict(zip((Path(p).name for p in table["path"]), table["error"], strict=True))
    assert errors["good.mid"] == "" and errors["bad.mid"]
    assert "2 files, 1 with errors" in capsys.readouterr().err


def test_corpus_analyze_with_no_scheduler_exits_2_with_one_line(tmp_path: Path, capsys
                                                                ) -> None:
    (tmp_path / "a.mid").write_text("x")
    code = main(["corpus", "analyze", str(tmp_path), "-o", str(tmp_path / "t.parquet"),
                 "--scheduler", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("mos-lab corpus: no Dask scheduler answers at tcp://127.0.0.1:9")
    assert len(err.strip().splitlines()) == 1
