"""Corpus: token arrays streamed file by file, split by piece, as numpy or torch."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CORPUS

pytest.importorskip("miditok")
from mos_lab.ai.data.corpus import Corpus
from mos_lab.ai.data.tokens import Tokenizer
from mos_lab.score import load

warnings.filterwarnings("ignore", module="miditok")

SMALL = ["issue78_dump_abc.mid", "issue90.mid"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few small corpus pieces, several copies under other names, and a broken file."""
    d = tmp_path_factory.mktemp("corpus")
    for i in range(12):
        shutil.copy(CORPUS / "midi" / SMALL[i % 2], d / f"piece{i:02d}.mid")
    (d / "sub").mkdir()
    (d / "sub" / "broken.mid").write_bytes(b"MThd\x00\x00")
    (d / "notes.txt").write_text("not a score")
    return d


def test_split_is_by_piece_and_stable(folder: Path) -> None:
    c = Corpus(folder, validation=0.25, seed=1)
    train, valid = set(c.files("train")), set(c.files("validation"))
    assert train and valid and not train & valid
    assert train | valid == set(c.files())
    assert all(p.suffix == ".mid" for p in train | valid)  # notes.txt is no score
    grown = Corpus([folder, CORPUS / "midi" / "one_track"], validation=0.25, seed=1)
    assert {f for f in grown.files("validation") if f.parent == folder} == valid
    assert set(Corpus(folder, validation=0.25, seed=2).files("validation")) != valid


def test_arrays_stream_and_skip_bad_files(folder: Path) -> None:
    tk = Tokenizer("TSD")
    c = Corpus(folder, tk, validation=0.0)
    got = dict(c.arrays("train"))
    assert len(got) == 12 and all(a.dtype == np.int64 and len(a) > 10 for a in got.values())
    one = tk.encode(load(folder / "piece00.mid"))
    assert np.array_equal(got[folder / "piece00.mid"], one.ids)
    assert list(c.skipped) == [str(folder / "sub" / "broken.mid")]
    it = c.arrays()  # lazy: nothing is read before the first item is asked for
    assert next(it)[0] == folder / "piece00.mid"


def test_windows_and_torch_dataset(folder: Path) -> None:
    torch = pytest.importorskip("torch")
    c = Corpus(folder, "REMI", validation=0.25, seed=1)
    wins = list(c.windows("validation", length=64, stride=32))
    assert wins and all(w.shape == (64,) for w in wins)
    ds = c.torch_dataset("validation", length=64, stride=32)
    batches = list(torch.utils.data.DataLoader(ds, batch_size=4))
    assert sum(len(b) for b in batches) == len(wins)
    assert batches[0].dtype == torch.int64
    assert torch.equal(batches[0][0], torch.from_numpy(wins[0]))


def test_bad_split_and_share(folder: Path) -> None:
    with pytest.raises(ValueError):
        Corpus(folder, validation=1.5)
    with pytest.raises(ValueError):
        list(Corpus(folder).files("test"))
