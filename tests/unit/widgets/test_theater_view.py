"""TheaterView and theater-backed rolls during playback: no re-render while the music
plays, no audio underrun while the theater is live, only visible views render (WID-07)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mos_lab.audio import NullOutput
from mos_lab.kernel.session import Session
from mos_lab.score import Score
from mos_lab.theater import View
from mos_lab.theater.cpu import CPURenderer
from mos_lab.widgets import PianoRoll, TheaterView
from mos_lab.widgets._theater_frames import set_renderer
from tests.conftest import provided_session
from tests.unit.widgets.conftest import Sent, progression
from tests.unit.widgets.test_theater_frames import Spy, decode, view_msg


@pytest.fixture
def spy() -> Iterator[Spy]:
    s = Spy(CPURenderer("test"))
    old = set_renderer(s)
    yield s
    set_renderer(old)


def long_score(seconds: int = 40) -> Score:
    """Chords of ``progression()`` repeated for about ``seconds`` at 120 bpm."""
    one = progression()
    reps = math.ceil(seconds / one.duration)
    rows = [(int(n["start"]) + k * one.end_tick, int(n["duration"]), int(n["pitch"]), 90)
            for k in range(reps) for n in one.notes]
    return Score.from_notes(rows, title="long")


class RollPage:
    """What piano_roll.js asks for while it draws: the strip holding the window, and the
    next one once half-way through (prefetch); it confirms every frame it gets."""

    def __init__(self, w: Any, width: int = 900, height: int = 200) -> None:
        self.w, self.width, self.height = w, width, height
        self.asked: set[tuple[float, float]] = set()
        self.acked = 0

    def draw(self, pos: float, playing: bool) -> None:
        span = self.w.window
        t0 = pos - span * 0.25
        k = math.floor(t0 / span)
        self.ask(k)
        if playing and t0 - k * span > 0.5 * span:
            self.ask(k + 1)
        info = self.w.frame_info
        if info and info["seq"] > self.acked:
            self.acked = info["seq"]
            self.w._handle_custom_msg({"type": "frame_ack", "seq": info["seq"]}, [])

    def ask(self, k: int) -> None:
        span = self.w.window
        win = (k * span, (k + 2) * span)
        if win not in self.asked:
            self.asked.add(win)
            self.w._handle_custom_msg(view_msg(*win, 2 * (self.width - 34), self.height), [])


def test_theater_view_needs_no_arguments_and_follows_the_session(session, spy) -> None:
    tv = TheaterView()
    sent = Sent(tv)
    assert tv.current_score is None and tv.clock["rate"] == 0
    tv.visible = True
    session.load(progression())  # the session's score: the view shows it
    assert len(tv.notes) == progression().n_notes * 16 and tv.layer_rev >= 1
    tv._handle_custom_msg(view_msg(-0.8, 7.2, 640, 360), [])
    assert tv.frames_sent == 1 and tv.frame_info["rev"] == tv.layer_rev
    assert decode(tv.frame).shape == (360, 640, 3)
    session.engine.play()  # a state change reaches the page; no position stream
    assert tv.clock["state"] == "playing" and tv.clock["rate"] > 0
    out = session.engine.output
    before = len(sent.updates())
    out.tick(400)  # ~4 s of audio
    assert len(sent.updates()) - before <= 2  # no stream of positions (state changes only)
    assert tv.frames_sent == 1 and len(spy.renders) == 1
    rev = tv.layer_rev
    tv.orientation = "portrait"
    assert tv.layer_rev == rev + 1  # the page drops the landscape pages
    tv._handle_custom_msg({"type": "frame_ack", "seq": 1}, [])
    tv._handle_custom_msg(view_msg(-0.8, 7.2, 360, 640), [])
    assert tv.frame_info["portrait"] and decode(tv.frame).shape == (640, 360, 3)
    assert spy.renders[-1] == View(360, 640, "portrait")
    with pytest.raises(Exception, match="orientation"):
        tv.orientation = "diagonal"
    assert "cpu" in tv.active_renderer
    tv.close()


@pytest.mark.seed("WID-07")
def test_playback_costs_no_render_after_the_first_frame(session, spy) -> None:
    """Kernel CPU during playback: the page moves the playhead; the kernel renders only
    when the view changes (a new strip or page), never per displayed frame."""
    session.load(long_score())
    roll = PianoRoll(mode="theater")
    tv = TheaterView()
    for w in (roll, tv):
        w.visible = True
    page = RollPage(roll)
    page.draw(0.0, playing=False)
    tv._handle_custom_msg(view_msg(-0.8, 7.2, 640, 360), [])
    first = len(spy.renders)
    assert first == 2 and roll.frames_sent == 1 and tv.frames_sent == 1
    eng, out = session.engine, session.engine.output
    eng.play()
    t = time.perf_counter()
    out.tick(round(3.0 * 48_000 / out.block))  # 3 s of music, nobody changes the view
    assert len(spy.renders) == first  # renders == 0 during playback
    assert roll.frames_sent == 1 and tv.frames_sent == 1
    # the page at 60 fps for 20 s of music: strips when the window moves on, not frames
    for i in range(20 * 60):
        page.draw(3.0 + i / 60, playing=True)
    strips = len(page.asked)
    assert roll.feed is not None and roll.feed.renders == strips <= 20 / roll.window + 3
    print(f"\n3 s played with 2 theater widgets: 0 renders; 1,200 page frames over 20 s: "
          f"{strips} strips rendered ({time.perf_counter() - t:.2f} s)")
    roll.close()
    tv.close()


@pytest.fixture
def live_session() -> Iterator[Session]:
    with provided_session(NullOutput(48_000, 256, lookahead_s=0.1), 10) as s:
        yield s


@pytest.mark.seed("WID-07")
def test_audio_does_not_underrun_while_the_theater_is_live(live_session, spy) -> None:
    """A real-time clock (NullOutput) plays while two theater widgets re-render at every
    request of a page being resized (a new size 30 times a second) on the numpy renderer,
    the one that holds the GIL longest."""
    s = live_session
    s.load(long_score())
    roll, tv = PianoRoll(mode="theater"), TheaterView()
    for w in (roll, tv):
        w.visible = True
    out = s.engine.output
    s.engine.play()
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 3.0:
        n += 1
        time.sleep(max(0.0, t0 + n / 30 - time.monotonic()))
        roll._handle_custom_msg(view_msg(0.0, 24.0, 900 + n % 50, 200), [])
        tv._handle_custom_msg(view_msg(-0.8, 7.2, 640 + n % 50, 360), [])
        for w in (roll, tv):
            w._handle_custom_msg({"type": "frame_ack", "seq": w.frame_info["seq"]}, [])
    played = s.engine.position
    assert len(spy.renders) >= 10 and roll.frames_sent + tv.frames_sent == len(spy.renders)
    assert out.underruns == 0, out.stats()
    assert played > 2.5
    print(f"\n3 s of real-time playback, {len(spy.renders)} renders in the kernel: "
          f"{out.underruns} underruns, position {played:.2f} s")
    roll.close()
    tv.close()


@pytest.mark.seed("WID-07")
def test_a_hundred_theater_views_stay_responsive_only_visible_ones_render(session, spy) -> None:
    session.load(progression())
    base = session.doctor()
    t = time.perf_counter()
    views = [TheaterView(key=None, height=240) for _ in range(120)]
    made = time.perf_counter() - t
    on_screen = views[:5]
    for v in on_screen:
        v.visible = True
    t = time.perf_counter()
    for v in views:  # every page asks (a stale message from an off-screen view included)
        v._handle_custom_msg(view_msg(-0.8, 7.2, 426, 240), [])
    asked = time.perf_counter() - t
    assert len(spy.renders) == 5 and [v.frames_sent for v in on_screen] == [1] * 5
    assert all(v.frames_sent == 0 and v.frame == b"" and v.feed is None for v in views[5:])
    # scrolled down: five leave the screen (targets freed), five come in and render
    for v in on_screen:
        v.visible = False
    for v in views[50:55]:
        v.visible = True
        v._handle_custom_msg(view_msg(-0.8, 7.2, 426, 240), [])
    assert len(spy.renders) == 10 and len(spy.released) >= 5
    assert sum(v.frames_sent for v in views) == 10
    t = time.perf_counter()
    session.engine.play()  # a state change reaches all 120 (clock only, no render)
    session.engine.pause()
    state = time.perf_counter() - t
    assert len(spy.renders) == 10
    for v in views:
        v.close()
    assert session.doctor() == base  # feeds closed with their widgets
    print(f"\n120 TheaterViews: made in {made:.2f} s, 120 view requests in {asked:.3f} s "
          f"(5 rendered), play+pause to all in {state * 1000:.0f} ms")
    assert asked < 5.0 and state < 2.0


def test_the_renderer_is_known_before_the_page_asks_for_a_frame(session, spy) -> None:
    """A notebook run top to bottom asks before the browser drew: it printed "none yet"."""
    tv = TheaterView()
    assert tv.feed is None and not spy.renders
    assert tv.active_renderer == f"cpu: {spy.description}"
    tv.close()


def test_the_theater_notebook_run_top_to_bottom_names_its_renderer(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    root = Path(__file__).resolve().parents[3]
    monkeypatch.setenv("PYTHONPATH", str(root))
    monkeypatch.setenv("MOS_LAB_OUTPUT", "null")
    nb = nbformat.read(shutil.copy(root / "notebooks" / "01_theater.ipynb", tmp_path),
                       as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    last = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    assert last.startswith(("wgpu: ", "cpu: ")) and "none yet" not in last, last
