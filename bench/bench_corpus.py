"""Corpus jobs on Dask: the 371 chorales analysed with 1 and 2 worker processes against a
plain loop in the same run (the anchor), then /work/shared/corpus/midi with its broken files.

The chorales come from bench_theory's cache (music21's corpus converted once under
~/.cache/mos_lab/bench/chorales); each is written once as NVX1 JSON into a temporary folder
(not timed) so the job reads files as a user's would. Jobs run on the warm pool that
mos_lab.corpus keeps between jobs, so "job" excludes its one start (shown apart); each
loop and job is run --repeat times and the best shown, with the CPU seconds it used (this
process plus the workers), which a loaded machine does not inflate the way it does wall
time. Run: .venv/bin/python bench/bench_corpus.py [--limit N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_theory import load_chorales

from mos_lab.corpus.jobs import analyze, one_row
from mos_lab.corpus.pool import close_pools, pool
from mos_lab.corpus.tasks import analyze_file

MIDI = Path("/work/shared/corpus/midi")


def _cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes."""
    import psutil

    total = 0.0
    for pid in pids:
        t = psutil.Process(pid).cpu_times()
        total += t.user + t.system
    return total


def _pid() -> int:
    import os

    return os.getpid()


def timed_loop(paths: list[str]) -> tuple[float, float, int]:
    """(seconds, CPU seconds, error rows) of a plain loop in this process."""
    t0, c0 = time.perf_counter(), time.process_time()
    errors = sum(bool(one_row(p, analyze_file, ())["error"]) for p in paths)
    return time.perf_counter() - t0, time.process_time() - c0, errors


def timed_job(paths: list[str], workers: int) -> tuple[float, float, int]:
    """(job seconds, CPU seconds of this process and the workers, error rows) on the warm
    pool of ``workers`` processes."""
    import os

    client = pool(workers)
    pids = [os.getpid(), *client.run(_pid).values()]
    t0, c0 = time.perf_counter(), _cpu(pids)
    table = analyze(paths, workers=workers, progress=False)
    return time.perf_counter() - t0, _cpu(pids) - c0, int((table["error"] != "").sum())


def main() -> None:
    """Print loop vs 1 and 2 workers on the chorales, then the MIDI folder's rows."""
    import os

    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None, help="only the first N chorales")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the best is shown")
    args = ap.parse_args()
    chorales = load_chorales(args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for c in chorales:
            p = Path(tmp) / f"{c.number}.json"
            c.score.save(p)
            paths.append(str(p))
        one_row(paths[0], analyze_file, ())  # compile and load once in this process
        print(f"{len(paths)} chorales, load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores; best of {args.repeat} (wall s, CPU s)")
        for w in (1, 2):
            t0 = time.perf_counter()
            pool(w)  # started (and warmed) once, reused by every job after
            start = time.perf_counter() - t0
            for _ in range(2):
                analyze(paths[:8], workers=w, progress=False)  # first tasks: connections
            loops = [timed_loop(paths) for _ in range(args.repeat)]
            jobs = [timed_job(paths, w) for _ in range(args.repeat)]
            loop, job = min(loops), min(jobs)
            print(f"  plain loop: {loop[0]:.2f} s ({loop[1]:.2f} CPU s, {loop[2]} errors)")
            print(f"  {w} worker(s): job {job[0]:.2f} s ({job[1]:.2f} CPU s in all, "
                  f"{job[2]} errors; pool start {start:.1f} s, once); "
                  f"loop/job = {loop[0] / job[0]:.2f}x")
        close_pools()
    midi = sorted(str(p) for p in MIDI.rglob("*.mid"))
    t0 = time.perf_counter()
    table = analyze(midi, workers=2, progress=False)
    bad = table[table["error"] != ""]
    print(f"{MIDI}: {len(table)} rows in {time.perf_counter() - t0:.1f} s "
          f"(2 workers, with the pool's start), {len(bad)} error rows:")
    for path, err in zip(bad["path"], bad["error"], strict=True):
        print(f"  {Path(path).name}: {err[:100]}")
    close_pools()


if __name__ == "__main__":
    main()
