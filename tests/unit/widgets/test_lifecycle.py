"""Lifecycles: 1,000 create/display/close cycles leak nothing; streams stop on close;
engine-to-widget latency (DRF-02)."""

from __future__ import annotations

import gc
import statistics
import threading
import time
import tracemalloc

import pytest
from ipywidgets.widgets.widget import _instances

from mos_lab.audio import BrowserOutput
from mos_lab.widgets import ChordDisplay, Keyboard, PianoRoll, Player, Transport
from mos_lab.widgets._base import MosWidget
from mos_lab.widgets._lifecycle import Lifecycle
from tests.conftest import provided_session
from tests.unit.widgets.conftest import progression

KINDS = [Transport, Keyboard, ChordDisplay, PianoRoll]


def _alive_widgets() -> int:
    # type(o), not isinstance: isinstance reads o.__class__, which on some of the
    # process's objects (torch's deprecated-alias proxies) warns, and warnings are errors
    return sum(issubclass(type(o), MosWidget) for o in gc.get_objects())


def _cycle(i: int) -> None:
    w = Player(static=False) if i % 10 == 9 else KINDS[i % 4]()
    w._repr_mimebundle_()  # what display() asks for
    w.visible = True  # the page reports it on screen: data is sent
    w._handle_custom_msg({"type": "bogus"}, [])  # and an error reply
    w.close()


@pytest.mark.seed("WID-02")
def test_a_thousand_create_display_close_cycles_leak_nothing(session):
    session.load(progression())
    for i in range(50):  # warm caches (ESM, analysis, traitlets)
        _cycle(i)
    gc.collect()
    base, comms, alive = session.doctor(), len(_instances), _alive_widgets()
    tracemalloc.start()
    gc.collect()
    m0 = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    for i in range(1000):
        _cycle(i)
    took = time.perf_counter() - t0
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - m0
    tracemalloc.stop()
    assert session.doctor() == base
    assert len(_instances) == comms  # ipywidgets' registry: every comm (and Layout) closed
    assert _alive_widgets() == alive  # nothing keeps a closed widget alive
    assert session.registry.created - session.registry.closed == base["widgets"]
    assert grown < 1_000_000, f"memory grew {grown / 1e6:.2f} MB over 1,000 cycles"
    print(f"\n1,000 cycles in {took:.2f} s; memory +{grown / 1e3:.0f} kB; doctor {base}")


@pytest.mark.seed("WID-02")
def test_close_releases_subscriptions_timers_threads_and_streams(session):
    w = Transport()
    fired = threading.Event()
    stopped: list[str] = []
    w.life.timer(60.0, fired.set, name="never")
    w.life.thread(lambda stop: stop.wait(), name="worker")
    w.life.stream("frames", lambda: stopped.append("frames"))
    counts = w.life.counts()
    assert counts == {"subscriptions": 4, "timers": 1, "threads": 1, "streams": 1}
    assert session.doctor()["timers"] == 1
    assert any(t.name.endswith("-worker") for t in threading.enumerate())
    w.close()
    assert w.life.counts() == dict.fromkeys(counts, 0) and stopped == ["frames"]
    assert not any(t.name.endswith("-worker") for t in threading.enumerate())
    assert session.doctor()["timers"] == 0 and not fired.is_set()
    with pytest.raises(RuntimeError, match="closed"):
        w.life.stream("late", lambda: None)


def test_lifecycle_close_never_raises():
    life = Lifecycle("t")
    life.stream("bad", lambda: 1 / 0)  # type: ignore[func-returns-value]
    life.close()
    assert life.counts()["streams"] == 0


@pytest.fixture
def browser_session():
    with provided_session(BrowserOutput(48_000, lookahead_s=0.05, buffer_s=0.1), 10) as s:
        yield s


@pytest.mark.seed("WID-04", "ENG-05", "APO-08")
def test_the_audio_stream_stops_when_its_transport_closes(browser_session):
    s = browser_session
    out = s.browser_output
    assert out is not None
    s.load(progression())
    w = Transport()
    sent = []
    real = w.send
    w.send = lambda content, buffers=None: (sent.append(content), real(content, buffers))
    s.engine.play()
    assert s.engine.state == "waiting_for_audio"  # held until a click, not silent
    base = s.doctor()
    w._handle_custom_msg({"type": "unlocked", "view": "v1", "sample_rate": 48_000}, [])
    assert w.audio_view == "v1" and out.attached == w.life.owner
    deadline = time.monotonic() + 5
    while not any(m.get("type") == "pcm" for m in sent) and time.monotonic() < deadline:
        time.sleep(0.01)
    pcm = [m for m in sent if m.get("type") == "pcm"]
    assert pcm and all(m["view"] == "v1" for m in pcm) and w.pcm_frames > 0
    end = pcm[0]["start"] + pcm[0]["frames"]  # ring index just after the first block
    w._handle_custom_msg({"type": "ack", "view": "v1", "played": end}, [])
    assert out.frames_acked == end and s.engine.state == "playing"
    assert s.doctor()["streams"] == base["streams"] + 1
    w.close()
    assert out.attached is None and not out.unlocked
    assert s.doctor()["streams"] == base["streams"]
    assert s.engine.state == "waiting_for_audio"  # the browser is gone: says so
    n = len(sent)
    time.sleep(0.1)
    assert len(sent) == n  # nothing more is sent to a closed widget


def test_a_second_view_takes_over_the_audio(browser_session):
    s = browser_session
    a, b = Transport(), Transport()
    a._handle_custom_msg({"type": "unlocked", "view": "va", "sample_rate": 48_000}, [])
    b._handle_custom_msg({"type": "unlocked", "view": "vb", "sample_rate": 44_100}, [])
    assert a.audio_view == "" and b.audio_view == "vb"
    assert s.browser_output is not None and s.browser_output.attached == b.life.owner
    assert a.life.counts()["streams"] == 0 and b.life.counts()["streams"] == 1
    b._handle_custom_msg({"type": "audio_lost", "view": "vb"}, [])
    assert not s.browser_output.unlocked and b.audio_view == ""
    a.close()
    b.close()


@pytest.mark.seed("DRF-02")
def test_engine_to_widget_latency_p99_under_20ms(session):
    session.load(progression())
    crowd = [Player(static=False) for _ in range(4)]  # 20 other widgets listening too
    w = Transport()
    emitted: dict[int, float] = {}
    lat: list[float] = []
    session.bus.subscribe("transport", lambda e: emitted.__setitem__(0, e.time), owner=w)
    real = w._send

    def timed(msg, buffers=None):  # the moment the state leaves for the page
        state = msg.get("state", {})
        if "clock" in state and 0 in emitted:
            lat.append(time.monotonic() - emitted.pop(0))
        real(msg, buffers)

    w._send = timed
    eng = session.engine
    for i in range(300):
        (eng.play if i % 2 == 0 else eng.pause)()
        if i % 3 == 0:
            time.sleep(0.001)
    assert len(lat) == 300
    lat.sort()
    p99 = lat[int(len(lat) * 0.99) - 1]
    print(f"\nengine->widget latency: median {statistics.median(lat) * 1e3:.2f} ms, "
          f"p99 {p99 * 1e3:.2f} ms, max {lat[-1] * 1e3:.2f} ms")
    assert p99 < 0.020
    for p in crowd:
        p.close()
    w.close()
