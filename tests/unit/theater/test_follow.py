"""Theater.follow: the playhead kept on an engine's position, frames published at a rate."""

from __future__ import annotations

import threading
import time

import pytest
from _theater_helpers import known_score

from mos_lab.engine import Engine
from mos_lab.theater import Theater, View
from mos_lab.theater.sinks import MemorySink


class Clock:
    """A position source the test moves by hand (what an engine's ``position`` is)."""

    def __init__(self) -> None:
        self.value = 0.0
        self.broken = False

    @property
    def position(self) -> float:
        if self.broken:
            raise RuntimeError("engine closed")
        return self.value


def _wait(pred, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


def _threads() -> int:
    return sum(t.name == "mos-lab-theater-follow" for t in threading.enumerate())


def test_follow_publishes_when_the_position_moves_and_rests_when_it_does_not():
    with Theater(known_score(), prefer="cpu") as th:
        sink = th.attach(MemorySink(auto_confirm=True, keep=64), View(320, 180))
        clock = Clock()
        th.follow(clock, fps=60)
        assert th.following and th.scene.snapshot().paged
        for t in (1.0, 1.5, 2.25):
            clock.value = t
            assert _wait(lambda t=t: sink.frames and sink.frames[-1].playhead == t), t
        n = len(sink.frames)
        time.sleep(0.3)  # the position stands still: nothing new is rendered
        assert len(sink.frames) == n
        clock.broken = True  # a source that fails is counted, the thread goes on
        assert _wait(lambda: th.follow_errors > 3)
        clock.broken = False
        clock.value = 3.0
        assert _wait(lambda: sink.frames[-1].playhead == 3.0)
        th.unfollow()
        assert not th.following and _threads() == 0
        with pytest.raises(ValueError, match="fps"):
            th.follow(clock, fps=0)
    assert _threads() == 0


def test_follow_a_playing_engine_until_the_theater_closes():
    eng = Engine(output="null")
    try:
        eng.wait_ready(30)
        eng.load(known_score()).result(30)
        th = Theater(known_score(), prefer="cpu")
        sink = th.attach(MemorySink(auto_confirm=True, keep=64), View(320, 180))
        th.follow(eng, fps=30)
        eng.play()
        assert _wait(lambda: len(sink.frames) >= 5 and sink.frames[-1].playhead > 0.1)
        heads = [f.playhead for f in sink.frames]
        assert heads == sorted(heads)  # the playhead moves forward with the audio clock
        th.close()  # stops following first
        assert _threads() == 0
    finally:
        eng.close()
