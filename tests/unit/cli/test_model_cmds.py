"""``mos-lab train`` and ``mos-lab generate``: a tiny NotaGen trained in the test, resumed,
then generating ABC, MIDI and MusicXML with a seed; the shipped model; clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from mos_lab.cli import main  # noqa: E402
from mos_lab.score import load  # noqa: E402

TUNE = ("%Folk\n%Traditional\n%Voice\nL:1/8\nM:4/4\nV:1\nV:2\nK:G\n"
        "[V:1]GABc d2B2|[V:2]G,4 D,4|\n[V:1]c2A2 F4|[V:2]A,4 D,4|\n"
        "[V:1]GABc d2B2|[V:2]G,4 B,4|\n[V:1]c2A2 G4|][V:2]G,8|]\n")
TINY = ["--hidden", "64", "--patch-layers", "1", "--char-layers", "1", "--patch-length", "32",
        "--threads", "1"]


@pytest.fixture(autouse=True)
def keep_threads() -> Iterator[None]:
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-voice tune memorised by ``mos-lab train`` (interrupted at 20 steps, resumed)."""
    root = tmp_path_factory.mktemp("train")
    (root / "data").mkdir()
    (root / "data" / "tune.abc").write_text(TUNE)
    out = root / "run"
    args = ["train", str(root / "data"), "-o", str(out), "--lr", "0.01",
            "--checkpoint-every", "20", *TINY]
    n = torch.get_num_threads()
    try:
        assert main([*args, "--steps", "20"]) == 0
        assert torch.load(out / "last.pth", weights_only=True)["step"] == 20
        assert main([*args, "--steps", "45"]) == 0  # resumes at 20
    finally:
        torch.set_num_threads(n)
    return out


def test_train_writes_checkpoints_and_the_loss_curve(trained: Path) -> None:
    saved = torch.load(trained / "last.pth", weights_only=True)
    assert saved["step"] == 45 and len(saved["losses"]) == 45
    assert saved["losses"][-1] < saved["losses"][0] / 5
    assert (trained / "best.pth").is_file()
    assert (trained / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_generate_writes_abc_midi_and_musicxml_with_a_seed(trained: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    base = ["generate", "--model", str(trained / "last.pth"), "--prompt",
            "Folk_Traditional_Voice", "--bars", "4", "--seed", "3", "--temperature", "0.3"]
    for name in ("a.abc", "b.abc", "c.mid", "d.musicxml"):
        assert main([*base, "-o", str(tmp_path / name)]) == 0
    assert "4 bars (bars" in capsys.readouterr().err
    abc = (tmp_path / "a.abc").read_text()
    assert abc == (tmp_path / "b.abc").read_text()  # the seed repeats
    assert abc.startswith("X:1\n%Folk\n%Traditional\n%Voice\n")
    assert "[V:1]GABc d2B2|[V:2]G,4 D,4|" in abc
    for name in ("c.mid", "d.musicxml"):
        score = load(tmp_path / name)
        assert len(score.tracks) == 2 and score.n_notes >= 20


def test_generate_with_the_shipped_default_model(tmp_path: Path) -> None:
    out = tmp_path / "chorale.mid"
    assert main(["generate", "--period", "Baroque", "--composer", "Bach, Johann Sebastian",
                 "--instrumentation", "Choral", "--bars", "2", "--seed", "1",
                 "-o", str(out)]) == 0
    assert load(out).n_notes > 0


def test_errors_name_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.pth"
    assert main(["generate", "--model", str(missing), "-o", str(tmp_path / "x.abc")]) == 2
    assert str(missing) in capsys.readouterr().err
    assert main(["generate", "--prompt", "Baroque", "-o", str(tmp_path / "x.abc")]) == 2
    assert "period_composer_instrumentation" in capsys.readouterr().err
    assert main(["generate", "-o", str(tmp_path / "x.wav")]) == 2
    assert "'.wav'" in capsys.readouterr().err
    assert main(["train", "-o", str(tmp_path / "run")]) == 2
    assert "--music21" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "none"), "-o", str(tmp_path / "run")]) == 2
    assert "none" in capsys.readouterr().err


def test_train_init_fine_tunes_from_a_checkpoint(trained: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """--init starts from the given weights (sizes read from them): the first step's loss is
    the memorised tune's, not a fresh model's; a missing --init names the path."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "tune.abc").write_text(TUNE)
    out = tmp_path / "ft"
    assert main(["train", str(data), "-o", str(out), "--init", str(trained / "best.pth"),
                 "--steps", "3", "--lr", "1e-4", "--threads", "1"]) == 0
    fresh = torch.load(trained / "last.pth", weights_only=True)["losses"][0]
    tuned = torch.load(out / "last.pth", weights_only=True)
    assert tuned["config"]["hidden"] == 64 and tuned["losses"][0] < fresh / 5
    missing = tmp_path / "none.pth"
    assert main(["train", str(data), "-o", str(tmp_path / "x"), "--init", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
