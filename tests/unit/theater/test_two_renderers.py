"""Two wgpu renderers drawing in two threads at once (two streaming Theaters, or a Theater
beside the widgets) must both finish with the right pixels.

On the OpenGL adapter this used to abort the whole process (a Rust panic in wgpu-hal's
``egl.rs``: ``BadAccess``), so each case runs in a subprocess: an abort fails the test
instead of killing pytest (and a notebook's kernel).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

SCRIPT = r"""
import json, sys, threading
import numpy as np
sys.path.insert(0, sys.argv[1])
from _theater_helpers import random_score
from mos_lab.theater import View, open_renderer
from mos_lab.theater.render.device import RendererUnavailable
from mos_lab.theater.scene import Scene

lose = sys.argv[2] == "loss"
try:
    a = open_renderer("gpu", timeout=30)
    b = open_renderer("gpu", timeout=30)
except RendererUnavailable as exc:
    print(json.dumps({"skip": str(exc)}))
    sys.exit(0)

# a: a playing paged Theater (live frames, the next page drawn ahead by its own thread)
paged = Scene(random_score(3000, seed=3, seconds=30), span=6.0)
paged.set_paging(True)
# b: full renders of a scrolling view (as an export or the widgets' frames would)
scroll = Scene(random_score(2000, seed=4, seconds=30), span=5.0)
va, vb = View(320, 180), View(256, 144)
n = 60
states_a, states_b = [], []
for i in range(n):
    paged.set_playhead(7.0 + 0.1 * i)  # crosses the page turn at 9 s
    states_a.append(paged.snapshot())
    scroll.set_playhead(3.0 + 0.05 * i)
    states_b.append(scroll.snapshot())
b.live_updates = False
go = threading.Barrier(2)
frames = {"a": [], "b": []}
failed = []

def play(name, r, states, view):
    try:
        go.wait()
        for i, st in enumerate(states):
            if lose and name == "a" and i == n // 2:
                r.lose_device()
            frames[name].append(r.render(st, view).copy())
        r.settle()
    except BaseException as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")

threads = [threading.Thread(target=play, args=("a", a, states_a, va)),
           threading.Thread(target=play, args=("b", b, states_b, vb))]
for t in threads:
    t.start()
for t in threads:
    t.join()

# the expected pixels: full renders, one renderer, one thread
a.live_updates = False
wrong = {"a": sum(not np.array_equal(f, a.render(st, va))
                  for f, st in zip(frames["a"], states_a)),
         "b": sum(not np.array_equal(f, a.render(st, vb))
                  for f, st in zip(frames["b"], states_b))}
out = {"failed": failed, "wrong": wrong, "description": a.description,
       "same_adapter": a.context.adapter is b.context.adapter,
       "same_device": a.context.device is b.context.device}
for name, r in (("a", a), ("b", b)):
    s = r.stats
    out[name] = {"frames": len(frames[name]), "recoveries": s.recoveries,
                 "fallback_frames": s.fallback_frames, "errors": s.errors[:3],
                 "prefetched_pages": s.prefetched_pages}
print(json.dumps(out))
"""


@pytest.mark.gpu
@pytest.mark.seed("THR-01")
@pytest.mark.parametrize("case", ["plain", "loss"])
def test_two_renderers_in_two_threads_both_finish_with_the_right_pixels(case):
    env = dict(os.environ, RUST_BACKTRACE="0")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(HERE), case], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skip" in out:
        pytest.skip(f"no wgpu adapter: {out['skip']}")
    assert out["failed"] == []
    assert out["wrong"] == {"a": 0, "b": 0}, out
    # one adapter for the process (its lock serialises GL work), a device per renderer
    assert out["same_adapter"] and not out["same_device"]
    a, b = out["a"], out["b"]
    assert a["frames"] == b["frames"] == 60
    assert a["prefetched_pages"] == 1, a  # the page turn was drawn ahead meanwhile
    assert a["recoveries"] == (1 if case == "loss" else 0), a
    assert b["recoveries"] == 0 and b["errors"] == [], b  # a's loss stays a's
    assert a["fallback_frames"] == b["fallback_frames"] == 0, (a, b)
