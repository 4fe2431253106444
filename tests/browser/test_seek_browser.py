"""A seek made before the page enables audio is where playback starts once it does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import SHOTS, Lab, kernel_json, run_notebook, wait_until, write_notebook

pytestmark = pytest.mark.browser

CELLS = [
    "import mos_lab\nsession = mos_lab.session()\n"
    "rows = [(i * 240, 220, 60 + i % 12, 90) for i in range(200)]\n"
    "session.load(mos_lab.Score.from_notes(rows, title='seek first'))",
    "player = mos_lab.widgets.Player(compact=True)\nplayer",
    "player.transport.seek(3.0)\nplayer.transport.play()\nprint('held')",
]


def _notebook(root: Path) -> str:
    return write_notebook(root, "seek_first.ipynb", CELLS)


def test_a_seek_before_audio_is_enabled_is_where_playback_starts(
        lab: Lab, browser_context: Any) -> None:
    page = browser_context.new_page()
    try:
        run_notebook(page, lab.open_url(_notebook(lab.root)))
        player = page.locator(".mos-player").first
        player.locator(".mos-transport").wait_for(timeout=60_000)
        wait_until(lambda: "held" in page.inner_text(".jp-NotebookPanel"), 60,
                   what="the cells to run")
        st = kernel_json(page, "mos_lab.session().status()")
        assert st["state"] == "waiting_for_audio", st
        held = kernel_json(page, "mos_lab.session().engine.position")
        assert held == pytest.approx(3.0, abs=0.01)  # the kernel says where it will start
        player.locator(".mos-play").click()
        wait_until(lambda: kernel_json(page, "mos_lab.session().status()")["browser"]
                   ["frames_acked"] > 24_000, 20, what="the browser to play audio")
        pos = kernel_json(page, "mos_lab.session().engine.position")
        assert 3.0 <= pos < 6.0, pos
        shown = float(player.locator(".mos-roll").get_attribute("data-pos") or 0)
        assert 3.0 <= shown < 6.0, shown
        player.screenshot(path=str(SHOTS / "seek_first.png"))
        kernel_json(page, "player.close() or mos_lab.session().stop()")
    finally:
        page.close()
