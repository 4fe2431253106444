"""The page's one heard-position function (``kernelClock`` in widgets/esm/common.js), run
in node with a stub model: while the page hosts the audio it follows the worklet's played
position and never the kernel's extrapolation from the play click (which ran seconds
ahead when audio started late or stalled, so views jumped between the two)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import mos_lab.widgets

ESM = Path(mos_lab.widgets.__file__).parent / "esm"
NODE = shutil.which("node")

SCRIPT = r"""
let T = 0;
Object.defineProperty(globalThis, "performance", { value: { now: () => T }, configurable: true });
const traits = { session_id: "s", clock: {} };
const model = { get: (k) => traits[k] };
const out = {};
const set = (clock, at) => { T = at; traits.clock = clock; c.update(); };
const c = kernelClock(model);
// the kernel said "playing from 0" at t=0; the audio starts 3 s later (a busy machine)
set({ engine: true, output: "browser", state: "playing", pos: 0, rate: 1, duration: 100 }, 0);
MOS.audio.s = { pos: 0, rate: 0, t: 0, running: false, ranAt: 0, buffered: 0 };
T = 2000; out.before_audio = c.now();             // held where playback starts
MOS.audio.s = { pos: 0.5, rate: 1, t: 3500, running: true, ranAt: 3500, buffered: 0.2 };
T = 3510; out.running = c.now();                  // 0.5 + 10 ms
T = 4500; out.capped = c.now();                   // no report for 1 s: at most buffered + 20 ms
MOS.audio.s = { pos: 0.7, rate: 0, t: 4600, running: false, ranAt: 3500, buffered: 0 };
T = 4700; out.stalled = c.now();                  // a stall after an overshoot: holds, no step back
MOS.audio.s = { pos: 0.72, rate: 1, t: 4800, running: true, ranAt: 4800, buffered: 0.2 };
T = 4800; out.resumed = c.now();
MOS.audio.s.gone = true;                           // the page no longer hosts the audio
T = 5000; out.not_host = c.now();                  // the kernel's clock: 0 + 5 s
set({ engine: true, output: "browser", state: "paused", pos: 1.25, rate: 0, duration: 100 }, 6000);
MOS.audio.s = { pos: 0.9, rate: 0, t: 6000, running: false, ranAt: 4800, buffered: 0 };
T = 6100; out.paused = c.now();                    // paused (or seeked): the kernel's position
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_page_clock_follows_the_audio_host_not_the_kernels_extrapolation(tmp_path):
    src = (ESM / "common.js").read_text() + SCRIPT
    (tmp_path / "clock.mjs").write_text(src)
    run = subprocess.run([NODE, str(tmp_path / "clock.mjs")], capture_output=True, text=True,
                         timeout=30)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["before_audio"] == 0.0  # not 2.0: nothing is heard before the audio starts
    assert got["running"] == pytest.approx(0.51)
    assert got["capped"] == pytest.approx(0.72)  # 0.5 + 0.2 s queued + 20 ms, not 1.5
    assert got["stalled"] == pytest.approx(0.72)  # holds at the overshoot, never 0.7
    assert got["resumed"] == pytest.approx(0.72)
    assert got["not_host"] == pytest.approx(5.0)
    assert got["paused"] == pytest.approx(1.25)
