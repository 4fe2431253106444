"""Score -> MusicXML for engraving: what the page says about pitch, time and layout."""

from __future__ import annotations

import numpy as np

from mos_lab.notation import musicxml
from mos_lab.notation.build import notate
from tests.unit.notation.conftest import make_score, parse


def xml_of(score, **kw) -> object:
    return parse(musicxml.write(notate(score, **kw)))


def notes_of(root) -> list:
    return [n for n in root.iter("note") if n.find("rest") is None]


def test_spelling_from_the_score_is_written_not_respelled():
    # MIDI 61 spelled Db (fifths -5) and C# (7): the page shows the letter the score says
    s = make_score([(0, 480, 61, 0), (480, 480, 61, 0)], spelling=[-5, 7])
    steps = [(n.findtext("pitch/step"), n.findtext("pitch/alter")) for n in notes_of(xml_of(s))]
    assert steps == [("D", "-1"), ("C", "1")]
    accs = [n.findtext("accidental") for n in notes_of(xml_of(s))]
    assert accs == ["flat", "sharp"]


def test_midi_without_spelling_is_spelled_by_theory_and_accidentals_follow_the_bar():
    # a G major scale from MIDI: F# comes out sharp, and the key signature found has 1 sharp
    scale = [67, 69, 71, 72, 74, 76, 78, 79]
    s = make_score([(i * 240, 240, p, 0) for i, p in enumerate(scale)] * 1, key=None)
    root = xml_of(s)
    assert root.findtext(".//key/fifths") == "1"
    fs = [n for n in notes_of(root) if n.findtext("pitch/step") == "F"]
    assert fs and all(n.findtext("pitch/alter") == "1" for n in fs)
    assert all(n.find("accidental") is None for n in fs)  # the key signature says it


def test_a_note_over_the_bar_line_is_tied_and_values_are_written_with_dots():
    # 6 quarters from beat 1 in 4/4 -> whole tied to half; a dotted quarter stays one note
    s = make_score([(0, 6 * 480, 60, 0), (6 * 480, 720, 62, 0)])
    root = xml_of(s)
    first = [n for n in notes_of(root) if n.findtext("pitch/step") == "C"]
    assert [n.findtext("type") for n in first] == ["whole", "half"]
    assert first[0].find("tie[@type='start']") is not None
    assert first[1].find("tie[@type='stop']") is not None
    d = [n for n in notes_of(root) if n.findtext("pitch/step") == "D"]
    assert [(n.findtext("type"), len(n.findall("dot"))) for n in d] == [("quarter", 1)]


def test_triplets_get_a_time_modification_and_one_bracket_per_beat():
    rows = [(i * 160, 160, 60 + i, 0) for i in range(6)]  # triplet eighths, tpq 480
    root = xml_of(make_score(rows))
    ns = notes_of(root)
    assert [n.findtext("time-modification/actual-notes") for n in ns] == ["3"] * 6
    marks = [t.get("type") for n in ns for t in n.iter("tuplet")]
    assert marks == ["start", "stop", "start", "stop"]
    assert [n.findtext("type") for n in ns] == ["eighth"] * 6


def test_eighths_are_beamed_per_beat():
    rows = [(i * 240, 240, 72, 0) for i in range(8)]
    beams = [n.findtext("beam") for n in notes_of(xml_of(make_score(rows)))]
    assert beams == ["begin", "end"] * 4


def test_clefs_follow_the_range_and_a_wide_piano_part_gets_two_staves():
    low = make_score([(i * 480, 480, p, 0) for i, p in enumerate([40, 43, 45, 47])])
    assert xml_of(low).findtext(".//clef/sign") == "F"
    rows = []
    for i in range(16):  # a left hand in the bass, a right hand above middle C
        rows += [(i * 480, 480, 36 + (i % 5), 0), (i * 480, 480, 76 + (i % 7), 0)]
    root = xml_of(make_score(rows))
    assert root.findtext(".//staves") == "2"
    staff_of = {int(n.findtext("pitch/octave")) < 4: n.findtext("staff") for n in notes_of(root)}
    assert staff_of == {True: "2", False: "1"}


def test_independent_lines_on_one_staff_become_voices():
    # a held whole note under moving quarters: two voices, not chords of mixed lengths
    rows = [(0, 1920, 60, 0)] + [(i * 480, 480, 67 + i, 0) for i in range(4)]
    root = xml_of(make_score(rows))
    voices = {n.findtext("voice") for n in notes_of(root)}
    assert voices == {"1", "2"}
    assert root.find(".//backup") is not None


def test_pickup_bar_is_found_and_written_implicit():
    # 3/4 with a one-beat upbeat: long notes on the downbeats after it
    rows = [(0, 480, 67, 0)]
    for b in range(4):
        rows += [(480 + b * 1440, 960, 72, 0), (480 + b * 1440 + 960, 480, 71, 0)]
    root = xml_of(make_score(rows, meter=(3, 4)))
    first = root.find(".//measure")
    assert first.get("implicit") == "yes" and first.get("number") == "0"
    assert len([n for n in first.iter("note") if n.find("rest") is None]) == 1
    # the bar lines fall so that no note is tied over one
    assert root.find(".//tie") is None


def test_dynamics_only_where_the_velocity_changes():
    s = make_score([(i * 480, 480, 72, 0) for i in range(16)])
    assert xml_of(s).find(".//dynamics") is None  # one level: nothing to say
    notes = s.notes.copy()
    notes["velocity"][8:] = 30
    quiet = s.replace(notes=notes, spelling=s.spelling)
    marks = [d[0].tag for d in xml_of(quiet).iter("dynamics")]
    assert marks == ["mf", "pp"]


def test_analysis_prints_chord_symbols_and_roman_numerals_below():
    from mos_lab.theory import analyze

    c, f, g = [60, 64, 67], [60, 65, 69], [59, 62, 67]
    rows = [(i * 960, 960, p, 0) for i, ch in enumerate([c, f, g, c]) for p in ch]
    s = make_score(rows)
    root = xml_of(s, analysis=analyze(s))
    lines = [(ly.get("number"), ly.findtext("text")) for ly in root.iter("lyric")]
    # each chord as a symbol (line 1) over its numeral (line 2, the key named where it
    # starts), under the notes of the lowest staff so the page makes room for them
    assert lines == [("1", "C"), ("2", "C: I"), ("1", "F/C"), ("2", "IV6/4"), ("1", "G/B"),
                     ("2", "V6"), ("1", "C"), ("2", "I")]
    assert xml_of(s, analysis=analyze(s), harmony="roman").find(".//lyric[@number='2']") \
        is None


def test_the_score_is_not_changed_by_quantising_a_performance():
    rng = np.random.default_rng(1)
    rows = [(i * 240 + int(rng.integers(-20, 20)) + 30, 200, 60 + i % 12, 0)
            for i in range(32)]
    s = make_score(rows)
    before = s.notes.copy()
    notate(s)
    assert (s.notes == before).all()


def test_the_middle_of_a_4_4_bar_and_the_beat_show_where_the_editions_show_them():
    def written(rows, step="D"):
        s = make_score(rows)
        return [(n.findtext("type"), n.find("dot") is not None, n.find("tie") is not None)
                for n in notes_of(xml_of(s, pickup=0)) if n.findtext("pitch/step") == step]

    # quarter, dotted quarter on beat 2, eighth, quarter: the dotted quarter stays whole,
    # and so does a half on beat 2
    assert written([(0, 480, 60, 0), (480, 720, 62, 0), (1200, 240, 64, 0),
                    (1440, 480, 65, 0)]) == [("quarter", True, False)]
    assert written([(0, 480, 60, 0), (480, 960, 62, 0), (1440, 480, 64, 0)]) == \
        [("half", False, False)]
    # a dotted eighth from the off-beat of beat 2 shows the middle of the bar: tied there
    assert written([(0, 480, 60, 0), (480, 240, 64, 0), (720, 360, 62, 0), (1080, 120, 64, 0),
                    (1200, 720, 65, 0)]) == [("eighth", False, True), ("16th", False, True)]
    # and one on the off-beat of beat 1 shows beat 2
    assert written([(0, 240, 60, 0), (240, 360, 62, 0), (600, 120, 64, 0),
                    (720, 1200, 65, 0)]) == [("eighth", False, True), ("16th", False, True)]


def test_a_meter_repeated_in_the_file_does_not_hide_the_pickup():
    from mos_lab.score import TimeSignature

    rows = [(0, 480, 67, 0)]
    for b in range(4):
        rows += [(480 + b * 1440, 960, 72, 0), (480 + b * 1440 + 960, 480, 71, 0)]
    s = make_score(rows, meter=(3, 4))
    s = s.replace(time_signatures=(TimeSignature(0, 3, 4), TimeSignature(1920, 3, 4)))
    assert xml_of(s).find(".//measure").get("implicit") == "yes"
