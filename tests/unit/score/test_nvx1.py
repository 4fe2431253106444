"""NVX1: schema shipped, validation names every bad field, round trips, property tests."""

from __future__ import annotations

import copy
import json
import re

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mos_lab
from mos_lab.score import ScoreError, nvx1
from mos_lab.score.slot import ScoreSlot

GOOD = {
    "format": "nvx1", "version": 1, "title": "Scale", "ticks_per_quarter": 480,
    "tempos": [{"tick": 0, "us_per_quarter": 500000}, {"tick": 1920, "us_per_quarter": 400000}],
    "time_signatures": [{"tick": 0, "numerator": 3, "denominator": 4}],
    "key_signatures": [{"tick": 0, "key": 1, "minor": False}],
    "markers": [{"tick": 0, "text": "A"}],
    "chords": [{"tick": 0, "duration": 960, "symbol": "G", "roman": "I"}],
    "tracks": [{
        "name": "Piano", "program": 0, "channel": 0, "drums": False,
        "notes": [{"start": i * 480, "duration": 480, "pitch": 60 + i, "velocity": 80}
                  for i in range(8)],
        "controls": [{"tick": 0, "number": 64, "value": 127}],
        "programs": [{"tick": 960, "program": 5}],
        "pitch_bends": [{"tick": 100, "value": -200}],
    }],
}


def test_schema_file_ships_and_is_valid_json_schema():
    sch = nvx1.schema()
    jsonschema.Draft202012Validator.check_schema(sch)
    jsonschema.validate(GOOD, sch)


def test_good_document_round_trips_exactly():
    score = nvx1.from_nvx1(GOOD)
    assert score.n_notes == 8 and score.title == "Scale"
    doc = score.to_nvx1()
    for key in ("tempos", "time_signatures", "key_signatures", "markers", "chords"):
        assert doc[key] == GOOD[key]
    assert doc["tracks"][0]["notes"] == GOOD["tracks"][0]["notes"]
    assert doc["tracks"][0]["programs"] == GOOD["tracks"][0]["programs"]
    assert doc["tracks"][0]["pitch_bends"] == GOOD["tracks"][0]["pitch_bends"]


def test_all_problems_are_collected_with_field_paths():
    doc = copy.deepcopy(GOOD)
    doc["tracks"][0]["notes"][3]["pitch"] = 200
    doc["tracks"][0]["notes"][5]["velocity"] = 0
    doc["tracks"][0]["notes"][6]["loudness"] = 3
    del doc["tracks"][0]["notes"][7]["start"]
    doc["time_signatures"][0]["denominator"] = 3
    doc["version"] = 2
    problems = nvx1.validate(doc)
    assert "tracks[0].notes[3].pitch: 200 is above 127" in problems
    assert "tracks[0].notes[5].velocity: 0 is below 1" in problems
    assert "tracks[0].notes[6].loudness: is not a known field" in problems
    assert "tracks[0].notes[7].start: is required" in problems
    assert "version: 2 must be 1" in problems
    assert any(p.startswith("time_signatures[0].denominator: 3 is not one of") for p in problems)
    with pytest.raises(ScoreError) as err:
        nvx1.from_nvx1(doc)
    assert err.value.problems == problems
    assert isinstance(err.value, ValueError)


def test_wrong_types_and_bools_are_not_ints():
    doc = copy.deepcopy(GOOD)
    doc["tracks"][0]["notes"][0]["pitch"] = True
    doc["tracks"][0]["notes"][1]["start"] = 1.5
    doc["ticks_per_quarter"] = "480"
    problems = nvx1.validate(doc)
    assert "tracks[0].notes[0].pitch: True is not of type integer" in problems
    assert "tracks[0].notes[1].start: 1.5 is not of type integer" in problems
    assert "ticks_per_quarter: '480' is not of type integer" in problems


@pytest.mark.seed("ENG-06")
@pytest.mark.parametrize("path", ["title", "tracks[0].name", "markers[0].text",
                                  "chords[0].symbol"])
def test_text_that_cannot_be_encoded_is_rejected_with_its_path(path):
    """A lone surrogate (valid JSON escape, not Unicode text) fails validation, not save."""
    doc = copy.deepcopy(GOOD)
    *parents, leaf = path.replace("[0]", ".0").split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[leaf] = "a\ud800b"
    text = json.dumps(doc)  # ensure_ascii writes the lone surrogate as the escape \ud800
    assert "\\ud800" in text
    assert nvx1.validate(doc) == [
        f"{path}: character U+D800 at index 1 cannot be encoded as UTF-8 (a lone surrogate)"]
    with pytest.raises(ScoreError, match=re.escape(f"{path}: character U+D800")):
        mos_lab.load(text.encode(), format="json")


def test_score_with_unencodable_text_is_refused_by_save_with_a_clear_error(tmp_path):
    score = mos_lab.Score.from_notes([(0, 480, 60, 90)], title="x\udfff")
    for name in ("s.mid", "s.json"):
        with pytest.raises(ScoreError, match=r"title: character U\+DFFF at index 1"):
            score.save(tmp_path / name)
        assert not (tmp_path / name).exists()


def test_unsorted_notes_are_reported():
    doc = copy.deepcopy(GOOD)
    doc["tracks"][0]["notes"].reverse()
    assert nvx1.validate(doc) == ["tracks[0].notes: are not sorted by start"]


@pytest.mark.seed("ENG-06")
def test_invalid_nvx1_names_the_field_and_previous_score_stays(tmp_path):
    """ENG-06: a malformed score is rejected before use and never replaces the loaded one."""
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD))
    bad_doc = copy.deepcopy(GOOD)
    bad_doc["tracks"][0]["notes"][3]["pitch"] = 200
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_doc))
    slot = ScoreSlot()
    first = slot.load(good)
    with pytest.raises(ScoreError, match=r"tracks\[0\]\.notes\[3\]\.pitch: 200 is above 127"):
        slot.load(bad)
    assert slot.current is first and slot.version == 1
    (tmp_path / "trunc.json").write_text(json.dumps(GOOD)[:-40])
    with pytest.raises(ScoreError, match="invalid JSON"):
        slot.load(tmp_path / "trunc.json")
    assert slot.current is first and slot.last_error is not None


# -- property tests ---------------------------------------------------------------
ticks = st.integers(0, 10**6)
note = st.fixed_dictionaries({"start": ticks, "duration": ticks, "pitch": st.integers(0, 127),
                              "velocity": st.integers(1, 127)})
track = st.fixed_dictionaries(
    {"notes": st.lists(note, max_size=30).map(lambda ns: sorted(ns, key=lambda n: n["start"]))},
    optional={"name": st.text(max_size=20), "program": st.integers(0, 127),
              "drums": st.booleans()})
doc_strategy = st.fixed_dictionaries({
    "format": st.just("nvx1"), "version": st.just(1),
    "ticks_per_quarter": st.integers(1, 32767), "tracks": st.lists(track, max_size=4)},
    optional={"tempos": st.lists(st.fixed_dictionaries(
        {"tick": ticks, "us_per_quarter": st.integers(1, 2**24 - 1)}), max_size=5)})


@settings(max_examples=80, deadline=None)
@given(doc_strategy)
def test_nvx1_round_trip_property(doc):
    score = nvx1.from_nvx1(doc)
    again = nvx1.from_nvx1(json.loads(json.dumps(score.to_nvx1())))
    assert np.array_equal(again.notes, score.notes)
    assert again.tempo == score.tempo and again.tracks == score.tracks


@settings(max_examples=60, deadline=None)
@given(doc_strategy)
def test_midi_round_trip_property(doc):
    # MIDI pairs note-offs first-in first-out, so it cannot hold nested notes of one pitch:
    # keep the notes that MIDI can represent (same-pitch notes in sequence) and compare those.
    for tr in doc["tracks"]:
        last_end: dict[int, int] = {}
        kept = []
        for n in tr["notes"]:
            if n["duration"] > 0 and n["start"] >= last_end.get(n["pitch"], 0):
                kept.append(n)
                last_end[n["pitch"]] = n["start"] + n["duration"]
        tr["notes"] = kept
    score = nvx1.from_nvx1(doc)
    back = mos_lab.load(score.to_midi_bytes())
    key = ["start", "duration", "pitch", "velocity"]
    a = np.sort(score.notes[key], order=key)
    b = np.sort(back.notes[key], order=key)
    assert np.array_equal(a, b)
    assert back.tempo == score.tempo


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["format", "version", "ticks_per_quarter", "tracks", "notes", "start",
                         "duration", "pitch", "velocity", "name", "x"]), inner, max_size=5),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_validator_agrees_with_jsonschema_on_arbitrary_json(value):
    ours = nvx1.validate(value)
    theirs = list(jsonschema.Draft202012Validator(nvx1.schema()).iter_errors(value))
    assert bool(ours) == bool(theirs) or (
        not theirs and ours and "sorted" in ours[0])
    for p in ours:
        assert ": " in p
