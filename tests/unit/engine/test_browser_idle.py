"""The browser output parks while the engine is silent, with a page open (issue 18, item 2).

Why: the notebook's default output streamed silence to an unlocked page and polled every
5 ms while the transport was stopped, so every idle kernel with a player on screen kept a
core busy. ``Page`` below plays like ``esm/worklet.js``: a prebuffer before (re)starting,
one underrun counted when its queue runs dry, and a report (ack) every 1024 frames, played
or not, in real time from its own thread (not counted as the engine's CPU).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from mos_lab.audio import BrowserOutput, kernels
from mos_lab.engine import Engine
from mos_lab.testing import FakePage
from tests.unit.hub.test_idle_engine import _score, cpu_over, engine_threads, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="per-thread CPU read from /proc (Linux)")
SR = 48_000
QUANTUM = 1024  # frames per page report, as transport.js asks of the worklet


class Page(FakePage):
    """A page whose worklet plays in real time: prebuffer, underrun count, regular acks."""

    def __init__(self, output: BrowserOutput, prebuffer: int = 2880) -> None:
        super().__init__(output)
        self.prebuffer = prebuffer
        self.started = False
        self.under = 0
        self.reports: list[tuple[int, bool]] = []  # (played index, running) per ack
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-page", daemon=True)

    def open(self) -> None:
        """The click: unlock audio and start the worklet's clock."""
        self.unlock()
        self._thread.start()

    def _run(self) -> None:
        period = QUANTUM / SR
        due = time.monotonic()
        while not self._halt.is_set():
            due += period
            time.sleep(max(0.0, due - time.monotonic()))
            if not self.started and self.queued >= self.prebuffer:
                self.started = True
            if self.started:
                with self._lock:
                    have = sum(len(b[1]) for b in self.blocks)
                if have < QUANTUM:  # ran dry inside this quantum, as the worklet counts
                    self.started = False
                    self.under += 1
                self.consume(min(have, QUANTUM))
            running = self.started and self.queued > 0
            self.reports.append((self.played_index, running))
            self.output.handle({"type": "ack", "played": self.played_index,
                                "underruns": self.under})

    def close(self) -> None:
        self._halt.set()
        if self._thread.is_alive():
            self._thread.join(2.0)


@pytest.fixture(scope="module", autouse=True)
def _kernels() -> None:
    kernels.warm_up()


@pytest.fixture
def rig() -> Iterator[tuple[Engine, BrowserOutput, Page]]:
    out = BrowserOutput(SR, lookahead_s=0.1)
    eng = Engine(output=out, sample_rate=SR)
    page: Page | None = None
    try:
        eng.wait_ready(10)
        eng.load(_score()).result(10)
        page = Page(out)
        page.open()
        yield eng, out, page
    finally:
        if page is not None:
            page.close()
        eng.close()


def test_a_stopped_engine_with_a_page_open_parks_and_uses_no_cpu(rig) -> None:
    eng, out, page = rig
    eng.play()
    assert wait_for(lambda: eng.position > 0.3, 5.0), out.stats()
    assert not out.parked  # streaming while it plays
    eng.stop()
    assert wait_for(lambda: out.parked, 5.0), out.stats()
    assert "apollo-browser-send" not in engine_threads()  # the sender has ended
    time.sleep(0.4)  # the page plays out the silence it holds
    sent = out.blocks_sent
    cpu, runs, per_thread = cpu_over(2.0)
    # Before parking: the sender woke every 5 ms and sent ~47 blocks of silence a second.
    assert out.blocks_sent == sent, "nothing is streamed while parked"
    assert cpu < 0.01, per_thread
    assert runs <= 8, per_thread
    # The page is not left thinking the stream died: it goes on reporting, not running.
    n = len(page.reports)
    assert wait_for(lambda: len(page.reports) > n + 5, 2.0)
    assert not page.reports[-1][1]
    assert out.state == "running" and out.unlocked
    # Running dry after the park is not an underrun; the page's own count did see it.
    assert page.under >= 1 and out.browser_underruns == 0, out.stats()
    assert eng.position == 0.0 and eng.state == "ready"


def test_play_after_parking_streams_again_and_the_position_advances(rig) -> None:
    eng, out, page = rig
    assert wait_for(lambda: out.parked, 5.0), out.stats()  # loaded, never played
    time.sleep(0.2)
    sent, heard = out.blocks_sent, len(page.audio())
    eng.play()
    assert wait_for(lambda: not out.parked, 1.0)
    assert wait_for(lambda: eng.position > 0.5, 5.0), out.stats()
    assert out.blocks_sent > sent + 5 and out.ring.played > 0.5 * SR
    assert page.reports[-1][1]  # the page runs again
    got = page.audio()[heard:]
    assert np.abs(got).max() > 1e-3, "the score is heard after waking"
    eng.pause()
    assert wait_for(lambda: out.parked, 5.0)
    paused_at = eng.position
    parks = out.parks
    eng.play()  # a second wake: a new sender, the clock goes on from the pause
    assert wait_for(lambda: eng.position > paused_at + 0.3, 5.0), out.stats()
    assert out.parks == parks and not out.parked
    assert out.browser_underruns <= 1, out.stats()  # loose: a loaded 2-core CI


def test_a_seek_while_parked_is_flushed_and_heard_from_there(rig) -> None:
    eng, out, page = rig
    assert wait_for(lambda: out.parked, 5.0)
    n = len(page.messages)
    eng.seek(2.0)
    eng.play()
    assert wait_for(lambda: eng.position > 2.2, 5.0), out.stats()
    assert eng.position < 4.0
    # The silence rendered before the seek is dropped (flushed) and the first block sent
    # after waking starts where the flush cut (the seek's time on the ring).
    after = page.messages[n:]
    pcm = [m for m in after if m["type"] == "pcm"]
    assert after[0]["type"] == "flush", after[:2]
    assert pcm[0]["start"] == after[0]["before"]
    assert eng.scheduler.frame_at(pcm[0]["start"]) == pytest.approx(2.0 * SR, abs=256)


def test_a_live_note_wakes_the_parked_output(rig) -> None:
    eng, out, page = rig
    assert wait_for(lambda: out.parked, 5.0)
    heard = len(page.audio())
    eng.note_on(64, 100)
    assert wait_for(lambda: not out.parked, 1.0)
    time.sleep(0.4)
    eng.note_off(64)
    assert wait_for(lambda: out.parked, 10.0), out.stats()  # after its release was played
    got = page.audio()[heard:]
    assert np.abs(got).max() > 1e-4, "the live note reached the page"


def test_a_page_lost_while_parked_then_play_waits_for_the_click(rig) -> None:
    """Parked, the page loses its audio (tab closed): play() waits for a click, as ever."""
    eng, out, page = rig
    assert wait_for(lambda: out.parked, 5.0)
    assert out.handle({"type": "suspended"}) is None
    eng.play()
    assert wait_for(lambda: not out.parked, 1.0)  # woken, but nothing may stream yet
    assert eng.state == "waiting_for_audio" and out.state == "suspended"
    sent = out.blocks_sent
    time.sleep(0.2)
    assert out.blocks_sent == sent and eng.position == 0.0
    page.unlock()  # the click
    assert wait_for(lambda: eng.position > 0.3, 5.0), out.stats()
    assert eng.state == "playing" and out.blocks_sent > sent
