"""A stopped kernel with a notebook page open is left alone: its output parks (nothing
streamed) and the page acknowledges once a second instead of ~47 times, and play after
that resumes where it stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Lab, kernel_json, run_notebook, wait_until, write_notebook

pytestmark = pytest.mark.browser

CELLS = [
    "import time, mos_lab\nsession = mos_lab.session()\nout = session.engine.output\n"
    "rows = [(i * 240, 200, 60 + i % 12, 90) for i in range(400)]\n"
    "session.load(mos_lab.Score.from_notes(rows, title='idle page'))",
    "player = mos_lab.widgets.Player(compact=True)\nplayer",
    "print('idle page ready')",
]
ACK_AGE = "round(time.monotonic() - out.last_ack, 3)"


def _notebook(root: Path) -> str:
    return write_notebook(root, "idle_page.ipynb", CELLS)


def test_a_stopped_kernel_with_a_page_open_parks_and_is_acked_rarely(
        lab: Lab, browser_context: Any) -> None:
    page = browser_context.new_page()
    try:
        run_notebook(page, lab.open_url(_notebook(lab.root)))
        player = page.locator(".mos-player").first
        player.locator(".mos-transport").wait_for(timeout=60_000)
        wait_until(lambda: "idle page ready" in page.inner_text(".jp-NotebookPanel"), 60,
                   what="the cells to run")
        player.locator(".mos-play").click()  # enables the page's audio and plays
        wait_until(lambda: kernel_json(page, "out.stats()['frames_acked']") > 24_000, 30,
                   what="the browser to play audio")
        kernel_json(page, "session.engine.pause() or True")
        wait_until(lambda: kernel_json(page, "out.parked"), 40, what="the output to park")
        sent = kernel_json(page, "out.blocks_sent")
        ages = []
        for _ in range(12):  # 47 acks a second would keep every age under ~0.05 s
            ages.append(kernel_json(page, ACK_AGE))
            page.wait_for_timeout(250)
        assert max(ages) > 0.5, ages
        assert max(ages) < 3.0, ages  # still acknowledged: the page is alive
        assert kernel_json(page, "out.blocks_sent") == sent  # nothing streamed while parked
        under1 = kernel_json(page, "out.stats()['browser_underruns']")
        before = kernel_json(page, "session.engine.position")
        kernel_json(page, "session.engine.play() or True")
        wait_until(lambda: kernel_json(page, "session.engine.position") > before + 0.5, 20,
                   what="playback to resume after parking")
        page.wait_for_timeout(1000)
        under2 = kernel_json(page, "out.stats()['browser_underruns']")
        # resuming sends from where the page is: its old ack is not taken for progress
        assert under2 - under1 <= 1, (under1, under2, kernel_json(page, "out.stats()"))
        kernel_json(page, "player.close() or session.stop() or True")
    finally:
        page.close()
