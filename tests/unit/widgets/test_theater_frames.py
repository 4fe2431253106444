"""Theater frames in widgets: static layers rendered once per view, sent with backpressure,
stopped and freed when hidden or closed (THR-02); the PianoRoll's theater mode."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from mos_lab.theater import View
from mos_lab.theater.cpu import CPURenderer
from mos_lab.theater.render import Renderer, open_renderer
from mos_lab.theater.render.device import RendererUnavailable
from mos_lab.theater.roll import pitch_range
from mos_lab.theater.scene import Scene
from mos_lab.widgets import PianoRoll, TheaterView
from mos_lab.widgets._theater_frames import (
    THEATER_COLORS,
    CallableSource,
    FrameFeed,
    Request,
    TheaterLayer,
    set_renderer,
    static_state,
    theater_default,
)
from tests.unit.widgets.conftest import Sent, progression

PLAYHEAD_RGB = (255, 80, 60)


class Spy:
    """A renderer that counts renders and releases, drawing with the numpy renderer."""

    def __init__(self, inner: Any, name: str = "cpu") -> None:
        self.inner, self.name = inner, name
        self.description = f"spy over {inner.description}"
        self.stats = inner.stats
        self.renders: list[View] = []
        self.released: list[View | None] = []

    def render(self, state: Any, view: View) -> np.ndarray:
        self.renders.append(view)
        return np.asarray(self.inner.render(state, view))

    def release(self, view: View | None = None) -> None:
        self.released.append(view)
        self.inner.release(view)

    def resources(self) -> dict[str, int]:
        return dict(self.inner.resources())

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def spy() -> Iterator[Spy]:
    s = Spy(CPURenderer("test"))
    old = set_renderer(s)
    yield s
    set_renderer(old)


def frames_of(sent: Sent) -> list[dict[str, Any]]:
    return [u for u in sent.updates() if "frame_info" in u]


def decode(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def view_msg(t0: float, t1: float, w: int = 640, h: int = 200) -> dict[str, Any]:
    return {"type": "view", "t0": t0, "t1": t1, "width": w, "height": h}


def test_a_static_layer_has_no_playhead_and_no_highlight() -> None:
    score = progression()
    r = CPURenderer("test")
    scene = Scene(score, span=4.0, playhead=1.2)
    live = r.render(scene.snapshot(), View(400, 160))
    state = static_state(scene.snapshot(), 0.0, 4.0)
    assert state.window == pytest.approx((0.0, 4.0)) and len(state.active_notes()) == 0
    still = r.render(state, View(400, 160))

    def playhead_px(im: np.ndarray) -> int:
        return int(np.all(im[..., :3] == PLAYHEAD_RGB, axis=-1).sum())

    assert playhead_px(live) > 100 and playhead_px(still) == 0
    with pytest.raises(ValueError, match="after"):
        static_state(scene.snapshot(), 2.0, 2.0)


def test_a_feed_renders_each_view_once_and_sends_at_most_two_unconfirmed() -> None:
    drawn: list[Request] = []
    sent: list[int] = []

    def source(t0: float, t1: float, w: int, h: int) -> bytes:
        drawn.append(Request(t0, t1, w, h))
        return b"img"

    feed = FrameFeed(CallableSource(source), lambda f, r, i: sent.append(f.seq), cache_size=4)
    reqs = [Request(float(i), i + 8.0, 100, 50) for i in range(10)]
    for r in reqs:  # the page never confirms
        feed.request(r)
    assert sent == [1, 2] and feed.in_flight == 2 and len(drawn) == 2
    assert feed.pending == reqs[-1] and feed.deferred == 8  # one kept, never a queue
    assert feed.ack(1) and sent == [1, 2, 3] and drawn[-1] == reqs[-1]  # the latest is served
    assert feed.pending is None and feed.in_flight == 2
    assert not feed.ack(99)  # an unknown frame confirms nothing
    feed.ack(2)
    feed.ack(3)
    feed.request(reqs[0])  # seen before: from the cache, no render
    assert feed.renders == 3 and feed.hits == 1 and sent[-1] == 4
    feed.close()
    feed.request(reqs[5])
    assert sent[-1] == 4 and feed.closed


def test_a_page_that_went_away_cannot_block_the_next_one() -> None:
    sent: list[int] = []
    feed = FrameFeed(CallableSource(lambda *a: b"x"), lambda f, r, i: sent.append(f.seq),
                     ack_timeout=0.05)
    for i in range(3):
        feed.request(Request(float(i), i + 1.0, 10, 10))
    assert sent == [1, 2] and feed.pending is not None
    time.sleep(0.1)  # the page was closed: its frames are never confirmed
    feed.request(Request(9.0, 10.0, 10, 10))
    assert sent == [1, 2, 3] and feed.expired == 2  # counted lost after the lease
    assert feed.in_flight == 1


@pytest.mark.seed("THR-02")
def test_backpressure_through_the_widget_page_never_confirms(session, score, spy) -> None:
    session.load(score)
    roll = PianoRoll(mode="theater")
    sent = Sent(roll)
    roll.visible = True
    for i in range(12):  # a resize drag: a new size each time, and no acknowledgement
        roll._handle_custom_msg(view_msg(-12.0, 12.0, 600 + 10 * i, 200), [])
    assert len(frames_of(sent)) == 2 and roll.feed is not None
    assert roll.feed.in_flight == 2 and len(spy.renders) == 2  # refused requests not drawn
    assert roll.feed.pending == Request(-12.0, 12.0, 710, 200)
    roll._handle_custom_msg({"type": "frame_ack", "seq": 1}, [])
    frames = frames_of(sent)
    assert len(frames) == 3 and frames[-1]["frame_info"]["width"] == 710  # the latest size
    assert roll.feed.in_flight == 2 and roll.feed.pending is None
    roll._handle_custom_msg({"type": "frame_ack", "seq": "x"}, [])
    assert roll.errors and "frame_ack.seq" in roll.errors[-1]
    roll.close()


@pytest.mark.seed("THR-02")
def test_hidden_or_closed_gets_no_frames_and_frees_its_targets(session, score, spy) -> None:
    session.load(score)
    roll = PianoRoll(mode="theater")
    sent = Sent(roll)
    roll.visible = True
    roll._handle_custom_msg(view_msg(-12.0, 12.0), [])
    roll._handle_custom_msg({"type": "frame_ack", "seq": 1}, [])
    assert len(frames_of(sent)) == 1 and spy.inner.resources()["overlays"] == 1
    roll.visible = False  # scrolled away
    assert spy.released == [View(640, 200)] and spy.inner.resources()["overlays"] == 0
    roll._handle_custom_msg(view_msg(0.0, 24.0), [])
    assert len(frames_of(sent)) == 1 and len(spy.renders) == 1  # hidden: nothing drawn
    roll.visible = True  # back: the same view comes from the cache
    roll._handle_custom_msg(view_msg(-12.0, 12.0), [])
    feed = roll.feed
    assert feed is not None and feed.hits == 1
    assert len(frames_of(sent)) == 2 and len(spy.renders) == 1
    roll._handle_custom_msg(view_msg(0.0, 24.0), [])
    roll.close()
    assert feed.closed and spy.released[-1] == View(640, 200)
    assert spy.inner.resources()["overlays"] == 0
    n = len(sent.msgs)
    roll._handle_custom_msg(view_msg(5.0, 29.0), [])
    assert len(sent.msgs) == n  # closed: nothing rendered or sent


@pytest.fixture(scope="module")
def gpu() -> Iterator[Renderer]:
    try:
        r = open_renderer("gpu", timeout=30)
    except RendererUnavailable as exc:
        pytest.skip(f"no wgpu adapter: {exc}")
    yield r
    r.close()


@pytest.mark.gpu
@pytest.mark.seed("THR-02")
def test_a_closed_theater_view_frees_its_gpu_targets(session, score, gpu) -> None:
    session.load(score)
    base = gpu.resources().get("targets", 0)
    tv = TheaterView(renderer=gpu, key=None)
    tv.visible = True
    tv._handle_custom_msg(view_msg(-0.8, 7.2, 800, 450), [])
    tv._handle_custom_msg({"type": "frame_ack", "seq": 1}, [])
    tv._handle_custom_msg(view_msg(-0.8, 7.2, 720, 405), [])  # resized
    assert tv.frames_sent == 2 and tv.frame_info["renderer"] == "wgpu"
    assert gpu.resources()["targets"] == base + 2
    img = decode(tv.frame)
    assert img.shape == (405, 720, 3) and len(np.unique(img.reshape(-1, 3), axis=0)) > 5
    tv.close()
    assert gpu.resources()["targets"] == base and gpu.resources()["overlays"] == 0


def test_the_roll_uses_the_theater_by_default_when_wgpu_imports(session, monkeypatch) -> None:
    monkeypatch.delenv("MOS_LAB_ROLL", raising=False)
    monkeypatch.delenv("MOS_LAB_RENDERER", raising=False)
    pytest.importorskip("wgpu")
    assert theater_default()
    roll = PianoRoll()
    assert roll.mode == "theater" and roll.colors == THEATER_COLORS  # legend = note colours
    roll.colors = ["#ffffff"]  # the theater has its own palette: the browser draws these
    assert roll.mode == "canvas"
    roll.close()
    monkeypatch.setenv("MOS_LAB_ROLL", "canvas")
    other = PianoRoll(key=None)
    assert not theater_default() and other.mode == "canvas"
    with pytest.raises(Exception, match="mode"):
        other.mode = "bogus"
    other.close()


def test_a_default_roll_falls_back_to_the_canvas_without_a_gpu(session, score, spy,
                                                               monkeypatch) -> None:
    monkeypatch.delenv("MOS_LAB_ROLL", raising=False)
    monkeypatch.delenv("MOS_LAB_RENDERER", raising=False)
    pytest.importorskip("wgpu")
    session.load(score)
    auto, asked = PianoRoll(key=None), PianoRoll(mode="theater", key=None)
    for roll in (auto, asked):
        roll.visible = True
        roll._handle_custom_msg(view_msg(-12.0, 12.0), [])
    assert auto.mode == "canvas" and auto.frames_sent == 0  # numpy only: the page draws
    assert asked.mode == "theater" and asked.frames_sent == 1  # asked for: numpy it is
    assert len(auto.notes) == score.n_notes * 16  # the canvas has its notes
    auto.close()
    asked.close()


def test_a_roll_strip_matches_the_page_rows_and_time_axis(session, score, spy) -> None:
    session.load(score)
    roll = PianoRoll(mode="theater")
    roll.visible = True
    roll._handle_custom_msg(view_msg(0.0, 4.0, 400, 155), [])
    info = roll.frame_info
    lo, hi = pitch_range(score)  # the one roll geometry: page rows = strip rows
    assert (info["lo"], info["hi"], info["n"]) == (lo, hi, score.n_notes)
    assert info["plot"] == [0, 0, 400, 155] and info["seq"] == 1  # the strip is all plot
    img = decode(roll.frame)
    # E4 (64) sounds 0..0.5 s (C major) and not 0.5..1 s (F major): 100 px per second
    rh = 155 / (hi - lo + 1)
    y = int(155 - (64 - lo + 0.5) * rh)
    track0 = tuple(int(c) for c in bytes.fromhex(THEATER_COLORS[0][1:]))
    assert tuple(img[y, 25]) == track0 and tuple(img[y, 75]) != track0
    roll.close()


def test_a_layer_follows_the_score_and_its_settings() -> None:
    a, b = progression(), progression().transpose(5)
    current = [a]
    layer = TheaterLayer(lambda: current[0], renderer=CPURenderer("test"))
    v0 = layer.version()
    data, info = layer(Request(-0.8, 7.2, 320, 180))
    assert data[:4] == b"\x89PNG" and info["plot"][0] > 0  # keyboard strip on the left
    assert info["lo"] == 41  # lowest note 43, padded by 2
    current[0] = b
    assert layer.version() != v0
    v1 = layer.version()
    layer.color_by = "velocity"
    assert layer.version() != v1
    _, info = layer(Request(-0.8, 7.2, 320, 180))
    assert info["lo"] == 46  # the score read at render time
