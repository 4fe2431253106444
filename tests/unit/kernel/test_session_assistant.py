"""The session's assistant reaches the layers above ai: asked for an exercise, it makes one
through mos_lab.lessons (the tool is wired in the kernel, the only layer that sees both)."""

from __future__ import annotations

from mos_lab.kernel.session import Session
from mos_lab.lessons.authoring import KINDS


def test_the_assistant_makes_an_exercise_through_lessons():
    s = Session(output="null", plugins=False)
    try:
        tools = s.assistant_tools()
        assert "exercise" in tools
        assert set(tools["exercise"].schema["properties"]["kind"]["enum"]) == set(KINDS)
        reply = s.assistant().ask("give me an interval exercise")
        assert reply.error is None
        assert [c.name for c in reply.tool_calls] == ["exercise"]
        assert "exercise (seed" in reply.text
    finally:
        s.close()
