"""The Notation widget in real JupyterLab + Chromium, beside a compact Player on the same
transport: a Bach chorale (music21's corpus) shows engraved; while it plays the noteheads
lit are the notes heard, within 20 ms of the heard onset; clicking a note seeks there;
pages turn where the next page's first bar is heard.

Heard position, as in ``test_chord_lane_browser``: the engine stamps every PCM block with
its score time; the worklet reports the stamp of what it played with the audio clock's time
of it (``__mosLab.stats[sid].reports``), put on the page's clock by the smallest arrival
delay; the instant an onset is heard is where the reports cross it. The page logs each
highlight change and page turn with its own time (``__mosLab.notation[sid]``); lag =
highlight - heard onset, p50/p99 printed. On a machine that drops animation frames (both
cores busy) the timing is printed but judged only as far as the frames allow.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.browser.conftest import SHOTS, Lab, judge_lag, kernel_json, run_notebook, wait_until

pytestmark = pytest.mark.browser
pytest.importorskip("verovio")
pytest.importorskip("music21")

SETUP = """import mos_lab
from music21 import corpus
session = mos_lab.session()
session.stop()
chorale = session.load(str(corpus.getWork('bach/bwv66.6')))"""
PLAYER = "nt_player = mos_lab.widgets.Player(compact=True)\nnt_player"
NOTATION = "nt = mos_lab.widgets.Notation(height=330)\nnt"
READY = "nt.wait_engraved()\nprint('notation ready', nt.page_count, nt.status)"
SEEN = "__import__('numpy').frombuffer(nt.note_times, dtype='<f8').reshape(-1, 2).tolist()"


def _notebook(root: Path) -> str:
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [],
                     "execution_count": None} for c in (SETUP, PLAYER, NOTATION, READY)],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (root / "notation.ipynb").write_text(json.dumps(nb))
    return "notation.ipynb"


def _open(lab: Lab, browser_context: Any) -> tuple[Any, Any, Any]:
    page = browser_context.new_page()
    page.on("console", lambda m: print("page:", m.text) if m.type == "error" else None)
    run_notebook(page, lab.open_url(_notebook(lab.root)))
    wait_until(lambda: "notation ready" in page.inner_text(".jp-NotebookPanel"), 120,
               what="the cells to run and the engraving")
    player = page.locator(".mos-player.mos-compact").first
    notation = page.locator(".mos-notation").first
    try:
        notation.scroll_into_view_if_needed(timeout=30_000)
    except Exception:
        page.screenshot(path=str(SHOTS / "notation_failed.png"))
        raise
    notation.locator(".mos-notation-view svg g.note").first.wait_for(timeout=30_000)
    return page, player, notation


def _heard(reports: np.ndarray, onset: float) -> float | None:
    """Page time at which the played position (engine stamps) reached ``onset``; None when
    the audio stalled between the two reports around it."""
    pos = reports[:, 1]
    t = reports[:, 3] * 1000 + np.min(reports[:, 2] - reports[:, 3] * 1000)
    k = int(np.searchsorted(pos, onset, side="left"))
    if k == 0 or k >= len(pos) or pos[k] - pos[k - 1] <= 0:
        return None
    if abs((pos[k] - pos[k - 1]) * 1000 - (t[k] - t[k - 1])) > 3.0:  # tempo 1: 1 s per s
        return None
    return float(t[k - 1] + (onset - pos[k - 1]) * 1000)


def _play_and_log(page: Any, player: Any, seconds: float, sid: str) -> dict[str, Any]:
    page.evaluate("""() => { const f = (window.__ntFrames = []);
        const tick = () => { f.push(performance.now());
                             if (f.length < 20000) requestAnimationFrame(tick); };
        requestAnimationFrame(tick); }""")
    start = kernel_json(page, "session.status()")["browser"]["frames_acked"]
    player.locator(".mos-play").click()  # a real click: unlocks audio, then plays
    wait_until(lambda: kernel_json(page, "session.status()")["browser"]["frames_acked"]
               > start + 48_000 * seconds, 60 + 4 * seconds, what="browser playback")
    got = page.evaluate("""(sid) => ({ lit: __mosLab.notation[sid].lit.slice(),
        turns: __mosLab.notation[sid].turns.slice(),
        reports: ((__mosLab.stats[sid] || {}).reports || []).slice(),
        frames: window.__ntFrames.slice() })""", sid)
    kernel_json(page, "session.engine.pause() or True")
    return got


def test_a_chorale_shows_engraved(lab: Lab, browser_context: Any) -> None:
    page, _player, notation = _open(lab, browser_context)
    try:
        kernel_json(page, "session.engine.pause() or session.engine.seek(0.0) or True")
        wait_until(lambda: notation.get_attribute("data-page") == "1", 10, what="page 1")
        heads = notation.locator(".mos-notation-view svg g.note")
        assert heads.count() > 20
        count, status = kernel_json(page, "[nt.page_count, nt.status]")
        assert count >= 2 and status == ""
        assert notation.locator(".mos-notation-pageno").inner_text() == f"1 / {count}"
        ids = set(kernel_json(page, "nt.note_ids").split(" "))
        shown = notation.locator(".mos-notation-view svg g.note").evaluate_all(
            "els => els.map(e => e.id)")
        assert set(shown) <= ids and "n0" in shown
        notation.screenshot(path=str(SHOTS / "notation_page1.png"))
    finally:
        page.close()


def test_the_highlight_follows_the_heard_note_within_20_ms(lab: Lab,
                                                           browser_context: Any) -> None:
    page, player, notation = _open(lab, browser_context)
    try:
        sid = kernel_json(page, "session.id")
        ids = kernel_json(page, "nt.note_ids").split(" ")
        times = np.array(kernel_json(page, SEEN))
        onset_of = dict(zip(ids, times[:, 0], strict=True))
        kernel_json(page, "session.engine.seek(0.0) or True")
        got = _play_and_log(page, player, 12, sid)
        notation.screenshot(path=str(SHOTS / "notation_playing.png"))
        (SHOTS / "notation_timing.json").write_text(json.dumps(got))
        reports = np.array(got["reports"], dtype=float)
        reports = reports[reports[:, 1] > 0]
        assert len(reports) > 100 and np.all(np.diff(reports[:, 1]) >= 0)
        frames = np.array(got["frames"])
        lags, late, checked = [], [], 0
        for prev, e in itertools.pairwise(got["lit"]):
            if not e["on"]:
                continue
            onset = max(onset_of[i] for i in e["on"])
            if not prev["pos"] < onset <= e["pos"] or e["pos"] - onset > 0.25:
                continue  # a change made by playing on (not the first, not a seek)
            checked += 1
            # the heads lit are the notes sounding at that moment, by the timemap
            want = {i for i, (a, b) in zip(ids, times, strict=True) if a <= e["pos"] < b}
            assert set(e["ids"]) == want
            heard = _heard(reports, onset)
            if heard is None:
                continue
            lags.append(e["t"] - heard)
            before = frames[frames < e["t"] - 1.0]
            late.append(heard - before[-1] if len(before) else 0.0)
        assert checked >= 15 and len(lags) >= 10, (checked, len(lags))
        judge_lag("notation", lags, late, frames, reports)
    finally:
        page.close()


def test_clicking_a_note_seeks_there_and_shift_click_loops(lab: Lab, browser_context: Any) -> None:
    page, _player, notation = _open(lab, browser_context)
    try:
        kernel_json(page, "session.engine.pause() or session.engine.seek(0.0) or True")
        ids = kernel_json(page, "nt.note_ids").split(" ")
        times = np.array(kernel_json(page, SEEN))
        head = notation.locator(".mos-notation-view svg g.note").nth(12)
        nid = head.get_attribute("id")
        head.locator("use, path, ellipse").first.click()  # on the notehead itself
        onset = float(times[ids.index(nid), 0])
        wait_until(lambda: kernel_json(page, "list(nt.seeks)")[-1:] == [onset], 10,
                   what="the seek in the kernel")
        assert kernel_json(page, "session.engine.position") == pytest.approx(onset, abs=1e-3)
        wait_until(lambda: nid in (notation.get_attribute("data-lit") or "").split(), 5,
                   what="the clicked note lit")
        # shift-click a later note: the passage from the first click to it loops
        other = notation.locator(".mos-notation-view svg g.note").nth(30)
        oid = other.get_attribute("id")
        other.locator("use, path, ellipse").first.click(modifiers=["Shift"])
        a, b = times[ids.index(nid)], times[ids.index(oid)]
        want = [min(a[0], b[0]), max(a[1], b[1])]
        loop = wait_until(lambda: kernel_json(page, "session.engine.loop"), 10,
                          what="the loop in the engine")
        assert loop == pytest.approx(want, abs=1e-3)
        wait_until(lambda: notation.locator("g.note.mos-sel").count() >= 2, 5,
                   what="the looped passage marked")
        notation.screenshot(path=str(SHOTS / "notation_loop.png"))
        kernel_json(page, "nt._cmd_loop(None, None) or True")
    finally:
        page.close()


def test_pages_turn_where_the_next_pages_first_bar_is_heard(lab: Lab,
                                                            browser_context: Any) -> None:
    page, player, notation = _open(lab, browser_context)
    try:
        sid = kernel_json(page, "session.id")
        starts = kernel_json(page, "nt.pages")
        assert len(starts) >= 2
        ids = kernel_json(page, "nt.note_ids").split(" ")
        times = np.array(kernel_json(page, SEEN))
        first2 = ids[int(np.searchsorted(times[:, 0], starts[1]))]  # page 2's first note
        kernel_json(page, f"session.engine.seek({max(0.0, starts[1] - 2.5)}) or True")
        wait_until(lambda: notation.get_attribute("data-page") == "1", 10, what="page 1")
        got = _play_and_log(page, player, 4, sid)
        turns = [e for e in got["turns"] if e["page"] == 2 and e["why"] == "music"]
        assert turns, got["turns"]
        turn = turns[-1]
        assert turn["pos"] >= starts[1] - 1e-3  # not before page 2's first bar
        assert notation.get_attribute("data-page") == "2"
        shown = notation.locator(".mos-notation-view svg g.note").evaluate_all(
            "els => els.map(e => e.id)")
        before = ids[int(np.searchsorted(times[:, 0], starts[1])) - 1]
        assert first2 in shown and before not in shown  # the bar that starts page 2
        assert kernel_json(page, f"nt.engraving.page_of({first2!r})") == 2
        reports = np.array(got["reports"], dtype=float)
        heard = _heard(reports[reports[:, 1] > 0], starts[1])
        if heard is not None:
            print(f"\nnotation: page 2 turned {turn['t'] - heard:.1f} ms after its first "
                  "bar was heard")
        notation.screenshot(path=str(SHOTS / "notation_page2.png"))
    finally:
        page.close()
