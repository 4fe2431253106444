"""The first run compiles for tens of seconds (numba, a cold disk cache): mos_lab says so
on stderr (stdout in a Jupyter kernel) instead of looking hung, and says nothing once the
cache is warm. The theater's pixel loops (``render/compose.py``) are compiled here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CODE = """
import numpy as np
import mos_lab._jit as j
j.NOTICE_AFTER_S = 0.0  # announce any compile (these loops take ~1 s, the audio ~20-60)
from mos_lab.theater.render import compose
a = np.zeros((4, 4), np.uint32)
compose.copy_rect(a, a, 0, 0, 2, 2)
print("drawn")
import time
time.sleep(0.4)  # the watcher looks every 0.1 s: on a fast machine the compile is done first
"""


def _run(cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    env.pop("MOS_LAB_COMPILE_NOTICE", None)
    return subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True,
                          text=True, timeout=240, check=True)


def test_a_cold_cache_compile_is_announced_and_a_warm_one_is_silent(tmp_path: Path) -> None:
    cold = _run(tmp_path)
    assert cold.stdout.strip() == "drawn"  # stdout stays data on the command line
    assert "mos_lab: compiling its audio and drawing kernels with numba" in cold.stderr
    assert str(tmp_path) in cold.stderr  # where the cache goes
    assert "mos_lab: compiled 1 function in" in cold.stderr, cold.stderr
    warm = _run(tmp_path)
    assert warm.stderr == "" and warm.stdout.strip() == "drawn"


def test_inside_a_kernel_the_notice_is_ordinary_output(monkeypatch) -> None:
    import mos_lab._jit as j

    OutStream = type("OutStream", (), {"__module__": "ipykernel.iostream",
                                       "write": lambda self, s: None})
    fake = OutStream()
    monkeypatch.setattr(sys, "stdout", fake)
    assert j._stream() is fake  # a notebook shows it as text in the cell, not as an error
    monkeypatch.undo()
    assert j._stream() is sys.stderr
