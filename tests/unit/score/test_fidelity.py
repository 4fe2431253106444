"""Round trips that keep what was read (issue 14, Fidelity), music21 as the oracle."""

from __future__ import annotations

import numpy as np
import pytest

import mos_lab
from mos_lab.score import ScoreError, interop, notation
from mos_lab.score.midi import read_midi

TUNE = "X:1\nT:{title}\nC:Trad.\nM:4/4\nL:1/8\nK:{key}\nABcd efga|gfed cBAG|\n"


def test_title_survives_midi_round_trip():
    score = mos_lab.Score.from_notes([(0, 480, 60, 80), (480, 480, 62, 80)], title="Étude")
    assert read_midi(score.to_midi_bytes()).title == "Étude"


@pytest.mark.parametrize("name", ["bach/bwv66.6", "bach/bwv112.5"])
def test_chorale_title_survives_musicxml_and_midi(tmp_path, name):
    m21 = pytest.importorskip("music21")
    score = interop.from_music21(m21.corpus.parse(name))
    assert score.title
    xml = score.save(tmp_path / "c.musicxml")
    assert mos_lab.load(xml).title == score.title
    md = m21.converter.parse(xml).metadata  # the oracle sees the title, and the composer
    assert score.title in (md.title, md.movementName)  # read (never a made-up "Music21")
    assert (md.composer or "") == score.composer
    assert mos_lab.load(score.save(tmp_path / "c.mid")).title == score.title


def test_abc_title_survives_round_trip():
    score = notation.read_abc(TUNE.format(title="Morning", key="G"))
    assert notation.read_abc(notation.write_abc(score)).title == "Morning"


@pytest.mark.parametrize(("key", "sharps", "minor"), [("Am", 0, True), ("Em", 1, True),
                                                       ("F#m", 3, True), ("Bb", -2, False)])
def test_abc_minor_keys_survive_round_trip(key, sharps, minor):
    score = notation.read_abc(TUNE.format(title="k", key=key))
    text = notation.write_abc(score)
    back = notation.read_abc(text)
    assert [(k.key, k.minor) for k in back.key_signatures[:1]] == [(sharps, minor)]
    m21 = pytest.importorskip("music21")
    ks = m21.converter.parseData(text, format="abc").recurse().getElementsByClass("Key")
    assert ks and ks[0].mode == ("minor" if minor else "major")


def test_abc_notes_start_on_the_beat():
    score = notation.read_abc(TUNE.format(title="t", key="D"))
    tpq = score.tpq
    assert score.notes["start"][:4].tolist() == [0, tpq // 2, tpq, 3 * tpq // 2]
    assert score.notes["duration"][:4].tolist() == [tpq // 2] * 4


def _seconds(score):
    n = score.notes
    order = np.lexsort((n["pitch"], n["start"]))
    on = score.tempo.ticks_to_seconds(n["start"][order])
    off = score.tempo.ticks_to_seconds((n["start"] + n["duration"])[order])
    return n["pitch"][order].tolist(), on, off


def test_32nds_64ths_and_tuplets_survive_musicxml(tmp_path):
    m21 = pytest.importorskip("music21")
    # 32nd-note triplets (40 ticks), 64ths (30), 16th quintuplets (96), 32nds (60), eighth triplets
    lens = [40] * 3 + [30] * 4 + [96] * 5 + [60] * 8 + [160] * 3
    rows, t = [], 0
    for i, d in enumerate(lens):
        rows.append((t, d, 60 + i % 12, 80))
        t += d
    score = mos_lab.Score.from_notes(rows)
    path = score.save(tmp_path / "fine.musicxml")
    back = mos_lab.load(path)
    p0, on0, off0 = _seconds(score)
    p1, on1, off1 = _seconds(back)
    assert p0 == p1
    assert np.allclose(on0, on1, atol=1e-6) and np.allclose(off0, off1, atol=1e-6)
    types = [n.duration.type for n in m21.converter.parse(path).flatten().notes]
    assert types.count("32nd") >= 11 and types.count("64th") == 4


def test_invalid_abc_error_names_line_and_column():
    with pytest.raises(ScoreError, match=r"line 3, column 1: First K: field"):
        notation.read_abc("X:1\nT:t\nK:Q\nABC\n")
    # a recoverable mistake loads, its warning says where (column counted from 1)
    score = notation.read_abc("X:1\nT:t\nM:4/4\nL:1/8\nK:G\nABcd efgO|\n")
    assert score.n_notes == 7
    assert any("line 6, column 9" in w for w in score.warnings)


def _onsets_offsets(score):
    """Per pitch, the sorted onsets and the sorted offsets in seconds (MIDI pairs
    overlapping notes of one pitch first-in first-out, so offsets compare as a set)."""
    n = score.notes
    out = {}
    for p in np.unique(n["pitch"]).tolist():
        sel = n["pitch"] == p
        out[p] = (np.sort(score.tempo.ticks_to_seconds(n["start"][sel])),
                  np.sort(score.tempo.ticks_to_seconds((n["start"] + n["duration"])[sel])))
    return out


def test_performed_midi_survives_musicxml_exactly(tmp_path):
    m21 = pytest.importorskip("music21")
    rng = np.random.default_rng(7)  # performed timing: ticks no note value writes
    starts = np.cumsum(rng.integers(1, 300, 300))
    starts[150:] += 384 * 9  # two bars and more with no note in them
    rows = [(int(s), int(d), int(p), int(v)) for s, d, p, v in zip(
        starts, rng.integers(5, 2000, 300), rng.integers(30, 96, 300), rng.integers(30, 120, 300),
        strict=True)]
    score = mos_lab.Score.from_notes(rows, tpq=384, bpm=97.3, title="Played")
    path = score.save(tmp_path / "played.musicxml")
    back = mos_lab.load(path)
    assert back.n_notes == score.n_notes and back.title == "Played"
    assert sorted(back.notes["velocity"].tolist()) == sorted(score.notes["velocity"].tolist())
    assert back.duration == pytest.approx(score.duration, abs=1e-3)
    a, b = _onsets_offsets(score), _onsets_offsets(back)
    assert a.keys() == b.keys()
    for p in a:
        assert np.allclose(a[p][0], b[p][0], atol=1e-3) and np.allclose(a[p][1], b[p][1], atol=1e-3)
    assert mos_lab.load(score.save(tmp_path / "played.mxl")).n_notes == score.n_notes
    m21.converter.parse(path)  # the oracle reads it
