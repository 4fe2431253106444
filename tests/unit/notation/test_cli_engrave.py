"""``mos-lab engrave``: one file per page, and one clear line (exit 2) when it cannot."""

from __future__ import annotations

from mos_lab.cli import main
from tests.unit.notation.conftest import make_score


def test_engrave_writes_one_svg_for_one_page(tmp_path, capsys):
    src = make_score([(i * 480, 480, 60 + i, 0) for i in range(8)]).save(tmp_path / "s.mid")
    assert main(["engrave", str(src), "-o", str(tmp_path / "out.svg")]) == 0
    assert (tmp_path / "out.svg").read_text().startswith("<svg")
    assert "wrote 1 page (out.svg)" in capsys.readouterr().out


def test_engrave_numbers_png_pages(tmp_path):
    rows = [(i * 240, 240, 60 + (i * 7) % 24, 0) for i in range(900)]
    src = make_score(rows).save(tmp_path / "long.mid")
    assert main(["engrave", str(src), "-o", str(tmp_path / "p.png"), "--scale", "0.5"]) == 0
    pngs = sorted(p.name for p in tmp_path.glob("p-*.png"))
    assert len(pngs) > 1 and "p-1.png" in pngs and not (tmp_path / "p.png").exists()


def test_a_score_without_notes_exits_2_with_the_reason(tmp_path, capsys):
    src = tmp_path / "empty.json"
    src.write_text('{"format": "nvx1", "version": 1, "ticks_per_quarter": 480, '
                   '"tracks": [{"name": "x", "notes": []}]}')
    code = main(["engrave", str(src), "-o", str(tmp_path / "e.svg")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "mos-lab engrave:" in err
    assert not list(tmp_path.glob("e*.svg"))


def test_unreadable_input_and_wrong_output_suffix_exit_2(tmp_path, capsys):
    assert main(["engrave", str(tmp_path / "missing.mid"), "-o", str(tmp_path / "o.svg")]) == 2
    assert "missing.mid: not found" in capsys.readouterr().err
    src = make_score([(0, 480, 60, 0)]).save(tmp_path / "s.mid")
    assert main(["engrave", str(src), "-o", str(tmp_path / "o.pdf")]) == 2
    assert ".svg, .png" in capsys.readouterr().err
