"""The offline interpreter on requests written as users say them: each maps to one call."""

from __future__ import annotations

from typing import Any

import pytest

from mos_lab.ai.assistant.rules import parse_intent
from mos_lab.ai.assistant.tools import check_arguments, default_tools

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("play from bar 12", "play", {"bar": 12}),
    ("Play it", "play", {}),
    ("can you play the piece from the beginning?", "play", {"seconds": 0.0}),
    ("start playing at measure 3", "play", {"bar": 3}),
    ("resume", "play", {}),
    ("play from 30 seconds", "play", {"seconds": 30.0}),
    ("pause", "pause", {}),
    ("hold on a sec", "pause", {}),
    ("stop", "pause", {"rewind": True}),
    ("go to bar 20", "seek", {"bar": 20}),
    ("jump to measure 7", "seek", {"bar": 7}),
    ("rewind", "seek", {"seconds": 0.0}),
    ("what key is this in?", "key", {}),
    ("Which key is the piece in", "key", {}),
    ("is it major or minor?", "key", {}),
    ("slow it down a bit", "tempo", {"scale": 0.9}),
    ("too fast!", "tempo", {"scale": 0.85}),
    ("speed it up a little", "tempo", {"scale": 1.1}),
    ("a lot faster please", "tempo", {"scale": 1.25}),
    ("half speed", "tempo", {"factor": 0.5}),
    ("play at 80% speed", "tempo", {"factor": 0.8}),
    ("back to normal speed", "tempo", {"factor": 1.0}),
    ("loop bars 4 to 8", "loop", {"from_bar": 4, "to_bar": 8}),
    ("can you repeat measures 1-4", "loop", {"from_bar": 1, "to_bar": 4}),
    ("loop bar 9", "loop", {"from_bar": 9, "to_bar": 9}),
    ("stop looping", "loop", {"off": True}),
    ("transpose up 2", "transpose", {"semitones": 2}),
    ("transpose it down by 3", "transpose", {"semitones": -3}),
    ("move it up an octave", "transpose", {"semitones": 12}),
    ("put it down two semitones", "transpose", {"semitones": -2}),
    ("what chord is at 12 s?", "chord_at", {"seconds": 12.0}),
    ("analyse the chords", "analyse_chords", {}),
    ("show me the chord progression", "analyse_chords", {}),
    ("roman numerals please", "analyse_chords", {}),
    ("generate 8 bars in D minor at 90 bpm", "generate",
     {"bars": 8, "key": "D minor", "bpm": 90.0}),
    ("write me a new melody", "generate", {}),
    ("load song.mid", "load", {"path": "song.mid"}),
    ("open bach/chorale.mxl", "load", {"path": "bach/chorale.mxl"}),
    ("show me the score", "engrave", {}),
    ("I want to see the sheet music", "engrave", {}),
    ("give me an interval exercise", "exercise", {"kind": "interval_id"}),
    ("quiz me on chords, level 2", "exercise", {"kind": "chord_id", "level": 2}),
    ("what is loaded?", "info", {}),
    ("how long is it", "info", {}),
]


@pytest.mark.parametrize(("text", "name", "args"), CASES, ids=[c[0] for c in CASES])
def test_an_ordinary_request_becomes_the_right_tool_call(text, name, args):
    calls = parse_intent(text)
    assert [(c.name, c.arguments) for c in calls] == [(name, args)]
    tools = default_tools()
    if name in tools:  # and the call passes the tool's schema
        assert check_arguments(tools[name], args) == []


def test_there_are_at_least_thirty_phrasings_and_nonsense_is_not_a_call():
    assert len(CASES) >= 30
    assert parse_intent("the weather is nice today") == []
