"""The assistant inside a Session: its tools drive the session's engine and follow its score."""

from __future__ import annotations

from typing import Any

import pytest

from mos_lab.ai.assistant.tools import REGISTERED, exercise_tool, register_tool
from mos_lab.kernel.session import Session
from mos_lab.score import Score

SONG = Score.from_notes([(bar * 1920, 1920, p, 80) for bar, chord in enumerate(
    [(48, 60, 64, 67), (53, 57, 60, 65), (43, 59, 62, 67), (48, 60, 64, 67)] * 4)
    for p in chord], bpm=120)  # 16 bars of 4/4 at 120 bpm: a bar is 2 s


@pytest.fixture
def session() -> Any:
    s = Session("null", plugins=False)
    s.load(SONG)
    s.engine.wait_ready()  # play() before the audio side is up is queued, not run
    yield s
    s.close()


def test_ordinary_requests_drive_the_sessions_engine(session):
    a = session.assistant()
    eng = session.engine
    assert a.ask("play from bar 3").ok
    assert eng.state in ("playing", "waiting_for_audio")
    assert 4.0 <= eng.position < 5.0
    assert a.ask("loop bars 4 to 8").ok and eng.loop == pytest.approx((6.0, 16.0))
    assert a.ask("slow it down a bit").ok and eng.tempo == pytest.approx(0.9)
    assert a.ask("stop looping").ok and eng.loop is None
    assert a.ask("pause").ok and eng.state == "paused"
    reply = a.ask("what key is this in?")
    assert reply.ok and reply.text.startswith("the key is C"), reply


def test_a_score_the_assistant_makes_is_loaded_into_the_session(session):
    a = session.assistant()
    assert a.ask("transpose up 2").ok
    assert session.score is a.score
    assert int(session.score.notes["pitch"].min()) == 45


def test_a_score_loaded_into_the_session_later_is_the_one_the_assistant_works_on(session):
    a = session.assistant()
    session.load(SONG.transpose(2))  # the user loads something else after asking
    reply = a.ask("what key is this in?")
    assert reply.ok and reply.text.startswith("the key is D"), reply
    assert a.ask("play").ok and session.score is a.score
    assert int(session.score.notes["pitch"].min()) == 45


def test_a_registered_exercise_tool_is_offered_and_run(session):
    made: list[tuple[str, int, dict[str, Any]]] = []

    class Ex:
        question = "Name this interval"

    def make(kind: str, seed: int, **params: Any) -> Ex:
        made.append((kind, seed, params))
        return Ex()

    register_tool(exercise_tool(make, kinds=["interval_id", "chord_id"]))
    try:
        reply = session.assistant().ask("quiz me on chords, level 2")
        assert reply.ok, reply.error
        assert made and made[0][0] == "chord_id" and made[0][2] == {"level": 2}
        assert "Name this interval" in reply.text
    finally:
        REGISTERED.pop("exercise", None)


def test_show_me_the_score_engraves_it(session):
    pytest.importorskip("verovio")
    a = session.assistant()
    reply = a.ask("show me the score")
    assert reply.ok and reply.text.startswith("engraved the score: 1 page"), reply
    assert a.context.engraving.page_count == 1
    assert a.context.engraving.svg(1).lstrip().startswith("<svg")
