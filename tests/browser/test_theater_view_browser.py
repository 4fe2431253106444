"""What a user sees of the theater views in a real JupyterLab + Chromium: a portrait view
fills the cell's width, and dragging a roll or a theater view while playing scrubs.

The notebook is written into the lab's root at test time; the kernel (engine position,
what the widgets received) is the oracle. Screenshots go to /tmp/mos_lab_shots.
"""

from __future__ import annotations

from typing import Any

import nbformat
import pytest

from tests.browser.conftest import SHOTS, Lab, kernel_json, run_notebook, wait_until

pytestmark = pytest.mark.browser

SETUP = """\
import mos_lab
from mos_lab.widgets import PianoRoll, TheaterView
s = mos_lab.session()
s.output = "null"  # a clocked output: plays without a click, so the test can drag
rows = [(i * 240, 220, 60 + (i * 5) % 24, 80) for i in range(960)]  # 2 minutes
s.load(mos_lab.Score.from_notes(rows, title="scrub test"))"""
CELLS = [SETUP,
         'portrait = TheaterView(orientation="portrait", height=480)\nportrait',
         'roll = PianoRoll(mode="canvas", height=200)\nroll']


@pytest.fixture(scope="module")
def views_page(lab: Lab, browser_context: Any) -> Any:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, lab.root / "theater_views.ipynb")
    page = browser_context.new_page()
    run_notebook(page, lab.open_url("theater_views.ipynb"))
    page.wait_for_selector(".mos-theater canvas", timeout=60_000)
    page.wait_for_selector(".mos-roll:not(.mos-theater) canvas", timeout=60_000)
    yield page
    kernel_json(page, "s.stop()")
    page.close()


def test_a_portrait_view_fills_the_cells_width(views_page: Any) -> None:
    page = views_page
    card = page.locator(".mos-theater").first
    card.scroll_into_view_if_needed()
    wait_until(lambda: card.get_attribute("data-drawn") == "kernel", 40,
               what="the portrait page to be drawn")
    page.wait_for_timeout(300)
    card.screenshot(path=str(SHOTS / "theater_portrait.png"))
    box = card.evaluate("(el) => ({ card: el.clientWidth, canvas: "
                        "el.querySelector('canvas').getBoundingClientRect().width })")
    assert box["canvas"] >= 0.9 * box["card"] and box["card"] > 500, box
    info = kernel_json(page, "portrait.frame_info")
    assert info["portrait"] and info["width"] > info["height"] * 9 / 16 * 1.5, info


def _drag(page: Any, el: Any, dx: float, dy: float, steps: int = 12) -> None:
    # the whole drag must be on the canvas: a tall view that is only partly on screen
    # (a fresh page scrolls it just into view) would take the pointer outside the window
    el.evaluate("(e) => e.scrollIntoView({ block: 'center' })")
    b = el.bounding_box()
    x, y = b["x"] + b["width"] * 0.6, b["y"] + b["height"] * (0.5 if dy == 0 else 0.25)
    assert el.evaluate("(e, p) => document.elementFromPoint(p[0], p[1]) === e", [x, y]) and \
        el.evaluate("(e, p) => document.elementFromPoint(p[0], p[1]) === e", [x + dx, y + dy])
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, steps + 1):
        page.mouse.move(x + dx * i / steps, y + dy * i / steps)
        page.wait_for_timeout(40)
    page.mouse.up()


@pytest.mark.parametrize("which", ["roll", "portrait"])
def test_dragging_a_view_while_playing_scrubs(views_page: Any, which: str) -> None:
    page = views_page
    sel = ".mos-roll:not(.mos-theater)" if which == "roll" else ".mos-theater"
    card = page.locator(sel).first
    card.scroll_into_view_if_needed()
    kernel_json(page, "s.engine.seek(10.0) or s.engine.play()")
    wait_until(lambda: kernel_json(page, "s.engine.state") == "playing", 10, what="playing")
    page.wait_for_timeout(500)
    # the user drags what the page shows: wait until it shows the playing position (on a
    # loaded machine the page's clock can take a moment to hear of the seek)
    # (the theater view takes a drag only on a page the kernel drew: while a page for the
    # new position is on its way it says "rendering…", and a drag there does nothing)
    wait_until(lambda: float(card.get_attribute("data-pos") or 0) >= 10.0
               and (which == "roll" or card.get_attribute("data-drawn") == "kernel"), 20,
               what="the view to show the position played")
    before = kernel_json(page, "s.engine.position")
    canvas = card.locator("canvas")
    # the roll: drag the paper left (later music comes under the hand); portrait: notes
    # fall towards the keyboard, so dragging down moves forward
    _drag(page, canvas, -300, 0) if which == "roll" else _drag(page, canvas, 0, 200)
    after = kernel_json(page, "s.engine.position")
    state = kernel_json(page, "s.engine.state")
    card.screenshot(path=str(SHOTS / f"scrubbed_{which}.png"))
    assert state == "playing"
    assert after > before + 1.5, (before, after)  # well past what ~1 s of playing moves
