"""A class in a real JupyterLab + Chromium: a student hears an interval through the
browser's audio, answers on the on-screen keyboard and the attempt lands in the SQLite
progress file; two kernels sharing that file record 500 attempts each at once.

The page's audio is checked from both sides: the kernel's engine releases a note on its
bus only once the browser has acknowledged playing that ring frame (``heard``), and an
init script wraps ``MessagePort.postMessage`` so the test sees the PCM blocks the page
hands its AudioWorklet (their ring index and peak), i.e. the two notes' sound.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (
    KERNEL_EXEC,
    SHOTS,
    Lab,
    kernel_json,
    run_notebook,
    wait_until,
    write_notebook,
)

pytestmark = pytest.mark.browser

HEAR_NB = "lessons_class_hear.ipynb"
CLASS_NB = ("lessons_class_a.ipynb", "lessons_class_b.ipynb")
PER_KERNEL = 500

# Every PCM block the page posts to its worklet: ring start, frames and peak level, and
# the left channel of the first 20 s of blocks (interleaved stereo: every other sample).
PCM_TAP = """(() => {
  const blocks = (globalThis.__pcmBlocks = []);
  const left = (globalThis.__pcmLeft = []);
  const post = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (msg, ...rest) {
    if (msg && msg.type === 'pcm' && msg.data instanceof ArrayBuffer) {
      const a = msg.enc === 'int16' || msg.enc === 's16'
        ? Array.from(new Int16Array(msg.data), (x) => x / 32768)
        : new Float32Array(msg.data);
      let peak = 0;
      for (const x of a) peak = Math.max(peak, Math.abs(x));
      blocks.push([msg.start, msg.frames, peak]);
      if (left.length < 500) {
        left.push([msg.start, Array.from({ length: msg.frames }, (_, i) => a[2 * i])]);
      }
    }
    return post.call(this, msg, ...rest);
  };
})();"""

HEAR_SETUP = """\
import mos_lab
from mos_lab import lessons
from mos_lab.theory.pitch import Pitch
progress = lessons.Progress({db!r})
def _fits(ex):
    m = [Pitch.parse(n).midi for n in ex.answer.split()]
    return len(set(m)) == 2 and all(60 <= x <= 77 for x in m)
ex = next(e for e in (lessons.dictation(seed=s, level=1, length=2) for s in range(200))
          if _fits(e))
heard = []
_sub = mos_lab.session().bus.subscribe(
    "note_on", lambda ev: ev.frame is not None and heard.append([ev.frame, ev["pitch"]]),
    weak=False)
box = lessons.show(ex, progress=progress, student="hearer")
box"""

CLASS_SETUP = """\
import os, time
from mos_lab import lessons
progress = lessons.Progress({db!r})
exercises = [lessons.interval_id(seed=s, level=1) for s in range(10)]
widgets = [lessons.ExerciseWidget(e, progress=progress, student={student!r}) for e in exercises]
widgets[0]"""

# Waits for the test's go file, then answers PER_KERNEL times through the widgets (right
# on even i, wrong on odd), and prints when it started and ended and how many it recorded.
CLASS_RUN = """\
open({ready!r}, "w").close()
while not os.path.exists({go!r}):
    time.sleep(0.002)
_t0 = time.time()
_right = 0
for _i in range({n}):
    _w = widgets[_i % len(widgets)]
    _fb = _w.answer(_w.exercise.answer if _i % 2 == 0 else "P8" if _w.exercise.answer != "P8"
                    else "m2")
    _right += bool(_fb.correct)
_t1 = time.time()
print(json.dumps({{"t0": _t0, "t1": _t1, "right": _right, "pid": os.getpid(),
                  "errors": sum(len(w.errors) for w in widgets)}}))"""


def _notebook(root: Path, name: str, source: str) -> None:
    write_notebook(root, name, [source])


def _assert_pitches(left: list[Any], heard: list[list[int]], rate: int) -> None:
    """The sound handed to the worklet from each heard onset has its own note's
    fundamental louder than the other note's (a second apart: no shared harmonics)."""
    import numpy as np

    base = min(start for start, _ in left)
    end = max(start + len(x) for start, x in left)
    signal = np.zeros(end - base)
    for start, x in left:
        signal[start - base:start - base + len(x)] = x
    freqs = [440.0 * 2 ** ((p - 69) / 12) for _, p in heard]
    for (frame, pitch), f0 in zip(heard, freqs, strict=True):
        a = frame - base + rate // 20  # past the attack, within the note (0.75 s)
        win = signal[a:a + rate // 4]
        assert len(win) == rate // 4, (pitch, frame, base, end)
        mag = np.abs(np.fft.rfft(win * np.hanning(len(win))))
        bins = np.fft.rfftfreq(len(win), 1 / rate)

        def level(f: float, mag: Any = mag, bins: Any = bins) -> float:
            return float(mag[(bins > f * 0.985) & (bins < f * 1.015)].max())

        own, other = level(f0), max(level(f) for f in freqs if f != f0)
        assert own > 2 * other, (pitch, own, other)


def _close(page: Any) -> None:
    """Shut the page's kernel down (the lab outlives this module) and close the page."""
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    page.close()


def _open(browser_context: Any, lab: Lab, name: str, ready: str, init: str = "") -> Any:
    """A page with ``name`` open, its kernel idle and its cells run until ``ready`` shows."""
    pg = browser_context.new_page()
    if init:
        pg.add_init_script(init)
    run_notebook(pg, lab.open_url(name))
    pg.wait_for_selector(ready, timeout=60_000)
    return pg


def test_a_student_hears_an_interval_and_answers_on_the_keyboard(
        lab: Lab, browser_context: Any) -> None:
    db = lab.root / "class_hear.sqlite"
    _notebook(lab.root, HEAR_NB, HEAR_SETUP.format(db=str(db)))
    page = _open(browser_context, lab, HEAR_NB, ".mos-keyboard .mos-key", PCM_TAP)
    try:
        names = kernel_json(page, "ex.answer").split()
        midis = kernel_json(page, "[Pitch.parse(n).midi for n in ex.answer.split()]")
        card = page.locator(".mos-exercise").first
        card.locator(".mos-play").click()
        enable = page.locator(".mos-enable").first
        wait_until(lambda: enable.is_visible() or kernel_json(
            page, "mos_lab.session().status()['state']") == "playing", 15,
            what="the enable-audio button or playback")
        if enable.is_visible():
            enable.click()
        # the engine releases each note on the bus when the browser has played its frame
        heard = wait_until(lambda: (h := kernel_json(page, "heard"))
                           and [p for _, p in h][:2] == midis and h, 30,
                           what=f"both notes {midis} heard through the browser")
        st = kernel_json(page, "mos_lab.session().status()['browser']")
        assert st["unlocked"] is True and st["frames_acked"] >= heard[1][0], (st, heard)
        assert heard[1][0] > heard[0][0], heard
        # the page was handed both notes' sound: PCM with signal at each note's onset
        rate = st["browser_rate"] or 48_000
        blocks = page.evaluate("() => globalThis.__pcmBlocks")
        played = page.evaluate(
            "() => Math.max(0, ...Object.values(globalThis.__mosLab.stats)"
            ".map((s) => s.played))")
        assert played >= heard[1][0], (played, heard)
        for frame, pitch in heard[:2]:
            near = [peak for start, n, peak in blocks
                    if start < frame + rate // 5 and start + n > frame]
            assert near and max(near) > 0.01, (pitch, frame, near[:8])
        # and each note's pitch: its fundamental is the strongest of the two notes'
        _assert_pitches(page.evaluate("() => globalThis.__pcmLeft"), heard[:2], rate)
        kernel_json(page, "mos_lab.session().stop()")
        # the answer, clicked on the on-screen keys, then Check
        keyboard = page.locator(".mos-keyboard").first
        keyboard.scroll_into_view_if_needed()
        for m in midis:
            keyboard.locator(f".mos-key[data-pitch='{m}']").click()
        entered = card.locator(".mos-answer")
        wait_until(lambda: entered.input_value() == " ".join(names), 15,
                   what=f"the answer box to read {' '.join(names)}")
        card.locator(".mos-check").click()
        card.locator(".mos-feedback[data-correct='true']").wait_for(timeout=15_000)
        assert card.locator(".mos-feedback").inner_text() == "✔ right"
        page.screenshot(path=str(SHOTS / "lessons_class_hear.png"))
        wait_until(lambda: kernel_json(page, "len(progress.attempts('hearer'))") == 1, 10,
                   what="the attempt recorded")
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT student, kind, answer, response, correct FROM "
                                "attempts").fetchall()
        assert rows == [("hearer", "dictation", " ".join(names), " ".join(names), 1)]
    finally:
        kernel_json(page, "box.exercise_widget.close() or _sub.dispose() or None")
        _close(page)


def test_two_kernels_record_500_attempts_each_at_once(
        lab: Lab, browser_context: Any, tmp_path: Path) -> None:
    db = lab.root / "class_shared.sqlite"
    students = ("class_a", "class_b")
    for name, student in zip(CLASS_NB, students, strict=True):
        _notebook(lab.root, name, CLASS_SETUP.format(db=str(db), student=student))
    pages = [_open(browser_context, lab, name, ".mos-exercise .mos-check")
             for name in CLASS_NB]
    try:
        pids = [kernel_json(pg, "os.getpid()") for pg in pages]
        assert pids[0] != pids[1], "the two notebooks share a kernel"
        go = tmp_path / "go"
        readies = [tmp_path / f"ready_{s}" for s in students]
        for pg, ready in zip(pages, readies, strict=True):  # started, not awaited
            code = "import json\n" + CLASS_RUN.format(ready=str(ready), go=str(go),
                                                      n=PER_KERNEL)
            pg.evaluate("(code) => { window.__classRun = (" + KERNEL_EXEC + ")(code); }",
                        code)
        wait_until(lambda: all(r.exists() for r in readies), 30, what="both kernels ready")
        t = time.monotonic()
        go.touch()
        outs = [pg.evaluate("() => window.__classRun") for pg in pages]
        wall = time.monotonic() - t
        runs = []
        for out in outs:
            try:
                runs.append(json.loads(out.strip().splitlines()[-1]))
            except (ValueError, IndexError):
                raise AssertionError(f"kernel said: {out!r}") from None
        # the two loops overlapped in time: both kernels were writing at once
        assert max(r["t0"] for r in runs) < min(r["t1"] for r in runs), runs
        assert all(r["errors"] == 0 and r["right"] == PER_KERNEL // 2 for r in runs), runs
        with sqlite3.connect(db) as conn:
            total = conn.execute("SELECT count(*) FROM attempts").fetchone()[0]
            per = dict(conn.execute("SELECT student, count(*) FROM attempts "
                                    "GROUP BY student").fetchall())
            right = dict(conn.execute("SELECT student, sum(correct) FROM attempts "
                                      "GROUP BY student").fetchall())
            by_pid = dict(conn.execute("SELECT pid, count(*) FROM attempts "
                                       "GROUP BY pid").fetchall())
            interleaved = conn.execute(
                "SELECT count(*) FROM attempts a JOIN attempts b ON b.id = a.id + 1 "
                "WHERE a.student != b.student").fetchone()[0]
        assert total == 2 * PER_KERNEL
        assert per == dict.fromkeys(students, PER_KERNEL)
        assert right == dict.fromkeys(students, PER_KERNEL // 2)
        assert by_pid == dict.fromkeys(pids, PER_KERNEL)
        print(f"\ntwo kernels: {total} attempts in {wall:.1f} s, rows switching kernel "
              f"{interleaved} times")
    finally:
        for pg in pages:
            kernel_json(pg, "[w.close() for w in widgets] and None")
            _close(pg)
