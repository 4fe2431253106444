"""An engine that plays a SoundFont builds no built-in instrument it never plays (issue 18:
the idle footprint); the built-in set is made when it may be heard."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SF2 = "/usr/share/sounds/sf2/TimGM6mb.sf2"
REPO = Path(__file__).resolve().parents[3]


def _run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MOS_LAB_NO_PLUGINS": "1"}
    env.pop("MOS_LAB_SOUNDFONT", None)
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def test_a_standin_bank_prepares_nothing_and_builds_what_plays() -> None:
    out = _run("""
        from mos_lab.audio.instruments import builtin
        from mos_lab.audio.instruments.builtin import BuiltinBank
        b = BuiltinBank(standin=True)
        b.prepare(48000)
        print(len(builtin._programs), len(b._drums._buffers))
        specs = b.instrument(41, False).start(60, 100, 48000.0)  # a program on demand
        drum = b.instrument(0, True).start(38, 100, 48000.0)
        print(len(specs), len(drum), len(b._drums._slices))
        BuiltinBank().prepare(48000)  # a bank in use makes every family and drum now
        print(len(builtin._programs) >= 16, len(b._drums._slices) > 40)
    """).split()
    assert out == ["0", "0", "1", "1", "1", "True", "True"]


@pytest.mark.skipif(not os.path.isfile(SF2), reason="timgm6mb-soundfont not installed")
def test_an_engine_with_a_soundfont_builds_the_builtin_set_only_when_heard() -> None:
    out = _run(f"""
        import time
        from mos_lab.audio.instruments import builtin
        from mos_lab.engine import Engine
        from mos_lab.score import Score
        eng = Engine(output="null", soundfont={SF2!r})
        eng.wait_ready(60)
        eng.load(Score.from_notes([(0, 480, 60, 90)])).result(30)
        eng.wait_instruments()
        eng.play(); time.sleep(0.3); eng.stop()
        print(len(builtin._programs), len(eng.synth.fallback_bank._drums._buffers),
              eng.synth.fallback_bank.standin)
        eng.close()
        # the stand-in is built when a play may hear it: the SoundFont still loads (a
        # first SF3 decode takes tens of seconds; here a loader that waits 3 s)
        import mos_lab.engine.engine as E
        real = E._bank_loader
        def slow(path):
            def load(progress):
                time.sleep(3)
                return real(path)(progress)
            return load
        E._bank_loader = slow
        eng = Engine(output="null", soundfont={SF2!r})
        eng.wait_ready(60)
        eng.load(Score.from_notes([(0, 480, 60, 90)])).result(30)
        eng.play()
        deadline = time.monotonic() + 30
        while len(builtin._programs) < 16 and time.monotonic() < deadline:
            time.sleep(0.02)
        print(len(builtin._programs), eng.synth.fallback_bank.standin)
        eng.close()
    """).split()
    assert out[:3] == ["0", "0", "True"]
    assert int(out[3]) >= 16 and out[4] == "False"
