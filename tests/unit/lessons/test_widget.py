"""ExerciseWidget: answers graded and recorded, keyboard notes spelled, play, clean close."""

from __future__ import annotations

import pytest

from mos_lab import lessons
from mos_lab.lessons.widget import ExerciseWidget, show, spell_in_key
from mos_lab.theory.pitch import Pitch


def test_typed_answers_are_graded_shown_and_recorded(session, tmp_path):
    p = lessons.Progress(tmp_path / "p.sqlite")
    ex = lessons.interval_id(seed=3, level=2)
    w = ExerciseWidget(ex, progress=p, student="ada", session=session, engrave=False)
    assert w.keyboard is None and w.text_prompt == " ".join(ex.notes)
    w._on_msg(w, {"type": "answer", "text": "not an interval"}, [])
    assert w.feedback["correct"] is False and "expected" in w.feedback["message"]
    w._on_msg(w, {"type": "answer", "text": ex.answer}, [])
    assert w.feedback["correct"] is True
    w._on_msg(w, "garbage", [])
    w._on_msg(w, {"type": "answer", "text": {"x": 1}}, [])
    rows = p.attempts("ada")
    assert [a.correct for a in rows] == [False, True, False]
    assert rows[0].time_taken is not None
    w.close()


def test_keyboard_notes_fill_the_answer_spelled_in_the_key(session, tmp_path):
    before = session.bus.subscriber_count()
    ex = lessons.dictation(seed=2, level=1, key="Bb")
    w = ExerciseWidget(ex, session=session)
    assert w.keyboard is not None and w.svg == ""  # heard only: no notation
    for name in ex.answer.split():
        midi = Pitch.parse(name).midi
        w.keyboard._cmd_note_on(midi, 90)
        w.keyboard._cmd_note_off(midi)
    assert " ".join(w.entered) == ex.answer
    fb = w.answer(" ".join(w.entered))
    assert fb.correct and w.entered == []
    w.close()
    assert session.bus.subscriber_count() == before


def test_spelling_follows_the_signature():
    assert spell_in_key(70, -2).name == "Bb" and spell_in_key(70, 4).name == "A#"
    assert spell_in_key(61, None).name == "C#"


def test_play_loads_the_prompt_into_the_sessions_engine(session):
    ex = lessons.chord_id(seed=5, level=2)
    box = show(ex, session=session, engrave=False)
    w = box.exercise_widget
    w._on_msg(w, {"type": "play"}, [])
    assert session.engine.score is not None
    assert session.engine.score.notes["pitch"].tolist() == ex.prompt.notes["pitch"].tolist()
    assert session.engine.state == "playing"
    w.close()


def test_the_prompt_is_engraved_when_verovio_is_here(session):
    pytest.importorskip("verovio")
    w = ExerciseWidget(lessons.interval_id(seed=1), session=session)
    assert w.svg.startswith("<svg") or "<svg" in w.svg[:200]
    w.close()


def test_a_rhythm_goes_to_the_page_with_its_onsets_and_each_feedback_is_new(session):
    ex = lessons.rhythm_tap(seed=4, level=2, bpm=120)
    w = ExerciseWidget(ex, session=session)
    assert w.keyboard is None and w.svg == ""
    assert w.rhythm == {"onsets_ms": [float(x) for x in ex.answer.split()],
                        "beat_ms": 500.0, "count_in": 4}
    assert w.rhythm["onsets_ms"][0] == 0.0
    w._on_msg(w, {"type": "answer", "text": ex.answer}, [])
    first = dict(w.feedback)
    w._on_msg(w, {"type": "answer", "text": ex.answer}, [])
    assert first["correct"] and w.feedback["correct"] and w.feedback != first
    d = ExerciseWidget(lessons.dictation(seed=1), session=session)
    assert d.rhythm == {}
    d.close()
    w.close()


def test_midi_keyboards_enter_dictation_answers_from_the_kernel_and_the_page(session):
    """The kernel's MIDI input (engine.midi_in on a port; here the testing fake, fed on
    its callback as mido's port thread does: no ALSA sequencer here for a virtual port)
    and Web MIDI notes the page sends both fill the answer, spelled in the key."""
    import mido

    from mos_lab.testing import FakeMidiPort

    ex = lessons.dictation(seed=5, level=2, key="Eb")
    w = ExerciseWidget(ex, session=session)
    assert w.midi is True
    port = FakeMidiPort("keys")
    handle = session.engine.midi_in(port)
    notes = [Pitch.parse(n).midi for n in ex.answer.split()]
    for m in notes[:4]:
        port.callback(mido.Message("note_on", note=m, velocity=80))
        port.callback(mido.Message("note_off", note=m))
    for m in notes[4:]:  # what the page sends for a Web MIDI note-on
        w._on_msg(w, {"type": "note", "pitch": m}, [])
    assert " ".join(w.entered) == ex.answer  # Eb major: flats, as the answer spells them
    for bad in (128, -1, "60", None, True):
        w._on_msg(w, {"type": "note", "pitch": bad}, [])
    assert " ".join(w.entered) == ex.answer and len(w.errors) == 5
    assert "0..127" in w.feedback["message"]
    assert w.answer(" ".join(w.entered)).correct
    handle.close()
    w.close()
    rhythm = ExerciseWidget(lessons.rhythm_tap(seed=1), session=session)
    assert rhythm.midi is False
    rhythm._on_msg(rhythm, {"type": "note", "pitch": 60}, [])
    assert rhythm.entered == []  # no note entry for a rhythm
    rhythm.close()


def test_show_adds_the_transport_that_hosts_browser_audio_and_closes_it(session):
    ex = lessons.dictation(seed=3)
    box = show(ex, session=session)
    assert box.exercise_widget.transport is None  # this session does not play in a browser
    assert session.output != "browser"
    box.exercise_widget.close()
    box = show(ex, session=session, transport=True)
    w = box.exercise_widget
    assert w.transport is not None and list(box.children) == [w, w.keyboard, w.transport]
    t = w.transport
    w.close()
    assert w.transport is None and t.comm is None  # closed with the exercise
    rhythm = show(lessons.rhythm_tap(seed=1), session=session)
    assert rhythm.exercise_widget.transport is None  # a rhythm plays in the page itself
    rhythm.exercise_widget.close()
