"""The tour notebook in a real JupyterLab + Chromium: it renders, plays, sounds, cleans up.

The kernel is the oracle: the BrowserOutput counts the frames the page's AudioWorklet
acknowledged, the Keyboard records the notes it received, ``Session.doctor()`` counts
what is alive. The page exposes its own counters on ``globalThis.__mosLab``. Screenshots
go to /tmp/mos_lab_shots (look at them: this is what users see).

The page (and its kernel) is opened and run once per module; each test then starts from
the state a user has after running the notebook top to bottom without a click: the
player's cell and the cell that calls ``play()`` are run again (the old player closed,
the engine stopped), so each test passes alone, in any order.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import (
    SHOTS,
    Lab,
    cell_index,
    kernel_json,
    rerun_cells,
    wait_until,
)

pytestmark = pytest.mark.browser

PLAYER = ".mos-player:not(.mos-compact)"


def _page_stats(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => {
        const m = globalThis.__mosLab || { live: {}, stats: {} };
        const s = Object.values(m.stats)[0] || {};
        return { live: { ...m.live }, blocks: s.blocks || 0, played: s.played || 0,
                 players: document.querySelectorAll('.mos-player').length };
    }""")


@pytest.fixture(scope="module")
def tour(lab: Lab, browser_context: Any) -> Any:
    page = browser_context.new_page()
    page.goto(lab.open_url("00_tour.ipynb"))
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", timeout=30_000)
    wait_until(lambda: page.evaluate("""() => {
        const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
        const s = w && w.sessionContext && w.sessionContext.session;
        const k = s && s.kernel;
        return !!k && k.status === 'idle'; }"""), 40, what="an idle kernel")
    t0 = time.monotonic()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector(f"{PLAYER} .mos-transport", timeout=60_000)
    wait_until(lambda: "widgets" in page.inner_text(".jp-NotebookPanel .jp-Cell:last-of-type")
               or page.evaluate("""() => [...document.querySelectorAll('.jp-OutputArea-output')]
                   .some(e => e.textContent.includes('subscriptions'))"""), 60,
               what="the notebook to finish")
    page.run_time = time.monotonic() - t0  # type: ignore[attr-defined]
    yield page
    kernel_json(page, "mos_lab.session().stop()")
    page.close()


@pytest.fixture
def tour_page(lab: Lab, tour: Any) -> Any:
    """The tour as it is after running every cell, before any click: a new player whose
    ``play()`` is held until audio is enabled (the last test's player closed)."""
    page = tour
    notebook = lab.root / "00_tour.ipynb"
    cells = [cell_index(notebook, "session.load(score)\nplayer ="),
             cell_index(notebook, "session.engine.play()")]
    kernel_json(page, "player.closed or player.close()")
    kernel_json(page, "mos_lab.session().stop()")
    wait_until(lambda: _page_stats(page)["live"].get("contexts", 0) == 0, 10,
               what="the last player's AudioContext to close")
    rerun_cells(page, cells)
    page.wait_for_selector(f"{PLAYER} .mos-transport", timeout=30_000)
    wait_until(lambda: kernel_json(page, "mos_lab.session().status()")["state"]
               == "waiting_for_audio", 20, what="play() held until a click")
    return page


def _enable_audio(page: Any) -> dict[str, Any]:
    """Click "enable audio" and wait until the browser has played a second of audio."""
    page.locator(PLAYER).first.locator(".mos-enable").click()
    return wait_until(lambda: (s := kernel_json(page, "mos_lab.session().status()"))["state"]
                      == "playing" and s["browser"]["frames_acked"] > 48_000 and s, 20,
                      what="the browser to play a second of audio")


@pytest.mark.seed("ENG-05", "APO-08")
def test_tour_renders_and_play_waits_for_a_click(tour_page: Any) -> None:
    page = tour_page
    player = page.locator(PLAYER).first
    player.scroll_into_view_if_needed()
    player.locator(".mos-legend-item").first.wait_for(timeout=10_000)
    page.wait_for_timeout(400)
    page.screenshot(path=str(SHOTS / "tour_page.png"))
    player.screenshot(path=str(SHOTS / "player_locked.png"))
    st = kernel_json(page, "mos_lab.session().status()")
    # play() ran in a cell before any click: held, not lost, and the transport says so
    assert st["state"] == "waiting_for_audio", st
    assert st["browser"]["unlocked"] is False
    assert player.locator(".mos-enable").is_visible()
    assert player.locator(".mos-chip").inner_text() == "waiting for audio"
    assert player.locator(".mos-key").count() >= 36
    assert page.locator(".mos-roll canvas").count() >= 2  # the Score display + the player
    stderr = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    assert page.locator(stderr).count() == 0
    compact = page.locator(".mos-player.mos-compact").first
    compact.scroll_into_view_if_needed()  # data is sent once it is on screen (WID-07)
    compact.locator(".mos-legend-item").first.wait_for(timeout=10_000)
    page.wait_for_timeout(300)
    compact.screenshot(path=str(SHOTS / "score_display.png"))


def test_enable_audio_plays_pcm_and_the_playhead_moves(tour_page: Any) -> None:
    page = tour_page
    player = page.locator(PLAYER).first
    st = _enable_audio(page)
    assert st["browser"]["unlocked"] is True
    stats = _page_stats(page)
    assert stats["blocks"] > 10 and stats["played"] > 48_000 and stats["live"]["contexts"] == 1
    roll = player.locator(".mos-roll")
    p1 = float(roll.get_attribute("data-pos") or 0)
    page.wait_for_timeout(600)
    p2 = float(roll.get_attribute("data-pos") or 0)
    assert 0.3 < p2 - p1 < 1.5, (p1, p2)  # moves at the audio rate (tempo 1.0)
    # the kernel's clock is the browser's playback: both agree within a block or two. The
    # kernel is asked between two readings of the page, so a slow round trip (a loaded
    # machine) widens the window instead of counting as disagreement.
    before = float(roll.get_attribute("data-pos") or 0)
    kpos = kernel_json(page, "mos_lab.session().engine.position")
    after = float(roll.get_attribute("data-pos") or 0)
    assert before - 0.35 < kpos < after + 0.35, (before, kpos, after)
    player.screenshot(path=str(SHOTS / "player_playing.png"))
    assert player.locator(".mos-chords").get_attribute("data-chord") not in (None, "", "–")


def test_clicking_a_key_sounds(tour_page: Any) -> None:
    page = tour_page
    player = page.locator(PLAYER).first
    key = player.locator(".mos-key[data-pitch='60']")
    key.click()
    got = wait_until(lambda: kernel_json(
        page, "[list(x) for x in player.keyboard.played]"), 10, what="the note in the kernel")
    assert ["note_on", 60] in got and ["note_off", 60] in got
    live = kernel_json(page, "[(e.type, e['pitch']) for e in mos_lab.session().bus.recent("
                             "200) if e.type in ('note_on', 'note_off') and e.frame is None]")
    assert ["note_on", 60] in live  # through the engine: the synth played it


@pytest.mark.seed("WID-02", "WID-04")
def test_closing_the_player_cleans_up_both_sides(tour_page: Any) -> None:
    page = tour_page
    _enable_audio(page)  # the transport's audio link to the page is open
    before_page = _page_stats(page)
    before = kernel_json(page, "mos_lab.session().doctor()")
    kernel_json(page, "player.close()")
    after = wait_until(lambda: (d := kernel_json(page, "mos_lab.session().doctor()"))
                       ["widgets"] == before["widgets"] - 5 and d, 10, what="doctor")
    assert after["subscriptions"] < before["subscriptions"]
    assert after["streams"] == before["streams"] - 1  # the audio link of its transport
    st = kernel_json(page, "mos_lab.session().status()")
    assert st["browser"]["attached"] is None and st["state"] == "waiting_for_audio"
    now = wait_until(lambda: (s := _page_stats(page))["live"]["contexts"] == 0 and s, 10,
                     what="the AudioContext to close")
    assert now["players"] == before_page["players"] - 1
    assert now["live"]["views"] == before_page["live"]["views"] - 5
    assert now["live"]["frames"] < before_page["live"]["frames"]
    page.screenshot(path=str(SHOTS / "after_close.png"))
    kernel_json(page, "mos_lab.session().stop()")
