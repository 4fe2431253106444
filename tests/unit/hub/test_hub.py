"""A class on a real JupyterHub (issue 18, item 2): deploy/jupyterhub/jupyterhub_config.py.

The hub runs on loopback with the shared-password authenticator and the simple local
spawner. Logins are checked (students, the instructor as admin, a stranger refused); then
each user's server is started and a kernel in it makes a mos_lab session, loads a score
and, once every kernel is ready, all play at once, on a JACK dummy server (a clocked
device: underruns mean something) or, without jackd, on the null clock. Each kernel
reports its underruns, how far it played, its memory and its server's; stopped, each
engine must park. Two users in the default suite; the class of ten is ``-m soak``.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from _hub import ClassHub, missing
from tornado.httpclient import HTTPClientError

from tests.asyncrun import run_coroutine

pytestmark = pytest.mark.skipif(missing() is not None, reason=str(missing()))

SCORE = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "midi" / "multitrack" / \
    "Funkytown.mid"
PLAY_S = 4.0
# Rendered ahead on the device: 0.3 s, about what a notebook's browser output holds (0.1 s
# lookahead + the page's 0.25 s jitter buffer); with 0.15 s, ten kernels on two loaded
# cores (load average 15) gave 39 and 210 underruns in two of them.
LOOKAHEAD_S = 0.3

SETUP = """
import json, os, time
os.environ["MOS_LAB_NO_AUTOLOAD"] = "1"  # the session is made below, on the test's output
import mos_lab
from pathlib import Path

def _jack_output():
    import sounddevice as sd
    from mos_lab.audio import SoundDeviceOutput
    for i, d in enumerate(sd.query_devices()):
        if "JACK" in sd.query_hostapis(d["hostapi"])["name"] and d["max_output_channels"] >= 2:
            return SoundDeviceOutput(48000, 256, device=i, lookahead_s={lookahead})
    raise RuntimeError("no JACK device in this kernel")

_t0 = time.monotonic()
_s = mos_lab.session(output=_jack_output() if os.environ.get("JACK_DEFAULT_SERVER") else "null")
_eng = _s.engine
_eng.wait_ready(120)
_score = Path({score!r})
_eng.load(_score if _score.exists() else mos_lab.Score.from_notes(
    [(i * 120, 240, 48 + i % 24, 90) for i in range(400)])).result(60)
print(json.dumps({{"ready_s": round(time.monotonic() - _t0, 2),
                   "output": type(_eng.output).__name__}}))
"""

PLAY = """
def _mem(pid="self"):
    vals = {{}}
    for line in Path(f"/proc/{{pid}}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        vals[key] = int(rest.split()[0]) / 1024
    return {{"rss_mb": round(vals["Rss"], 1), "pss_mb": round(vals["Pss"], 1),
            "private_mb": round(vals["Private_Clean"] + vals["Private_Dirty"], 1)}}

_eng.play()
_t = time.monotonic()
time.sleep({play_s})
_pos, _elapsed, _st = _eng.position, time.monotonic() - _t, _eng.output.stats()
_eng.stop()
_d = time.monotonic() + 10
while not _eng.output.parked and time.monotonic() < _d:
    time.sleep(0.05)
print(json.dumps({{"position": round(_pos, 3), "elapsed": round(_elapsed, 3),
                   "underruns": _st["underruns"], "xruns": getattr(_eng.output, "xruns", 0),
                   "callbacks": _st["callbacks"], "parked": _eng.output.parked,
                   "kernel": _mem(), "server": _mem(os.getppid()),
                   "user": os.environ.get("JUPYTERHUB_USER")}}))
"""


@pytest.fixture(scope="module", autouse=True)
def _kernels_cached() -> None:
    """Compile the audio kernels into the disk cache once, so each user's kernel loads
    them (as on a class machine after its first use) instead of compiling them."""
    from mos_lab.audio import kernels

    kernels.warm_up()


def _last_json(text: str) -> dict[str, Any]:
    return json.loads(text.strip().splitlines()[-1])


async def _class_plays(hub: ClassHub, users: list[str]) -> list[dict[str, Any]]:
    """Start every user's server and kernel, then play in all of them at once."""
    spawn = await asyncio.gather(*(hub.start_server(u) for u in users))
    kernels = await asyncio.gather(*(hub.kernel(u) for u in users))
    try:
        setup = SETUP.format(score=str(SCORE), lookahead=LOOKAHEAD_S)
        ready = await asyncio.gather(*(k.execute(setup) for k in kernels))
        played = await asyncio.gather(*(k.execute(PLAY.format(play_s=PLAY_S))
                                        for k in kernels))
    finally:
        await asyncio.gather(*(k.close() for k in kernels), return_exceptions=True)
    return [{"spawn_s": round(s, 1), **_last_json(r), **_last_json(p)}
            for s, r, p in zip(spawn, ready, played, strict=True)]


async def _isolation(hub: ClassHub) -> dict[str, int]:
    """What a student's own token may reach: their account only."""
    async def status(method: str, path: str, token: str) -> int:
        try:
            await hub.api(method, path, token=token)
            return 200
        except HTTPClientError as exc:
            return exc.code

    a, b = hub.students[:2]
    tok = (await hub.api("POST", f"/hub/api/users/{a}/tokens", {"note": "test"}))["token"]
    return {"own": await status("GET", f"/hub/api/users/{a}", tok),
            "list": await status("GET", "/hub/api/users", tok),
            "other": await status("GET", f"/hub/api/users/{b}", tok),
            "start_other": await status("POST", f"/hub/api/users/{b}/server", tok),
            "groups": await status("GET", "/hub/api/groups", tok)}


async def _logins(hub: ClassHub) -> dict[str, int]:
    student = hub.students[0]
    return {
        "student": await hub.login(student, hub.password),
        "student_wrong": await hub.login(student, "not-the-password"),
        "stranger": await hub.login("stranger", hub.password),
        "instructor": await hub.login(hub.instructor, hub.admin_password),
        "instructor_as_student": await hub.login(hub.instructor, hub.password),
    }


def _run_class(tmp_path: Path, n: int, env: dict[str, str]) -> list[dict[str, Any]]:
    users = [f"student{i:02d}" for i in range(1, n + 1)]
    with ClassHub(tmp_path, users, env=env) as hub:
        async def main() -> tuple[dict[str, int], dict[str, int], dict[str, Any],
                                  list[dict[str, Any]]]:
            logins = await _logins(hub)
            isolation = await _isolation(hub)
            info = await hub.api("GET", f"/hub/api/users/{hub.instructor}")
            results = await _class_plays(hub, users)
            return logins, isolation, info, results

        try:
            logins, isolation, instructor, results = run_coroutine(main())
        except Exception as exc:
            raise AssertionError(f"{exc}\n--- hub log ---\n{hub.tail()}") from exc
    assert logins == {"student": 302, "student_wrong": 403, "stranger": 403,
                      "instructor": 302, "instructor_as_student": 403}, logins
    assert isolation["own"] == 200, isolation  # a student reaches their own account only
    assert all(isolation[k] in (403, 404) for k in ("list", "other", "start_other",
                                                    "groups")), isolation
    assert instructor["admin"] is True and "instructor" in instructor["roles"], instructor
    _report(n, results)
    for r in results:
        assert r["user"] in users
        assert r["underruns"] == 0, results  # each engine kept its ring ahead of the clock
        assert r["position"] > 0.6 * PLAY_S, results  # the score advanced with the clock
        assert r["parked"], results  # stopped: no CPU while the class listens
    assert sorted(r["user"] for r in results) == users  # one engine per user, its own kernel
    return results


def _report(n: int, results: list[dict[str, Any]]) -> None:
    def mean(key: str, part: str) -> float:
        return sum(r[part][key] for r in results) / len(results)

    print(f"\nclass of {n} ({results[0]['output']}): per user kernel RSS "
          f"{mean('rss_mb', 'kernel'):.0f} MB (private {mean('private_mb', 'kernel'):.0f}), "
          f"server RSS {mean('rss_mb', 'server'):.0f} MB (private "
          f"{mean('private_mb', 'server'):.0f}); underruns "
          f"{[r['underruns'] for r in results]}, xruns {[r['xruns'] for r in results]}; "
          f"spawn {max(r['spawn_s'] for r in results):.1f} s, engine ready "
          f"{max(r['ready_s'] for r in results):.1f} s; played "
          f"{[r['position'] for r in results]} s of {PLAY_S}")


def _jack_env(jack_device: int | None) -> dict[str, str]:
    if jack_device is None:
        return {}
    return {"JACK_DEFAULT_SERVER": os.environ["JACK_DEFAULT_SERVER"],
            "JACK_NO_START_SERVER": "1"}


@pytest.fixture
def jack(request: pytest.FixtureRequest) -> int | None:
    """The JACK dummy server's device when jackd is installed, else None (null clock)."""
    try:
        return int(request.getfixturevalue("jack_device"))
    except pytest.skip.Exception:
        return None


CHECK = """
import os, sys, traceback
from traitlets.config import Config
cases = [("MOS_LAB_HUB_AUTH", "ldap"), ("MOS_LAB_HUB_MEM_LIMIT", "lots"),
         ("MOS_LAB_HUB_STUDENTS", "Ana,ben"), ("MOS_LAB_HUB_SPAWNER", "docker"),
         ("MOS_LAB_HUB_CPU_LIMIT", "two"), ("MOS_LAB_HUB_INSTRUCTOR", "ana")]
for var, value in cases:
    env = {"MOS_LAB_HUB_STUDENTS": "ana,ben", var: value}
    os.environ.update(env)
    try:
        exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"),
             {"get_config": Config, "__file__": sys.argv[1]})
        print(var, "accepted")
    except ValueError as exc:
        print(var, "refused:", exc)
    for k in env:
        os.environ.pop(k)
c = Config()
exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"), {"get_config": lambda: c})
print("default", sorted(c.Authenticator.allowed_users)[:3], c.Authenticator.admin_users)
"""


def test_config_refuses_bad_settings() -> None:
    """A typo in the class settings stops the hub with a message naming the variable."""
    import subprocess
    import sys

    from _hub import CONFIG

    run = subprocess.run([sys.executable, "-c", CHECK, str(CONFIG)], timeout=120,
                         capture_output=True, text=True, env={
                             k: v for k, v in os.environ.items()
                             if not k.startswith("MOS_LAB_HUB_")})
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    for var in ("MOS_LAB_HUB_AUTH", "MOS_LAB_HUB_MEM_LIMIT", "MOS_LAB_HUB_STUDENTS",
                "MOS_LAB_HUB_SPAWNER", "MOS_LAB_HUB_CPU_LIMIT", "MOS_LAB_HUB_INSTRUCTOR"):
        line = next(ln for ln in lines if ln.startswith(var + " "))
        assert "refused:" in line and var in line.split("refused:", 1)[1], line
    # With nothing set: thirty students and the instructor as the one admin.
    assert lines[-1] == "default ['instructor', 'student01', 'student02'] {'instructor'}"


def test_two_students_play_at_once_on_a_real_hub(tmp_path: Path, jack: int | None) -> None:
    _run_class(tmp_path, 2, _jack_env(jack))


@pytest.mark.soak
@pytest.mark.timeout(1200)
def test_a_class_of_ten_plays_at_once_on_a_real_hub(tmp_path: Path, jack: int | None) -> None:
    _run_class(tmp_path, 10, _jack_env(jack))
