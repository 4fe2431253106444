"""Pitch spelling of MIDI notes from their context (key, harmony, voice leading)."""

from __future__ import annotations

import time

import numpy as np

from mos_lab.score import NOTE_DTYPE, Score, Track
from mos_lab.score.tempo import TempoChange, TempoMap
from mos_lab.theory import spell
from mos_lab.theory.spelling import note_names

Q = 480


def score_of(*voices: list[int], beat: int = Q, drums: bool = False) -> Score:
    """A score with one track per voice, one note per beat."""
    rows = [(i * beat, beat, p, v) for v, line in enumerate(voices)
            for i, p in enumerate(line) if p]
    notes = np.zeros(len(rows), NOTE_DTYPE)
    if rows:
        a = np.array(rows)
        notes["start"], notes["duration"], notes["pitch"], notes["track"] = a.T
        notes["velocity"] = 80
        notes["channel"] = notes["track"]
        notes = notes[np.argsort(notes["start"], kind="stable")]
    tracks = tuple(Track(f"v{i}", 0, i, drums) for i in range(max(len(voices), 1)))
    return Score(notes, tracks, TempoMap(Q, [TempoChange(0, 500_000)]))


def names(score: Score, track: int = 0) -> list[str]:
    all_names = note_names(score)
    return [n for n, t in zip(all_names, score.notes["track"], strict=True) if t == track]


def test_scales_take_their_key_signature() -> None:
    b_major = [59, 61, 63, 64, 66, 68, 70, 71, 66, 63, 59]
    assert names(score_of(b_major))[:8] == ["B3", "C#4", "D#4", "E4", "F#4", "G#4", "A#4", "B4"]
    d_flat = [61, 63, 65, 66, 68, 70, 72, 73, 68, 65, 61]
    assert names(score_of(d_flat))[:8] == ["Db4", "Eb4", "F4", "Gb4", "Ab4", "Bb4", "C5", "Db5"]
    e_flat = [63, 65, 67, 68, 70, 72, 74, 75, 70, 67, 63]
    assert names(score_of(e_flat))[:8] == ["Eb4", "F4", "G4", "Ab4", "Bb4", "C5", "D5", "Eb5"]
    c_minor = [60, 62, 63, 65, 67, 68, 71, 72, 67, 63, 60]
    assert names(score_of(c_minor))[:8] == ["C4", "D4", "Eb4", "F4", "G4", "Ab4", "B4", "C5"]


def test_chromatic_lines_rise_with_sharps_and_fall_with_flats() -> None:
    bass = [48, 43, 48, 43, 48, 43, 48, 48]
    up = [60, 64, 67, 66, 67, 64, 62, 60]  # G F# G: a lower neighbour with a sharp
    assert names(score_of(up, bass))[3] == "F#4"
    down = [64, 62, 61, 60, 62, 64, 67, 72]  # D Db C falls with a flat
    assert names(score_of(down, [48, 48, 46, 45, 43, 43, 48, 48]))[2] == "Db4"
    rising = [60, 61, 62, 64, 65, 67, 72, 72]  # C C# D rises with a sharp
    assert names(score_of(rising, [48, 45, 41, 43, 41, 43, 48, 48]))[1] == "C#4"


def test_chords_are_spelled_as_chords() -> None:
    c_major = [60, 64, 67, 72, 67, 64]
    e_major = score_of([*c_major, 64, 68, 71, 68, 64, 60])  # E major in C: G#
    assert names(e_major)[7] == "G#4"
    f_minor = score_of([*c_major, 65, 68, 72, 68, 65, 60])  # F minor in C: Ab
    assert names(f_minor)[7] == "Ab4"


def test_bad_input_gives_results_not_exceptions() -> None:
    assert spell(score_of()).tolist() == []
    drums = score_of([36, 38, 42, 46], drums=True)
    assert spell(drums).tolist() == [0, 2, 6, -2]  # plain spellings: C D F# Bb
    one = score_of([61])
    assert len(spell(one)) == 1


def test_a_given_spelling_is_kept_and_validated() -> None:
    s = score_of([61, 63])
    kept = s.replace(spelling=np.array([-5, -3]))  # Db Eb
    assert spell(kept).tolist() == [-5, -3]
    assert note_names(kept) == ["Db4", "Eb4"]
    assert kept.transpose(1).spelling is None
    import pytest

    from mos_lab.score import ScoreError

    with pytest.raises(ScoreError, match=r"spelling\[1\]: 0 is not a spelling of pitch 63"):
        s.replace(spelling=np.array([7, 0]))
    with pytest.raises(ScoreError, match="values for 2 notes"):
        s.replace(spelling=np.array([7]))


def test_spelling_is_fast() -> None:
    rng = np.random.default_rng(0)
    n = 100_000
    notes = np.zeros(n, NOTE_DTYPE)
    notes["start"] = np.sort(rng.integers(0, n * 60, n))
    notes["duration"] = rng.integers(60, 960, n)
    notes["pitch"] = rng.integers(30, 90, n)
    notes["velocity"] = 80
    notes["track"] = rng.integers(0, 4, n)
    s = Score(notes, tuple(Track(str(i), 0, i) for i in range(4)),
              TempoMap(Q, [TempoChange(0, 500_000)]))
    t0 = time.perf_counter()
    out = spell(s)
    assert time.perf_counter() - t0 < 5.0
    assert ((out * 7) % 12 == notes["pitch"] % 12).all()


def test_nvx1_round_trips_the_spelling() -> None:
    import json

    import pytest

    from mos_lab.score import ScoreError, nvx1

    s = score_of([61, 63, 66], [49, 0, 54]).replace(spelling=np.array([-5, -5, -3, 6, 6]))
    doc = nvx1.to_nvx1(s)
    assert [n["spelling"] for n in doc["tracks"][0]["notes"]] == [-5, -3, 6]
    assert nvx1.validate(doc) == []
    back = nvx1.from_nvx1(json.loads(json.dumps(doc)))
    assert back.spelling is not None and back.spelling.tolist() == s.spelling.tolist()
    assert "spelling" not in nvx1.to_nvx1(score_of([60]))["tracks"][0]["notes"][0]
    del doc["tracks"][1]["notes"][0]["spelling"]
    with pytest.raises(ScoreError, match=r"tracks\[1\]\.notes\[0\]\.spelling: is missing"):
        nvx1.from_nvx1(doc)
    doc["tracks"][1]["notes"][0]["spelling"] = 0
    with pytest.raises(ScoreError, match=r"notes\[0\]\.spelling: 0 is not a spelling of pitch 49"):
        nvx1.from_nvx1(doc)
    doc["tracks"][1]["notes"][0]["spelling"] = 99
    assert nvx1.validate(doc) == ["tracks[1].notes[0].spelling: 99 is above 35"]


def test_musicxml_keeps_and_writes_the_spelling(tmp_path) -> None:
    import pytest

    pytest.importorskip("music21")
    from mos_lab.score import load
    from mos_lab.score.midi import read_midi

    midi = read_midi(score_of([61, 65, 68, 73], [49, 56, 53, 49]).to_midi_bytes())
    spelled = midi.replace(spelling=spell(midi))
    path = spelled.save(tmp_path / "db.musicxml")
    back = load(path)
    assert note_names(back) == note_names(spelled)
    assert set(note_names(back)) == {"Db4", "F4", "Ab4", "Db5", "Db3", "Ab3", "F3"}
    assert (back.notes["start"] * midi.tpq // back.tpq).tolist() == midi.notes["start"].tolist()
    assert (back.notes["duration"] * midi.tpq // back.tpq).tolist() == (
        midi.notes["duration"].tolist())


def test_abc_keeps_its_spelling() -> None:
    import pytest

    pytest.importorskip("music21")
    from mos_lab.score import load

    s = load(b"X:1\nT:t\nM:4/4\nL:1/4\nK:F\nF G A B | ^c _e =B2 |]\n", format="abc")
    assert s.spelling is not None
    assert note_names(s) == ["F4", "G4", "A4", "Bb4", "C#5", "Eb5", "B4"]


def test_hours_of_silence_and_drones_cost_nothing() -> None:
    notes = np.zeros(4, NOTE_DTYPE)
    notes["start"] = [0, 0, 2**34, 2**34 + 480]
    notes["duration"] = [2**35, 480, 480, 480]
    notes["pitch"] = [60, 64, 66, 67]
    notes["velocity"] = 80
    s = Score(notes, (Track("x", 0, 0),), TempoMap(Q, [TempoChange(0, 500_000)]))
    t0 = time.perf_counter()
    assert len(spell(s)) == 4
    assert time.perf_counter() - t0 < 1.0


def test_convert_midi_to_musicxml_writes_the_inferred_spelling(tmp_path, capsys) -> None:
    import pytest

    pytest.importorskip("music21")
    from mos_lab.cli import main
    from mos_lab.score import load

    # Db major: I - V7 - I, which MIDI alone would spell with sharps
    src = score_of([61, 65, 68, 73, 72, 70, 72, 73], [49, 56, 53, 49, 56, 56, 56, 49])
    mid = tmp_path / "db.mid"
    mid.write_bytes(src.to_midi_bytes())
    assert main(["convert", str(mid), str(tmp_path / "db.musicxml")]) == 0
    back = load(tmp_path / "db.musicxml")
    assert set(note_names(back)) >= {"Db4", "F4", "Ab4", "C5", "Bb4", "Db3", "Ab3"}
    read = load(mid)
    assert (back.notes["start"] * read.tpq // back.tpq).tolist() == read.notes["start"].tolist()


def test_musicxml_long_notes_come_back_whole(tmp_path) -> None:
    import pytest

    pytest.importorskip("music21")
    from mos_lab.score import load

    s = score_of([62], beat=Q * 10)  # ten beats: tied over three bars when written
    back = load(s.save(tmp_path / "long.musicxml"))
    assert back.n_notes == 1
    assert back.notes["duration"][0] * Q // back.tpq == Q * 10
