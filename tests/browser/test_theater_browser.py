"""Theater-backed widgets in a real JupyterLab + Chromium: the kernel's frames arrive, are
drawn, and are confirmed; the page draws the playhead itself.

The notebook is written into the lab's root at test time. The kernel is the oracle for
what was rendered and sent; the page's canvas pixels say whether the image arrived.
Screenshots go to /tmp/mos_lab_shots (look at them).

The page is opened once per module; each test runs both cells again (the last test's
views closed), so it gets a new TheaterView and PianoRoll whatever ran before it.
"""

from __future__ import annotations

from typing import Any

import nbformat
import pytest

from tests.browser.conftest import SHOTS, Lab, kernel_json, rerun_cells, run_notebook, wait_until

pytestmark = pytest.mark.browser

SETUP = """\
import mos_lab
from mos_lab.widgets import PianoRoll, TheaterView
chords = [(48, 60, 64, 67), (53, 60, 65, 69), (43, 59, 62, 65, 67), (48, 60, 64, 67)]
rows = [(i * 480, 480, p, 90) for i, ch in enumerate(chords * 8) for p in ch]
rows += [(i * 240, 200, 72 + (i * 5) % 12, 70) for i in range(64)]
s = mos_lab.session()
s.load(mos_lab.Score.from_notes(rows, title="theater test"))
tv = TheaterView(height=320)
tv"""
ROLL = """roll = PianoRoll(mode="theater", height=200)
roll"""

CANVAS_STATS = """(el) => {
  const c = el.querySelector('canvas');
  const g = c.getContext('2d');
  const d = g.getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  let blue = 0;
  for (let i = 0; i < d.length; i += 16) {
    seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    const near = (v, c) => Math.abs(v - c) < 12;  // track 1's colour, #4c9be8
    if (near(d[i], 0x4c) && near(d[i + 1], 0x9b) && near(d[i + 2], 0xe8)) blue++;
  }
  return { colors: seen.size, blue, w: c.width, h: c.height, drawn: el.dataset.drawn || '',
           frames: el.dataset.frames || '0', renderer: el.dataset.renderer || '' };
}"""


@pytest.fixture(scope="module")
def theater_page(lab: Lab, browser_context: Any) -> Any:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP),
                                         nbformat.v4.new_code_cell(ROLL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # no kernel picker dialog
    nbformat.write(nb, lab.root / "theater_test.ipynb")
    page = browser_context.new_page()
    run_notebook(page, lab.open_url("theater_test.ipynb"))
    page.wait_for_selector(".mos-theater canvas", timeout=60_000)
    page.wait_for_selector(".mos-roll:not(.mos-theater) canvas", timeout=60_000)
    yield page
    page.close()


@pytest.fixture
def views(theater_page: Any) -> Any:
    """The page with a new TheaterView (``tv``) and PianoRoll (``roll``), drawn."""
    page = theater_page
    kernel_json(page, "[w.closed or w.close() for w in (tv, roll)]")
    rerun_cells(page, [0, 1])
    wait_until(lambda: kernel_json(page, "[tv.closed, roll.closed]") == [False, False], 20,
               what="new views in the kernel")
    page.wait_for_selector(".mos-theater canvas", timeout=30_000)
    page.wait_for_selector(".mos-roll:not(.mos-theater) canvas", timeout=30_000)
    return page


@pytest.mark.seed("THR-02", "WID-07")
def test_a_theater_view_shows_the_kernels_frame(views: Any) -> None:
    page = views
    card = page.locator(".mos-theater").first
    card.scroll_into_view_if_needed()
    sent = wait_until(lambda: kernel_json(page, "tv.frames_sent"), 40,
                      what="the kernel to send a frame")
    stats = wait_until(lambda: (lambda s: s if s["drawn"] == "kernel" else None)(
        card.evaluate(CANVAS_STATS)), 20, what="the page to draw the kernel's frame")
    page.wait_for_timeout(300)
    card.screenshot(path=str(SHOTS / "theater_view.png"))
    page.screenshot(path=str(SHOTS / "theater_page.png"))
    info = kernel_json(page, "{k: v for k, v in tv.frame_info.items() if k != 'plot'}")
    feed = kernel_json(page, "{'renders': tv.feed.renders, 'in_flight': tv.feed.in_flight,"
                             " 'renderer': tv.active_renderer}")
    assert sent >= 1 and stats["colors"] > 8 and stats["blue"] > 200, stats  # not blank
    assert info["width"] == stats["w"] and info["height"] == stats["h"], (info, stats)
    assert stats["renderer"] == info["renderer"] and int(stats["frames"]) >= 1
    assert feed["in_flight"] == 0, feed  # the page confirmed every frame it got
    print(f"\nTheaterView: {stats}, kernel {feed}")


def test_a_theater_roll_draws_the_strip_and_stops_when_closed(views: Any) -> None:
    page = views
    roll = page.locator(".mos-roll:not(.mos-theater)").first
    roll.scroll_into_view_if_needed()
    wait_until(lambda: kernel_json(page, "roll.frames_sent"), 40, what="a strip")
    try:
        stats = wait_until(lambda: (lambda s: s if s["drawn"] == "kernel" else None)(
            roll.evaluate(CANVAS_STATS)), 20, what="the page to draw the strip")
    except AssertionError:  # say what the page and the kernel had
        print(roll.evaluate(CANVAS_STATS), kernel_json(page, "dict(roll.frame_info)"),
              kernel_json(page, "[roll.mode, len(roll.notes), roll.frame_window]"))
        raise
    roll.screenshot(path=str(SHOTS / "theater_roll.png"))
    assert stats["colors"] > 8 and stats["blue"] > 100, stats
    assert kernel_json(page, "roll.mode") == "theater"
    before = kernel_json(page, "[roll.feed.renders, roll.frames_sent]")
    page.wait_for_timeout(1000)  # nothing changes on screen: nothing is rendered
    assert kernel_json(page, "[roll.feed.renders, roll.frames_sent]") == before
    out = kernel_json(page, "(roll.close(), tv.close(), [roll.feed.closed, tv.feed.closed,"
                            " roll.closed])[-1]")
    assert out == [True, True, True]
