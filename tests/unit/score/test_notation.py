"""ABC (abcMIDI via symusic) and MusicXML (music21) in and out."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

import mos_lab
from mos_lab.score import MissingDependencyError, ScoreError, interop, notation
from tests.conftest import corpus_files

ABC = corpus_files("abc", pattern="*.abc")


@pytest.mark.parametrize("path", ABC, ids=lambda p: p.name)
def test_every_abc_file_loads(path):
    score = mos_lab.load(path)
    assert score.n_notes > 10 and score.title
    assert score.key_signatures


def test_abc_round_trip_keeps_pitches(tmp_path):
    score = mos_lab.load(ABC[0])
    back = mos_lab.load(score.save(tmp_path / "t.abc"))
    assert back.notes["pitch"].tolist() == score.notes["pitch"].tolist()


def test_abc_without_tune_body_is_a_clear_error():
    with pytest.raises(ScoreError, match="no K:"):
        mos_lab.load(b"X:1\nT:nothing\n", format="abc")


def test_musicxml_round_trip_through_music21(tmp_path):
    score = mos_lab.Score.from_notes([(i * 480, 480, 60 + i, 80) for i in range(8)], title="Up")
    path = score.save(tmp_path / "up.musicxml")
    back = mos_lab.load(path)
    assert back.notes["pitch"].tolist() == list(range(60, 68))
    assert np.array_equal(back.tempo.ticks_to_seconds(back.notes["start"]),
                          score.tempo.ticks_to_seconds(score.notes["start"]))
    mxl = mos_lab.load(score.save(tmp_path / "up.mxl"))
    assert mxl.n_notes == 8


def test_music21_corpus_chorale_and_stream_interop():
    m21 = pytest.importorskip("music21")
    stream = m21.corpus.parse("bach/bwv66.6")
    score = interop.from_music21(stream)
    assert len(score.tracks) == 4 and score.n_notes > 100
    again = interop.to_music21(score)
    assert len(again.parts) == 4


def test_missing_music21_gives_install_hint(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "music21" or name.startswith("music21."):
            raise ImportError("No module named 'music21'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MissingDependencyError, match=r"pip install 'mos_lab\[notation\]'"):
        notation.music21()
