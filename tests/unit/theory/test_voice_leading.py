"""Part-writing checks: each rule provoked by a constructed example, silent on good writing."""

from __future__ import annotations

import numpy as np
import pytest

from mos_lab.score import NOTE_DTYPE, Score, Track
from mos_lab.score.tempo import TempoChange, TempoMap
from mos_lab.theory import Pitch
from mos_lab.theory.voice_leading import RULES, check_voice_leading

Q = 480


def parts(*chords: str, one_track: bool = False, beat: int = Q) -> Score:
    """A score from chords written top voice first ("C5 G4 E4 C3"), one per beat; "-" rests."""
    rows = []
    for i, chord in enumerate(chords):
        for v, name in enumerate(chord.split()):
            if name != "-":
                rows.append((i * beat, beat, Pitch.parse(name).midi, 0 if one_track else v))
    notes = np.zeros(len(rows), NOTE_DTYPE)
    if rows:
        a = np.array(rows)
        notes["start"], notes["duration"], notes["pitch"], notes["track"] = a.T
        notes["velocity"], notes["channel"] = 80, notes["track"]
        notes = notes[np.argsort(notes["start"], kind="stable")]
    n_tracks = 1 if one_track else max((len(c.split()) for c in chords), default=1)
    return Score(notes, tuple(Track(str(i), 0, i) for i in range(n_tracks)),
                 TempoMap(Q, [TempoChange(0, 500_000)]))


#: I - IV - V7 - I in C, voiced by the book (common tones held, seventh and leading tone
#: resolved, no parallels), then ii6 - V - I and a cadence in A minor.
GOOD = [
    ("C5 G4 E4 C3", "C5 A4 F4 F3", "B4 G4 F4 G3", "C5 G4 E4 C3"),
    ("E5 C5 G4 C4", "D5 A4 F4 F3", "D5 B4 D4 G3", "E5 C5 C4 C3"),
    ("A4 E4 C4 A2", "A4 F4 D4 D3", "G#4 E4 B3 E3", "A4 E4 C4 A2"),
]


@pytest.mark.parametrize("chords", GOOD)
def test_silent_on_textbook_progressions(chords: tuple[str, ...]) -> None:
    report = check_voice_leading(parts(*chords))
    assert report.voices == ("soprano", "alto", "tenor", "bass")
    assert report.findings == [], [f.to_dict() for f in report]
    assert report.ok


@pytest.mark.parametrize(
    ("chords", "rule", "voices", "kw"),
    [
        (("C5 F4", "D5 G4"), "parallel fifths", ("upper", "lower"), {}),
        (("C5 C4", "D5 D4"), "parallel octaves", ("upper", "lower"), {}),
        (("C4 C4", "D4 D4"), "parallel octaves", ("upper", "lower"), {}),
        (("C5 F4", "D5 G3"), "parallel fifths", ("upper", "lower"), {}),  # contrary motion
        (("E4 G3", "C5 C4"), "direct octaves", ("upper", "lower"), {}),
        (("E4 C4 G3 C3", "G4 D4 B3 G3"), "direct octaves", ("soprano", "bass"), {}),
        (("G4 E4 C4 C3", "E4 G4 C4 C3", "G4 E4 C4 C3"), "voice crossing",
         ("soprano", "alto"), {}),
        (("C5 E4 C4 C3", "C5 F4 G4 F3"), "voice crossing", ("alto", "tenor"), {}),  # overlap
        (("G5 E4 C4 C3", "G5 F4 C4 F3"), "spacing", ("soprano", "alto"), {}),
        (("A5 C5 E4 A3", "G5 C5 E4 C4"), "range", ("soprano",), {}),
        (("B4 G4 B3 G3", "C5 G4 C4 C3"), "doubled leading tone", ("soprano", "tenor"),
         {"key": "C"}),
        (("B4 F4 D4 G3", "G4 E4 C4 C3"), "unresolved leading tone", ("soprano",),
         {"key": "C"}),
        (("B4 F4 D4 G3", "C5 G4 E4 C3"), "unresolved seventh", ("alto",), {"key": "C"}),
        (("A4 F4 D4 D3", "A4 G#4 E4 E3", "A4 A4 E4 A2"), "augmented step", ("alto",),
         {"key": "a"}),
    ],
)
def test_each_rule_is_provoked(chords: tuple[str, ...], rule: str, voices: tuple[str, ...],
                               kw: dict) -> None:
    report = check_voice_leading(parts(*chords), **kw)
    found = [f for f in report if f.rule == rule]
    assert found, [f.to_dict() for f in report]
    assert found[0].voices == voices
    assert found[0].measure == 1 and found[0].beat >= 1
    off = check_voice_leading(parts(*chords), disable=[rule], **kw)
    assert rule not in off.rules()


def test_strictness() -> None:
    contrary = parts("C5 F4", "D5 G3")
    assert "parallel fifths" in check_voice_leading(contrary).rules()
    assert "parallel fifths" not in check_voice_leading(contrary, strictness="lenient").rules()
    by_step = parts("B4 G4 D4 G3", "C5 C5 E4 C4")  # soprano by step into an octave with bass
    assert "direct octaves" not in check_voice_leading(by_step).rules()
    assert "direct octaves" in check_voice_leading(by_step, strictness="strict").rules()
    with pytest.raises(ValueError, match="strictness"):
        check_voice_leading(contrary, strictness="wild")
    with pytest.raises(ValueError, match="unknown rules"):
        check_voice_leading(contrary, rules=["parallel thirds"])
    only = check_voice_leading(parts("C5 C4", "D5 D4"), rules=["parallel fifths"])
    assert only.findings == []


def test_one_track_of_chords_is_split_into_voices() -> None:
    report = check_voice_leading(parts("C5 G4 E4 C3", "D5 A4 F4 D3", one_track=True))
    assert report.voices == ("soprano", "alto", "tenor", "bass")
    assert {"parallel octaves", "parallel fifths"} <= set(report.rules())


def test_findings_name_measure_beat_and_json() -> None:
    chords = ["C5 G4 E4 C3"] * 5 + ["D5 A4 F4 D3"]
    f = next(iter(check_voice_leading(parts(*chords))))
    assert (f.measure, f.beat) == (2, 2.0)
    d = f.to_dict()
    assert set(d) >= {"rule", "measure", "beat", "voices"} and d["rule"] in RULES


def test_bad_input_is_reported_not_raised() -> None:
    assert check_voice_leading(parts()).message.startswith("empty score")
    drums = parts("C2 D2", "C2 D2").replace(tracks=(Track("d", 0, 9, True), Track("e", 0, 9, True)))
    assert check_voice_leading(drums).message.startswith("drums only")
    single = check_voice_leading(parts("C4", "D#4", "C4"))
    assert single.message.startswith("a single line")
    assert single.voices == ("voice",)
    assert check_voice_leading(parts("C4 -", "D4 -")).findings == []


def test_measures_follow_meter_changes_and_silence_costs_nothing() -> None:
    import time

    from mos_lab.score import TimeSignature

    chords = ["C5 G4 E4 C3"] * 7 + ["D5 A4 F4 D3"]  # 3/4 then 2/4 from beat 7
    s = parts(*chords).replace(time_signatures=(TimeSignature(0, 3, 4),
                                                TimeSignature(6 * Q, 2, 4)))
    f = next(iter(check_voice_leading(s)))
    assert (f.measure, f.beat) == (3, 2.0)
    far = s.notes.copy()
    far["start"][-4:] = 2**34
    t0 = time.perf_counter()
    check_voice_leading(s.replace(notes=far))
    assert time.perf_counter() - t0 < 2.0
