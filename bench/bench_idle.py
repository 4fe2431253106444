"""Idle footprint of a kernel that holds an engine (issue 18: one engine per user).

For each output, a fresh Python process does what a notebook user does (``import
mos_lab``, ``mos_lab.session()``; "fresh": the engine ready, 2 s later; then load a score,
wait for the default SoundFont, play a second, stop) and then samples, over ``--seconds``
(10) with the transport stopped: resident memory (RSS; PSS; private, and private dirty,
which is what each more user costs wherever other kernels map the same libraries: a lone
process counts the libraries' pages as private clean), threads, and CPU time (the whole
process, and the engine's own threads by ``/proc/self/task/*/schedstat`` with how often
they ran). Goal: <= 150 MB RSS, no CPU. Then it plays again from the idle state and
reports the first-sound latency: from ``play()`` to the first note being heard, less the
note's own time in the score.

Outputs: ``null`` (a silent clock: headless kernels), ``browser`` (the notebook default,
with no page attached: the tab is closed or no player is shown) and ``local`` (PortAudio
on a JACK dummy server this script starts when ``jackd`` is installed).

Run: python bench/bench_idle.py [--seconds 10] [--outputs null,browser,local] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCORE = ROOT.parent / "shared" / "corpus" / "midi" / "multitrack" / "Funkytown.mid"


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _rollup() -> dict[str, int]:
    """RSS, PSS and private memory (kB) from smaps_rollup."""
    vals: dict[str, int] = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        vals[key] = int(rest.split()[0])
    return {"rss": vals["Rss"], "pss": vals["Pss"],
            "private": vals["Private_Clean"] + vals["Private_Dirty"],
            "private_dirty": vals["Private_Dirty"]}


def _mem_mb() -> dict[str, float]:
    """RSS, PSS, private and private dirty MB now."""
    return {k: round(v / 1024, 1) for k, v in _rollup().items()}


def _breakdown() -> dict[str, float]:
    """Resident MB by kind of mapping: LLVM (llvmlite's library), other shared libraries,
    mapped files (the decoded SoundFont's cache entry), the heap and other anonymous memory."""
    out: dict[str, float] = {}
    kind = "anon"
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if not parts[0].endswith(":"):
            name = parts[5] if len(parts) > 5 else ""
            kind = ("llvmlite" if "llvmlite" in name else
                    "libraries" if name.endswith(".so") or ".so." in name else
                    "anon" if name in ("", "[heap]", "[stack]") or name.startswith("[anon")
                    else "mapped files" if name.startswith("/") else "other")
        elif parts[0] == "Rss:":
            out[kind] = out.get(kind, 0.0) + int(parts[1]) / 1024
    return {k: round(v, 1) for k, v in sorted(out.items())}


def _task_stats() -> dict[str, tuple[str, int, int]]:
    """tid -> (thread name, ns on a CPU, times run) for every thread of this process."""
    out = {}
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError, ValueError):
            name = (task / "comm").read_text().strip()
            run_ns, _wait, slices = (task / "schedstat").read_text().split()
            out[task.name] = (name, int(run_ns), int(slices))
    return out


def child(output: str, seconds: float) -> dict[str, Any]:
    """The measured kernel: run in a fresh process (``--child``)."""
    import threading

    t0 = time.monotonic()
    steps: dict[str, float] = {}
    import mos_lab

    steps["import mos_lab"] = _status_kb("VmRSS") / 1024
    s = mos_lab.session(output=output)
    steps["session()"] = _status_kb("VmRSS") / 1024
    eng = s.engine
    eng.wait_ready(120)
    steps["engine ready"] = _status_kb("VmRSS") / 1024
    time.sleep(2.0)  # a fresh kernel: session made, nothing loaded or played
    fresh = {**_mem_mb(), "modules": len(sys.modules)}
    eng.load(SCORE if SCORE.exists() else mos_lab.Score.from_notes(
        [(i * 240, 240, 60 + i % 12, 90) for i in range(64)])).result(60)
    bank = eng.wait_instruments()  # the default SoundFont plays, not the stand-in set
    out = eng.output
    if output == "browser":  # no page: nothing plays; the notebook's idle state
        eng.play()
        time.sleep(0.5)
        eng.stop()
    else:
        eng.play()
        deadline = time.monotonic() + 10
        while eng.position < 1.0 and time.monotonic() < deadline:
            time.sleep(0.05)
        eng.stop()
    steps["played and stopped"] = _status_kb("VmRSS") / 1024
    parked_after = None
    if out.can_park:
        t_stop = time.monotonic()
        while not out.parked and time.monotonic() - t_stop < 15:
            time.sleep(0.02)
        parked_after = round(time.monotonic() - t_stop, 2) if out.parked else None
    time.sleep(0.5)
    start_cpu, start_tasks = time.process_time(), _task_stats()
    samples = []
    for _ in range(max(1, round(seconds))):
        time.sleep(seconds / max(1, round(seconds)))
        samples.append(_status_kb("VmRSS") / 1024)
    cpu = time.process_time() - start_cpu
    end_tasks = _task_stats()
    names = {str(t.native_id): t.name for t in threading.enumerate()}
    per_thread = {}
    for tid, (comm, ns, runs) in end_tasks.items():
        if tid in start_tasks and ns > start_tasks[tid][1]:  # every thread that ran
            _, ns0, runs0 = start_tasks[tid]
            name = names.get(tid, f"native:{comm}")
            per_thread[name] = {"cpu_ms": round((ns - ns0) / 1e6, 2), "runs": runs - runs0}
    mem = _rollup()
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {
        "numba", "llvmlite", "scipy", "IPython", "ipywidgets", "anywidget", "matplotlib",
        "music21", "torch", "wgpu", "pandas", "verovio", "jsonschema", "symusic"})
    result = {
        "output": output, "seconds": seconds, "startup_s": round(time.monotonic() - t0, 2),
        "rss_mb": round(max(samples), 1), "pss_mb": round(mem["pss"] / 1024, 1),
        "private_mb": round(mem["private"] / 1024, 1),
        "private_dirty_mb": round(mem["private_dirty"] / 1024, 1), "rss_steps_mb": steps,
        "cpu_s": round(cpu, 4), "cpu_pct": round(100 * cpu / seconds, 3),
        "threads": sorted(t.name for t in threading.enumerate()),
        "os_threads": len(end_tasks), "engine_threads": per_thread,
        "parked": bool(getattr(out, "parked", False)), "parked_after_s": parked_after,
        "output_state": out.state, "underruns": out.underruns, "heavy_modules": heavy,
        "modules": len(sys.modules), "rss_by_kind_mb": _breakdown(),
        "instruments": getattr(bank, "name", "built-in"),
    }
    result["fresh_mb"] = fresh
    result["first_sound_s"] = _first_sound(eng) if output != "browser" else None
    s.close() if hasattr(s, "close") else eng.close()
    return result


def _first_sound(eng: Any) -> float | None:
    """Seconds from ``play()`` (engine idle, output parked) to the first note heard, less
    that note's own time in the score (the heard position then)."""
    import threading

    heard = threading.Event()
    at: list[tuple[float, float]] = []

    def on_note(ev: Any) -> None:
        if ev.frame is not None and not at:
            at.append((time.monotonic(), eng.position))
            heard.set()

    sub = eng.bus.subscribe("note_on", on_note, weak=False)
    try:
        t0 = time.monotonic()
        eng.play()
        ok = heard.wait(20)
    finally:
        eng.stop()
        sub.dispose()
    if not ok:
        return None
    t, pos = at[0]
    return round(t - t0 - pos, 4)


def _start_jack() -> tuple[subprocess.Popen[bytes] | None, str]:
    """A JACK dummy server of our own (clocked like a sound card), or None."""
    if shutil.which("jackd") is None or shutil.which("jack_wait") is None:
        return None, ""
    name = f"mos-lab-bench-{os.getpid()}"
    proc = subprocess.Popen(["jackd", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            check = subprocess.run(["jack_wait", "-c", "-s", name], env=env, timeout=5,
                                   capture_output=True, text=True)
            if check.stdout.strip() == "running":
                return proc, name
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    return None, ""


def measure(output: str, seconds: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter and return its figures."""
    cmd = [sys.executable, __file__, "--child", output, "--seconds", str(seconds)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    if run.returncode != 0:
        raise RuntimeError(f"{output}: the measured process failed:\n{run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--outputs", default="null,browser,local")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.seconds)))
        return 0
    # Compile (or load) the kernels once first: a cold numba cache would count the compiler.
    subprocess.run([sys.executable, "-c", "from mos_lab.audio import kernels; kernels.warm_up()"],
                   check=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    results = []
    for output in [o.strip() for o in args.outputs.split(",") if o.strip()]:
        env: dict[str, str] = {}
        jack = None
        if output == "local":
            jack, name = _start_jack()
            if jack is None:
                print("local: skipped (jackd not installed or did not start)")
                continue
            env = {"JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1"}
        try:
            results.append(measure(output, args.seconds, env))
        finally:
            if jack is not None:
                jack.terminate()
                jack.wait(5)
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"idle kernel with an engine, transport stopped, {args.seconds:.0f} s sampled "
          f"(load average {os.getloadavg()[0]:.1f}; goal <= 150 MB RSS, no CPU)")
    for r in results:
        eng = ", ".join(f"{n} {v['runs']} runs/{v['cpu_ms']} ms"
                        for n, v in sorted(r["engine_threads"].items()))
        steps = ", ".join(f"{k} {v:.0f}" for k, v in r["rss_steps_mb"].items())
        f = r["fresh_mb"]
        print(f"- {r['output']:8s} fresh (engine ready, nothing loaded): RSS {f['rss']:.0f} MB "
              f"(PSS {f['pss']:.0f}, private {f['private']:.0f}, private dirty "
              f"{f['private_dirty']:.0f}), {f['modules']} modules")
        print(f"  {'':8s} after playing: RSS {r['rss_mb']:.0f} MB (PSS {r['pss_mb']:.0f}, private "
              f"{r['private_mb']:.0f}, private dirty {r['private_dirty_mb']:.0f}); CPU "
              f"{r['cpu_s'] * 1000:.1f} ms = {r['cpu_pct']:.2f} %; "
              f"{r['os_threads']} OS threads; parked: {r['parked']} "
              f"(after {r['parked_after_s']} s); underruns {r['underruns']}")
        if r["first_sound_s"] is not None:
            print(f"    first sound after idle: {r['first_sound_s'] * 1000:.0f} ms after play()")
        print(f"    RSS MB by step: {steps}")
        kinds = ", ".join(f"{k} {v:.0f}" for k, v in r["rss_by_kind_mb"].items())
        print(f"    RSS MB by kind: {kinds}; instruments: {r['instruments']}")
        print(f"    threads that ran: {eng or 'none'}")
        print(f"    Python threads: {', '.join(r['threads'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
