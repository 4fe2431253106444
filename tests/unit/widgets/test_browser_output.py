"""BrowserOutput: the page's played count is the clock; PCM is the engine's render;
backpressure, flush on seek, autoplay lock, hostile acks (through mos_lab.testing.FakePage)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from mos_lab.audio import BrowserOutput
from mos_lab.engine import Engine
from mos_lab.testing import FakePage
from tests.unit.widgets.conftest import progression

SR = 48_000


def wait(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.002)


@pytest.fixture
def rig():
    out = BrowserOutput(SR, lookahead_s=0.05, buffer_s=0.1, chunk=1024)
    eng = Engine(output=out, sample_rate=SR, lookahead_s=0.05)
    try:
        eng.wait_ready(10)
    except BaseException:  # never leave its audio threads to the next test
        eng.close()
        raise
    page = FakePage(out)
    yield eng, out, page
    eng.close()


@pytest.mark.seed("ENG-05", "APO-08")
def test_starts_suspended_and_play_is_held_until_the_page_unlocks(rig):
    eng, out, page = rig
    eng.load(progression()).result(10)
    eng.play()
    assert out.state == "suspended" and eng.state == "waiting_for_audio"
    time.sleep(0.05)
    assert page.queued == 0 and eng.position_frames == 0  # nothing sent, clock held
    page.unlock()
    wait(lambda: page.queued >= 2400)
    assert page.play(2400) == 2400
    assert eng.state == "playing"
    assert out.ring.frames_read == page.played_index  # the page's count is the clock
    assert eng.position == pytest.approx(2400 / SR, abs=out.block / SR)


def test_the_page_plays_exactly_the_offline_render(rig):
    eng, out, page = rig
    score = progression()
    eng.load(score).result(10)
    page.unlock()
    eng.play()
    total = 0
    while total < SR * 2:
        wait(lambda: page.queued >= 512)
        total += page.play(512)
    live = page.audio()
    ref = eng.render(score, block=out.block)
    a = live[np.argmax(np.abs(live).max(1) > 1e-6):]
    b = ref[np.argmax(np.abs(ref).max(1) > 1e-6):]
    n = min(len(a), len(b), SR)
    assert n > SR // 2
    assert np.abs(a[:n] - b[:n]).max() < 1e-4


def test_backpressure_bounds_what_is_in_flight(rig):
    eng, out, page = rig
    eng.load(progression()).result(10)
    page.unlock()
    eng.play()
    time.sleep(0.5)  # the page plays nothing and acks nothing
    in_flight = out.ring.frames_sent - out.ring.played
    assert 0 < in_flight <= 2 * out.buffer_frames + out.chunk


def test_seek_flushes_what_the_page_queued(rig):
    eng, _, page = rig
    eng.load(progression()).result(10)
    page.unlock()
    eng.play()
    wait(lambda: page.queued >= 2048)
    page.play(2048)
    flushes = sum(m["type"] == "flush" for m in page.messages)
    eng.seek(4.0)
    wait(lambda: sum(m["type"] == "flush" for m in page.messages) > flushes)
    wait(lambda: page.queued >= 512)
    page.play(512)
    assert eng.position == pytest.approx(4.0 + 512 / SR, abs=0.02)


def test_int16_blocks_decode_to_the_same_audio():
    out = BrowserOutput(SR, lookahead_s=0.05, encoding="int16")
    with Engine(output=out, sample_rate=SR, lookahead_s=0.05) as eng:
        eng.wait_ready(10)
        page = FakePage(out)
        eng.load(progression()).result(10)
        page.unlock()
        eng.play()
        wait(lambda: page.queued >= 4096)
        page.play(4096)
        assert np.abs(page.audio()).max() > 0.01
        assert all(m["encoding"] == "s16" for m in page.messages if m["type"] == "pcm")


@pytest.mark.parametrize("msg", [None, [], {"type": 1}, {"type": "ack"},
                                 {"type": "ack", "played": -1}, {"type": "ack", "played": True},
                                 {"type": "ack", "played": 1.5}, {"type": "ack", "played": 0,
                                                                  "underruns": "x"},
                                 {"type": "unlocked", "sample_rate": 1},
                                 {"type": "rm -rf"}])
def test_malformed_page_messages_are_refused(msg):
    out = BrowserOutput(SR)
    assert isinstance(out.handle(msg), str)
    assert out.ring.played == 0 and not out.unlocked


def test_an_ack_beyond_what_was_sent_is_clamped():
    out = BrowserOutput(SR)
    assert out.handle({"type": "ack", "played": 10**12}) is None
    assert out.ring.frames_read == 0


def test_close_stops_the_sender_thread(rig):
    eng, out = rig[0], rig[1]
    # this output's sender (not any other test's, whatever it left running)
    sender = next(t for t in threading.enumerate() if t is out._sender)
    assert sender.name == "apollo-browser-send" and sender.is_alive()
    eng.close()
    assert not sender.is_alive()  # joined by close, not merely told to stop


@pytest.mark.seed("ENG-05")
@pytest.mark.parametrize("then", ["nothing", "tempo", "pause"])
def test_a_seek_before_the_page_unlocks_is_where_playback_starts(rig, then):
    eng, out, page = rig
    eng.load(progression()).result(10)
    eng.seek(3.0)
    eng.play()  # held: the page has not unlocked audio yet
    assert eng.state == "waiting_for_audio"
    wait(lambda: eng.position == pytest.approx(3.0, abs=1e-6))  # the kernel says where
    if then == "tempo":  # a rebuild resumes at the heard position: it must be the seek's
        eng.tempo = 0.8
    elif then == "pause":
        eng.pause()
        assert eng.position == pytest.approx(3.0, abs=1e-6)
        eng.play()
    time.sleep(0.05)
    # the kernel shows the seek's place before the click, also after a tempo change (whose
    # jump the renderer applies only once the page plays)
    assert eng.position == pytest.approx(3.0, abs=1e-6)
    page.unlock()
    wait(lambda: page.queued >= 2400)
    page.play(2400)
    rate = 0.8 if then == "tempo" else 1.0  # score seconds per second
    assert eng.position == pytest.approx(3.0 + rate * 2400 / SR, abs=out.block / SR)
